"""🧪 Experiment time: real labels vs random labels vs random inputs (E5 at full noise), and which
examples are easy or hard across many one-epoch runs (E1)."""
import streamlit as st

from explainer import artifacts as A, charts as C, palette as P, tidy as T, ui

st.title("🧪 Experiment time: feed it nonsense")
st.markdown(
    "Time for the classic stress test. Take one network and train three copies: one on real digits, one on the "
    "same digits with **labels drawn at random** (randY), and one where every **picture is replaced by random "
    "static** that keeps its label (randX). Nothing links the randY labels or the randX pictures to anything, so "
    "there is nothing to understand. Can the network fit them anyway?"
)


def learning_curves() -> None:
    st.subheader("📈 Three training runs, side by side")
    dataset = ui.dataset_picker("exp-dataset", "e5")
    folder = f"e5/{dataset}"
    try:
        curves = A.table(folder, "curves", needs=["kind"], numeric=["seed", "p", "epoch", "train_acc", "val_acc"])
    except A.Missing as err:
        ui.missing(err, "The learning curves")
        return
    full = {"none": 0.0, **{k: max(T.levels(curves, k)) for k in ("randY", "randX") if T.levels(curves, k)}}
    long = T.long_curves(T.at_level(curves, full), {"train_acc": "training set (as labelled)",
                                                    "val_acc": "validation (clean)"})
    agg = T.spread(long, ["condition", "metric", "epoch"], "accuracy")
    train = agg[agg["metric"] == "training set (as labelled)"]
    fit_at = {c: T.first_fit(g, 0.99) for c, g in train.groupby("condition")}
    final_val = agg[agg["metric"] == "validation (clean)"].sort_values("epoch").groupby("condition")["mean"].last()
    last = int(agg["epoch"].max())
    told = [f"**{c}** {'by epoch ' + str(int(e)) if e == e else 'not within ' + str(last) + ' epochs'}"
            for c, e in sorted(fit_at.items(), key=lambda kv: (kv[1] != kv[1], kv[1]))]
    st.markdown(
        "The dashed lines are training accuracy on the labels the network was given; the solid ones are accuracy "
        "on clean validation data. Training accuracy passes 99 % for " + ", ".join(told) + ". "
        f"Validation accuracy at the end: {', '.join(f'{c} {ui.pct(v)}' for c, v in final_val.items())}. "
        "Random data *can* be fitted; it just takes the network longer, and it learns nothing that carries over."
    )
    chart = C.bands(agg, color="condition", scale=P.scale(P.KIND_COLOR, agg["condition"]), dash="metric",
                    y_title="accuracy")
    ui.chart(chart, caption=f"{ui.DATASET_NAME[dataset]}: accuracy per epoch, mean ± sd over seeds (band). "
                            "Click a legend entry to highlight it.",
             data=agg, folder=folder, key=f"exp-curves-{dataset}")


def easy_and_hard() -> None:
    st.subheader("🎯 Easy digits and hard digits")
    st.markdown(
        "Now train the network for exactly **one epoch**, many times over, each time from a fresh start. For every "
        "training example count how often it is classified correctly afterwards. If networks learn shared "
        "patterns, some examples should be learned almost every time and others almost never; if they memorize "
        "one example at a time, all examples should look alike."
    )
    try:
        examples = A.table("e1/mnist10k", "examples", needs=["condition"], numeric=["rank", "p_correct"])
    except A.Missing as err:
        ui.missing(err, "The easy-versus-hard experiment (E1)")
        return
    st.dataframe(examples.head())


learning_curves()
easy_and_hard()
st.page_link("pages/05_regularization.py", label="Next: putting the model on a diet", icon="🛑")
