"""🧪 Experiment time: real labels vs random labels vs random inputs (E5 at full noise), and which
examples are easy or hard across many one-epoch runs (E1)."""
from functools import partial

import altair as alt
import numpy as np
import streamlit as st

from explainer import (artifacts as A, charts as C, figdata as D, figures as F, palette as P, questions as Q,
                       tidy as T, ui)
from explainer import lab

st.title("Experiment time: feed it nonsense", icon="🧪")
st.markdown(
    "Time for the classic stress test. Take one network and train three copies: one on real digits, one on the "
    "same digits with **labels drawn at random** (randY), and one where every **picture is replaced by random "
    "static** that keeps its label (randX). Nothing links the randY labels or the randX pictures to anything, so "
    "there is nothing to understand. Can the network fit them anyway?"
)


@A.derived
def three_runs(folder: str):
    """Seed-mean curves of real data and both noise kinds at their highest level, and the final validation
    accuracy of each."""
    curves = A.table(folder, "curves", needs=["kind"], numeric=["seed", "p", "epoch", "train_acc", "val_acc"])
    full = {"none": 0.0, **{k: max(T.levels(curves, k)) for k in ("randY", "randX") if T.levels(curves, k)}}
    long = T.long_curves(T.at_level(curves, full), {"train_acc": "training set (as labelled)",
                                                    "val_acc": "validation (clean)"})
    agg = T.spread(long, ["condition", "metric", "epoch"], "accuracy")
    final_val = agg[agg["metric"] == "validation (clean)"].sort_values("epoch").groupby("condition")["mean"].last()
    return agg, final_val


def verdict(dataset: str) -> str:
    """One sentence on what the three runs show, from the scoreboard's findings (fitted? at chance?)."""
    fitted = {kind: ui.answer(f"fit/{kind}", dataset, 1.0)[0] == "yes" for kind in ("randY", "randX")}
    named = {"randY": "random labels", "randX": "random inputs"}
    if not any(fitted.values()):
        return "Within this budget the network did not fit random data; the paper trained far longer."
    blind = all(ui.answer(f"chance/{kind}", dataset, 1.0)[0] == "yes" for kind in ("randY", "randX"))
    return ("So random data *can* be fitted (" + " and ".join(named[k] for k, f in fitted.items() if f) + ")"
            + (", and what it learns from it does not carry over to new digits: validation accuracy stays at "
               "guessing level." if blind else "."))


def faster_answer(dataset: str) -> tuple[str, str]:
    """questions.FASTER's answer as the claims stage judged it (per seed, against the spread)."""
    truth, why = ui.answer("FASTER", dataset)
    return truth, f"{why[0].upper()}{why[1:]}." + (
        " Random pictures are points far apart from each other, easy to separate one by one; shuffled labels "
        "contradict the shapes that similar pictures share." if truth == "pure static" else "")


def learning_curves() -> None:
    st.subheader("Three training runs, side by side", icon="📈")
    dataset = ui.dataset_picker("exp-dataset", "e5")
    folder = f"e5/{dataset}"
    try:
        agg, final_val = three_runs(folder)
    except A.Missing as err:
        ui.missing(err, "The learning curves")
        return
    pick = ui.guess(f"exp-faster-{dataset}", *Q.FASTER)
    if pick is None:
        return
    st.markdown(
        "The dashed lines are training accuracy on the labels the network was given; the solid ones are accuracy "
        f"on clean validation data. {ui.answer('FASTER', dataset)[1].capitalize()}. "
        f"Validation accuracy at the end: {', '.join(f'{c} {ui.pct(v)}' for c, v in final_val.items())}. "
        + verdict(dataset)
    )
    chart = partial(C.bands, agg, color="condition", scale=P.scale(P.KIND_COLOR, agg["condition"]), dash="metric",
                    dash_scale=alt.Scale(domain=["training set (as labelled)", "validation (clean)"],
                                         range=[[6, 4], [1, 0]]), y_title="accuracy")
    ui.chart(chart, caption=f"{ui.DATASET_NAME[dataset]}: accuracy per epoch, mean ± sd over seeds (band). "
                            "Click a legend entry to highlight it.",
             data=agg, folder=folder, key=f"exp-curves-{dataset}")
    ui.reveal(pick, *faster_answer(dataset))


def easy_and_hard() -> None:
    st.subheader("Easy digits and hard digits", icon="🎯")
    st.markdown(
        "Now train the network for exactly **one epoch**, many times over, each time from a fresh start. For every "
        "training example count how often it is classified correctly afterwards. If networks learn shared "
        "patterns, some examples should be learned almost every time and others almost never; if they memorize "
        "one example at a time, all examples should look alike."
    )
    dataset = ui.dataset_picker("exp-e1-dataset", "e1")
    folder = f"e1/{dataset}"
    try:
        d = D.difficulty(folder)
    except A.Missing as err:
        ui.missing(err, "The easy-versus-hard experiment (E1)")
        return
    q, means = d["quantiles"], d["means"]
    parts = []
    said = {key: ui.answer(key, dataset)[0] for key in ("E1a", "E1b", "E1c")}  # the scoreboard's per-data-set reading
    if "real" in q.index:
        parts.append(f"On **real** data P(correct) runs from {ui.pct(q.at['real', 0.05])} (5th percentile) to "
                     f"{ui.pct(q.at['real', 0.95])} (95th)"
                     + (": some examples are easy, some are hard." if said["E1a"] == "yes" else "."))
    if "randX" in means.index:
        parts.append(f"With **random inputs** the examples bunch around their mean of {ui.pct(means['randX'])}"
                     + (", close to the grey binomial curve that pure chance would draw once each digit's label "
                        "frequency is allowed for: as if every example of a label were equally hard."
                        if said["E1b"] == "yes" else
                        f"; the grey binomial curve of pure chance is up to {ui.pct(d['gap'])} away."
                        if d["gap"] == d["gap"] else "."))
    if "randY" in q.index and "randX" in q.index:
        parts.append(f"**Random labels** reach {ui.pct(q.at['randY', 0.99])} at the 99th percentile against "
                     f"{ui.pct(q.at['randX', 0.99])} for random inputs"
                     + (": a few randomly labelled examples get learned more often than chance alone would allow."
                        if said["E1c"] == "yes" else
                        ", a difference inside what 100 runs can resolve." if said["E1c"] == "not resolved" else "."))
    st.markdown(" ".join(parts))
    F.easy_hard(d, dataset, folder)
    try:
        gallery = A.arrays(folder, "gallery", needs=["images"])
    except A.Missing:
        return
    group = gallery.get("group")
    picks = (np.concatenate([np.flatnonzero(group == "easy")[:6], np.flatnonzero(group == "hard")[:6]])
             if group is not None else np.arange(min(12, len(gallery["images"]))))
    caps = [f"{group[i] if group is not None else ''} · P {gallery['p_correct'][i]:.2f}" if "p_correct" in gallery
            else None for i in picks]
    st.markdown("The six easiest and the six hardest real examples (P = share of runs that got it right):")
    ui.digits(gallery["images"][picks], caps if all(caps) else None,
              [f"training digit {gallery['label'][i] if 'label' in gallery else ''}, {c or ''}" for i, c in zip(picks, caps)],
              width=72)


learning_curves()
easy_and_hard()
st.subheader("Try it yourself", icon="🧑‍🔬")
lab.retrain_panel("twin", key="exp-live")
st.page_link("chapters/05_regularization.py", label="Next: putting the model on a diet", icon="🛑")
