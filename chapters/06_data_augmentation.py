"""🦸 Data augmentation: exercise for the model. Rotations, pixel noise and intensity/colour jitter
make every epoch show slightly different pictures; how does that slow the fitting of random labels and
change clean accuracy?"""
from functools import partial

import altair as alt
import pandas as pd
import streamlit as st

from explainer import artifacts as A, charts as C, palette as P, questions as Q, tidy as T, ui
from explainer import lab

SUMMARY = dict(needs=["augment", "kind"], numeric=["seed", "p", "strength", "final_train_acc", "best_val_acc"])


def setting(augment: str, strength: float) -> str:
    return "none" if augment == "none" else f"{P.AUG_NAME.get(augment, augment)} {strength:g}"


@A.derived
def outcomes(folder: str) -> dict:
    """Per augmentation setting: random-label training accuracy (memorized) and real-label best validation
    accuracy (generalized), mean ± sd over seeds."""
    s = A.table(folder, "summary", **SUMMARY)
    s = s.assign(setting=[setting(a, v) for a, v in zip(s["augment"], s["strength"])])
    rnd = s[s["p"] == 1.0].assign(measure="random labels: training accuracy", acc=lambda d: d["final_train_acc"])
    real = s[s["p"] == 0.0].assign(measure="real labels: best validation accuracy", acc=lambda d: d["best_val_acc"])
    agg = T.spread(pd.concat([rnd, real], ignore_index=True), ["setting", "measure"], "acc")
    order = ["none"] + sorted(set(agg["setting"]) - {"none"})
    return {"agg": agg, "order": order, "table": agg.pivot(index="setting", columns="measure", values="mean")}


@A.derived
def random_label_curves(folder: str):
    c = A.table(folder, "curves", needs=["augment", "kind"], numeric=["seed", "p", "strength", "epoch", "train_acc"])
    rand = c[c["p"] == 1.0].copy()                                                   # every label random
    rand["family"] = rand["augment"].map(lambda a: P.AUG_NAME.get(a, a))
    rand["strength_rank"] = rand.groupby("augment")["strength"].rank(method="dense").map(
        lambda r: "weaker" if r == 1 else "stronger")
    rand.loc[rand["augment"] == "none", "strength_rank"] = "weaker"
    return T.spread(rand, ["family", "strength_rank", "strength", "epoch"], "train_acc")


st.title("Data augmentation: a workout for the model", icon="🦸")
st.markdown(
    "Here is a trick a crammer hates: never show the same exercise twice. Tilt the digit a little, sprinkle some "
    "pixel noise on it, turn the brightness or the colours up or down. The *meaning* of a real picture survives "
    "all of that, so a pattern learner barely notices. A memorizer, on the other hand, keyed each answer to the "
    "exact pixels, and now the pixels keep moving.\n\n"
    "So augmentation should make random labels harder to store while leaving real labels learnable. Let's check."
)

def aug_answer(dataset: str, mem) -> tuple[str, str]:
    """questions.AUGMENT's answer as the claims stage judged it (per seed, against the spread; findings.csv)."""
    truth, why = ui.answer("AUGMENT", dataset)
    others = mem.drop("none")
    return truth, (f"Random-label training accuracy at the end: {ui.pct(mem['none'])} without augmentation, "
                   f"{ui.pct(others.min())}–{ui.pct(others.max())} with it. Per seed, at each augmentation's strongest "
                   f"setting: {why}. A label now has to stick to a picture that never looks the same twice.")


def measured_story() -> None:
    """The measured augmentation runs (returns early when their artifacts are missing)."""
    dataset = ui.dataset_picker("aug-dataset", "augment")
    folder = f"augment/{dataset}"
    try:
        out = outcomes(folder)
    except A.Missing as err:
        ui.missing(err, "The augmentation experiment")
        return

    try:
        gallery = A.arrays(folder, "augment_gallery", needs=["images", "augmented", "augment", "strength"])
    except A.Missing:
        gallery = None
    if gallery is not None:
        st.subheader("The same digits, stretched", icon="🤸")
        n = min(6, gallery["images"].shape[0])
        rows = [gallery["images"][:n]] + [gallery["augmented"][k, 0, :n] for k in range(len(gallery["augment"]))]
        names = ["original"] + [setting(str(a), float(v)) for a, v in zip(gallery["augment"], gallery["strength"])]
        cols = st.columns(2)
        for i, (row, name) in enumerate(zip(rows, names)):
            with cols[i % 2]:
                ui.picture(ui.mosaic(row, n), name, f"{n} training images, {name}")
        st.caption("The first few training images as the network sees them: the original, then one random draw of each "
                   "augmentation setting (a new draw every time the image comes round).")

    st.subheader("Memorizing while the pictures move", icon="🏃")
    table = out["table"]
    mem = table.get("random labels: training accuracy")
    gen = table.get("real labels: best validation accuracy")
    pick = ui.guess(f"aug-{dataset}", *Q.AUGMENT) if mem is not None and "none" in mem.index else ""
    if pick is None:
        return
    if mem is not None and "none" in mem.index:
        others = mem.drop("none").sort_values()
        st.markdown(
            f"Without augmentation the network fits **{ui.pct(mem['none'])}** of the random labels by the end. "
            + (f"With augmentation its settings end between {ui.pct(others.iloc[0])} ({others.index[0]}) and "
               f"{ui.pct(others.iloc[-1])} ({others.index[-1]}); every setting's number is printed on its bar below, "
               "and whether the difference is beyond the seed spread is the answer under the chart. "
               if len(others) else "")
            + ("On real labels the best validation accuracy moves from " + ui.pct(gen["none"])
               + " without augmentation to between " + ui.pct(gen.drop("none").min()) + " and "
               + ui.pct(gen.drop("none").max()) + " with it." if gen is not None and "none" in gen.index and len(gen) > 1 else "")
        )
    scale = P.scale({"random labels: training accuracy": P.MAGENTA, "real labels: best validation accuracy": P.TEAL},
                    out["agg"]["measure"])
    ui.chart(partial(C.grouped_bars, out["agg"], x="setting", color="measure", scale=scale, y_title="accuracy",
                     x_order=out["order"]),
             caption="Per augmentation setting: training accuracy reached on random labels (memorization; lower = harder "
                     "to cram) and best validation accuracy with real labels (generalization); mean ± sd over seeds.",
             data=out["agg"], folder=folder, key=f"aug-bars-{dataset}")
    if mem is not None and "none" in mem.index:
        ui.reveal(pick, *aug_answer(dataset, mem))

    try:
        agg = random_label_curves(folder)
    except A.Missing as err:
        ui.missing(err, "The augmentation learning curves")
    else:
        ui.chart(partial(C.bands, agg, color="family", scale=P.scale(P.AUG_COLOR, agg["family"]), dash="strength_rank",
                         dash_scale=alt.Scale(domain=["weaker", "stronger"], range=[[1, 0], [6, 4]]),
                         y_title="training accuracy, random labels"),
                 caption="Training accuracy on random labels per epoch for each augmentation (solid: the weaker setting, "
                         "dashed: the stronger), mean ± sd over seeds: the flatter the line, the harder the cramming.",
                 data=agg, folder=folder, key=f"aug-curves-{dataset}")


measured_story()
st.subheader("Try it yourself", icon="🧑‍🔬")
lab.retrain_panel("augmentation", key="aug-live")
st.page_link("chapters/07_memorization_vs_generalization.py", label="Next: the big match", icon="🤼")
