"""🦸 Data augmentation: exercise for the model. Rotations, pixel noise and colour/intensity jitter
make every epoch show slightly different pictures; how does that slow the fitting of random labels and
change clean accuracy?"""
import streamlit as st

from explainer import artifacts as A, charts as C, palette as P, tidy as T, ui

st.title("🦸 Data augmentation: a workout for the model")
st.markdown(
    "Here is a trick a crammer hates: never show the same exercise twice. Tilt the digit a little, sprinkle some "
    "pixel noise on it, turn the brightness or the colours up or down. The *meaning* of a real picture survives "
    "all of that, so a pattern learner barely notices. A memorizer, on the other hand, keyed each answer to the "
    "exact pixels, and now the pixels keep moving.\n\n"
    "So augmentation should make random labels harder to store while leaving real labels learnable. Let's check."
)

dataset = ui.dataset_picker("aug-dataset", "augment")
folder = f"augment/{dataset}"
try:
    summary = A.table(folder, "summary", needs=["labels", "augment"], numeric=["seed", "final_train_acc", "best_val_acc"])
except A.Missing as err:
    ui.missing(err, "The augmentation experiment")
    st.stop()

try:
    gallery = A.arrays(folder, "gallery", needs=["images"])
except A.Missing:
    gallery = None
if gallery is not None:
    st.subheader("🤸 The same digit, stretched")
    names = gallery.get("augment", gallery.get("name"))
    caps = [str(n) for n in names] if names is not None and len(names) == len(gallery["images"]) else None
    ui.digits(gallery["images"][:16], caps, [f"augmented training image ({c})" if caps else "augmented training image"
                                             for c in (caps or [""] * len(gallery["images"][:16]))], width=84)
    st.caption("Training images as the network sees them under each augmentation (one random draw).")

st.subheader("🏃 Memorizing while the pictures move")
rows = summary.melt(id_vars=["augment", "seed", "labels"], value_vars=["final_train_acc", "best_val_acc"],
                    var_name="measure", value_name="acc")
rows = rows[((rows["labels"] == "random") & (rows["measure"] == "final_train_acc"))
            | ((rows["labels"] == "real") & (rows["measure"] == "best_val_acc"))]
rows["measure"] = rows["labels"].map({"random": "random labels: training accuracy",
                                      "real": "real labels: best validation accuracy"})
agg = T.spread(rows, ["augment", "measure"], "acc")
table = agg.pivot(index="augment", columns="measure", values="mean")
mem = table.get("random labels: training accuracy")
if mem is not None and "none" in mem.index:
    slower = [a for a in mem.index if a != "none" and mem[a] < mem["none"]]
    st.markdown(
        f"Without augmentation the network fits **{ui.pct(mem['none'])}** of the random labels by the end. "
        + (f"With augmentation it fits less: " + ", ".join(f"{a} {ui.pct(mem[a])}" for a in slower) + ". "
           if slower else "None of the augmentations lowered that here. ")
        + "On real labels the best validation accuracy reads: "
        + ", ".join(f"{a} {ui.pct(v)}" for a, v in table.get("real labels: best validation accuracy", {}).items()) + "."
    )
scale = P.scale({"random labels: training accuracy": P.MAGENTA, "real labels: best validation accuracy": P.TEAL},
                agg["measure"])
ui.chart(C.grouped_bars(agg, x="augment", color="measure", scale=scale, y_title="accuracy"),
         caption="Per augmentation: training accuracy reached on random labels (memorization, lower = harder to "
                 "cram) and best validation accuracy with real labels (generalization); mean ± sd over seeds.",
         data=agg, folder=folder, key=f"aug-bars-{dataset}")

try:
    curves = A.table(folder, "curves", needs=["labels", "augment"], numeric=["seed", "epoch", "train_acc"])
except A.Missing as err:
    ui.missing(err, "The augmentation learning curves")
else:
    rand = curves[curves["labels"] == "random"]
    agg_t = T.spread(rand, ["augment", "epoch"], "train_acc")
    colours = {a: c for a, c in zip(sorted(agg_t["augment"].unique()), [P.GREY, P.TEAL, P.CYAN, P.ORANGE, P.BLUE, P.RED])}
    colours["none"] = P.GREY
    ui.chart(C.bands(agg_t, color="augment", scale=P.scale(colours, agg_t["augment"]),
                     y_title="training accuracy, random labels"),
             caption="Training accuracy on random labels per epoch for each augmentation (mean ± sd over seeds): "
                     "the flatter the line, the harder the cramming.", data=agg_t, folder=folder,
             key=f"aug-curves-{dataset}")

st.page_link("pages/07_memorization_vs_generalization.py", label="Next: the big match", icon="🤼")
