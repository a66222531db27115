"""🤼 Memorization vs generalization: the paper's core evidence. Loss-sensitivity Gini (E2), the
critical sample ratio through training (E5) and the per-example memorization clock (E5)."""
from functools import partial

import pandas as pd
import streamlit as st

from explainer import artifacts as A, charts as C, paper, palette as P, tidy as T, ui

st.title("🤼 The match: memorizer vs generalizer")
st.markdown(
    "In one corner, the memorizer: it knows every training example by heart and bends around each one. In the "
    "other, the generalizer: it learns a handful of broad rules and lets the details slide. Both can post a "
    "perfect training score, so the referee needs other ways to tell them apart. Here are three."
)


E2_COLORS = {"real": P.BLUE, "50% real": P.p_color(0.5), "random inputs": P.ORANGE, "random": P.ORANGE}


@A.derived
def gini_view() -> dict:
    """Loss-sensitivity Gini per condition and step (mean ± sd over seeds) and the class-matrix shares."""
    gini = A.table("e2", "gini", needs=["condition", "panel"], numeric=["seed", "step", "gini"])
    agg = T.spread(gini, ["panel", "condition", "step"], "gini")
    last = agg[agg["step"] == agg.groupby("panel")["step"].transform("max")]
    out = {"agg": agg, "last": last, "off": None}
    try:
        m = A.table("e2", "matrix", needs=["condition"], numeric=["loss_class", "input_class", "value"])
        off = m.assign(off=m["loss_class"] != m["input_class"]).groupby("condition").apply(
            lambda g: g.loc[g["off"], "value"].sum() / g["value"].sum() if g["value"].sum() else float("nan"))
        out["off"], out["matrix"] = off, m
    except A.Missing:
        pass
    return out


def gini_round() -> None:
    st.subheader("🥊 Round 1: who carries the weight?")
    st.markdown(
        "Measure how much the training loss depends on each training example. When a network learns patterns, a "
        "few typical examples do most of the teaching and the dependence is lopsided (a high Gini coefficient). "
        "When it memorizes, every example needs its own attention and the dependence is spread evenly (a low Gini)."
    )
    try:
        view = gini_view()
    except A.Missing as err:
        ui.missing(err, "The loss-sensitivity experiment (E2)")
        return
    panels = sorted(view["agg"]["panel"].unique())
    names = {"labels": "digit labels", "own_class": "every digit its own class"}
    panel = panels[0] if len(panels) == 1 else st.segmented_control(
        "Labels", panels, default=panels[0], key="match-gini-panel", format_func=lambda v: names.get(v, v),
        required=True) or panels[0]
    agg = view["agg"][view["agg"]["panel"] == panel]
    last = view["last"][view["last"]["panel"] == panel].sort_values("mean", ascending=False)
    ref = ", ".join(f"{c} {g:.2f}" for c, g in zip(paper.GINI_100K["condition"], paper.GINI_100K["gini"]))
    st.markdown(f"After {int(last['step'].max()):,} SGD steps the Gini coefficients are "
                + ", ".join(f"**{c}** {ui.num(v)}" for c, v in zip(last["condition"], last["mean"]))
                + f". The paper, after 100,000 steps: {ref}.")
    colours = {c: E2_COLORS.get(c, P.GREY) for c in agg["condition"].unique()}
    ui.chart(partial(C.bands, agg, color="condition", scale=P.scale(colours, agg["condition"]), x="step",
                     x_title="SGD steps (log scale)", log_x=True, y_title="Gini of loss-sensitivity", percent=False, y_domain=None),
             caption="Gini coefficient of the per-example loss-sensitivity over training steps, mean ± sd over seeds.",
             data=agg, folder="e2", key=f"match-gini-{panel}")
    if view["off"] is not None:
        shares = ", ".join(f"{c} {ui.pct(v)}" for c, v in view["off"].items())
        st.markdown(f"And across classes: the share of sensitivity that flows between *different* classes is {shares}.")


CSR = dict(needs=["kind"], numeric=["seed", "p", "epoch", "csr"])


@A.derived
def csr_by_level(folder: str):
    """Final CSR per noise kind and level; the clean run is the p = 0 point of both kinds."""
    csr = A.table(folder, "csr", **CSR)
    rows = T.with_condition(csr[csr["epoch"] == csr.groupby("run")["epoch"].transform("max")])
    clean, noisy = rows[rows["kind"] == "none"], rows[rows["kind"] != "none"]
    rows = pd.concat([noisy, *[clean.assign(condition=c) for c in noisy["condition"].unique()]])
    return T.spread(rows, ["condition", "p"], "csr")


@A.derived
def csr_over_time(folder: str, kind: str):
    csr = A.table(folder, "csr", **CSR)
    over = csr[csr["kind"].isin([kind, "none"])].assign(level=lambda d: d["p"].map(P.p_name))
    return T.spread(over, ["level", "epoch"], "csr"), sorted(over["p"].unique())


@A.derived
def clock_view(folder: str) -> dict:
    """The memorization clock ordered for drawing, plus the numbers the prose quotes."""
    clock = A.table(folder, "clock", needs=["state", "relabelled"],
                    numeric=["example", "epoch", "true_label", "given_label", "pred"])
    ordered = T.clock_order(clock)
    learned = ordered.drop_duplicates("example").groupby("relabelled")["learned_at"]
    share = T.clock_shares(ordered)
    shuffled = share[share["group"] == "relabelled"]
    truthful = shuffled[shuffled["state"] == "true"].set_index("epoch")["share"]
    return {"segments": T.clock_segments(ordered), "median": learned.median(), "done": learned.apply(lambda s: s.notna().mean()),
            "shuffled": shuffled, "true_peak": float(truthful.max()) if len(truthful) else 0.0,
            "true_peak_epoch": int(truthful.idxmax()) if len(truthful) else 0}


def csr_round() -> None:
    st.subheader("🥊 Round 2: how wiggly is the boundary?")
    st.markdown(
        "Take a validation digit and nudge its pixels a tiny bit, searching for a nudge that changes the "
        "network's answer. If such a nudge exists, the digit sits close to a decision boundary: it is a "
        "*critical sample*. The share of critical samples (the **critical sample ratio**, CSR) measures how "
        "wiggly the function is around real data. A memorizer must bend around every noisy example, so its CSR "
        "should climb with the amount of noise."
    )
    dataset = ui.dataset_picker("match-dataset", "e5")
    folder = f"e5/{dataset}"
    try:
        agg = csr_by_level(folder)
    except A.Missing as err:
        ui.missing(err, "The critical-sample measurements")
        return
    ref = paper.CSR_MNIST_RANDY if dataset.startswith("mnist") else paper.CSR_CIFAR[paper.CSR_CIFAR["kind"] != "none"]
    by_p = agg.pivot(index="p", columns="condition", values="mean")
    top = by_p.index.max()
    said = ", ".join(f"{c} {ui.num(by_p.at[0.0, c], 3)} → {ui.num(by_p.at[top, c], 3)}" for c in by_p.columns
                     if 0.0 in by_p.index)
    st.markdown(f"At the end of training, CSR from clean data (p = 0) to p = {top:g}: {said}. "
                "The grey diamonds are the paper's values for its much larger runs.")
    ui.chart(partial(C.by_level, agg, color="condition", scale=P.scale(P.KIND_COLOR, agg["condition"]),
                     y_title="critical sample ratio (validation)", percent=False, y_domain=None,
                     paper=ref.rename(columns={"csr": "mean"}), paper_y="mean"),
             caption=f"{ui.DATASET_NAME[dataset]}: share of validation points whose prediction flips within a box of "
                     "±0.3/255 per pixel (LASS search), last measurement of each run, mean ± sd over seeds.",
             data=agg, folder=folder, key=f"match-csr-{dataset}")
    kind = st.segmented_control("Noise kind over time", ["randY", "randX"], default="randY", key="match-csr-kind",
                                format_func=P.KIND_NAME.get, required=True) or "randY"
    agg_t, levels = csr_over_time(folder, kind)
    ui.chart(partial(C.bands, agg_t, color="level", scale=P.p_scale(levels), y_title="critical sample ratio",
                     percent=False, y_domain=None),
             caption=f"CSR measured every few epochs during training, {P.KIND_NAME[kind]}, one line per noise level "
                     "(p = 0 is clean data).", data=agg_t, folder=folder, key=f"match-csr-time-{dataset}-{kind}")


def clock_round() -> None:
    st.subheader("🥊 Round 3: the memorization clock ⏰")
    folder = "e5/mnist10k"
    try:
        view = clock_view(folder)
    except A.Missing as err:
        ui.missing(err, "The memorization clock")
        return
    level = A.manifest(folder).get("config", {}).get("clock_p", None)
    med, done = view["median"], view["done"]
    st.markdown(
        "Follow individual training digits through one run with "
        f"{'p = ' + format(level, 'g') + ' of' if level is not None else 'part of'} its labels shuffled. Each row "
        "is one digit, each column an epoch; the colour says whether the network answered the label it was "
        "**given**, the **true** label, or neither. For digits that kept their label the two coincide."
    )
    if True in med.index and False in med.index:
        st.markdown(
            f"Digits with their real label settle for good around epoch **{ui.num(med[False], 0)}** (median); "
            f"shuffled digits around epoch **{ui.num(med[True], 0)}**, and by the end {ui.pct(done[True])} of them "
            f"are memorized. Before that, the network {'often' if view['true_peak'] >= 0.3 else 'sometimes'} answers "
            f"the *true* digit it was never told: in epoch {view['true_peak_epoch']}, {ui.pct(view['true_peak'])} "
            "of the shuffled digits got their true label."
        )
    ui.chart(partial(C.clock, view["segments"]),
             caption="Memorization clock: one row per training digit (top: labels kept, bottom: labels shuffled), "
                     "sorted by the epoch from which the network keeps answering the given label.",
             data=view["segments"], folder=folder, key="match-clock")
    if len(view["shuffled"]):
        ui.chart(partial(C.shares, view["shuffled"]),
                 caption="The shuffled block only: share of its digits answered with the given label, the true "
                         "label, or neither, per epoch.", data=view["shuffled"], folder=folder, key="match-clock-share")


gini_round()
csr_round()
clock_round()
st.page_link("chapters/08_training_time.py", label="Next: when to stop training", icon="⏳")
