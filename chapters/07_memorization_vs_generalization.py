"""🤼 Memorization vs generalization: the paper's core evidence. Loss-sensitivity Gini (E2), the
critical sample ratio through training (E5) and the per-example memorization clock (E5)."""
import pandas as pd
import streamlit as st

from explainer import artifacts as A, charts as C, paper, palette as P, tidy as T, ui

st.title("🤼 The match: memorizer vs generalizer")
st.markdown(
    "In one corner, the memorizer: it knows every training example by heart and bends around each one. In the "
    "other, the generalizer: it learns a handful of broad rules and lets the details slide. Both can post a "
    "perfect training score, so the referee needs other ways to tell them apart. Here are three."
)


def gini_round() -> None:
    st.subheader("🥊 Round 1: who carries the weight?")
    st.markdown(
        "Measure how much the training loss depends on each training example. When a network learns patterns, a "
        "few typical examples do most of the teaching and the dependence is lopsided (a high Gini coefficient). "
        "When it memorizes, every example needs its own attention and the dependence is spread evenly (a low Gini)."
    )
    try:
        gini = A.table("e2", "gini", needs=["condition", "panel"], numeric=["seed", "step", "gini"])
    except A.Missing as err:
        ui.missing(err, "The loss-sensitivity experiment (E2)")
        return
    st.dataframe(gini.head())


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
        csr = A.table(folder, "csr", needs=["kind"], numeric=["seed", "p", "epoch", "csr"])
    except A.Missing as err:
        ui.missing(err, "The critical-sample measurements")
        return
    last = csr[csr["epoch"] == csr.groupby("run")["epoch"].transform("max")]
    rows = T.with_condition(last)
    clean = rows[rows["kind"] == "none"]
    noisy = rows[rows["kind"] != "none"]
    # the clean run is the p = 0 point of both noise kinds
    rows = pd.concat([noisy, *[clean.assign(condition=c) for c in noisy["condition"].unique()]])
    agg = T.spread(rows, ["condition", "p"], "csr")
    ref = paper.CSR_MNIST_RANDY if dataset.startswith("mnist") else paper.CSR_CIFAR[paper.CSR_CIFAR["kind"] != "none"]
    by_p = agg.pivot(index="p", columns="condition", values="mean")
    top = by_p.index.max()
    said = ", ".join(f"{c} {ui.num(by_p.at[0.0, c], 3)} → {ui.num(by_p.at[top, c], 3)}" for c in by_p.columns
                     if 0.0 in by_p.index)
    st.markdown(f"At the end of training, CSR from clean data (p = 0) to p = {top:g}: {said}. "
                "The grey diamonds are the paper's values for its much larger runs.")
    chart = C.by_level(agg, color="condition", scale=P.scale(P.KIND_COLOR, agg["condition"]),
                       y_title="critical sample ratio (validation)", percent=False, y_domain=None,
                       paper=ref.rename(columns={"csr": "mean"}), paper_y="mean")
    ui.chart(chart, caption=f"{ui.DATASET_NAME[dataset]}: share of validation points whose prediction flips within a "
                            "±0.3/255 box (LASS search), last measurement of each run, mean ± sd over seeds.",
             data=agg, folder=folder, key=f"match-csr-{dataset}")
    kind = st.segmented_control("Noise kind over time", ["randY", "randX"], default="randY", key="match-csr-kind",
                                format_func=P.KIND_NAME.get, required=True) or "randY"
    over = csr[(csr["kind"] == kind) | (csr["kind"] == "none")].copy()
    over["level"] = over["p"].map(P.p_name)
    agg_t = T.spread(over, ["level", "epoch"], "csr")
    chart_t = C.bands(agg_t, color="level", scale=P.p_scale(over["p"]), y_title="critical sample ratio",
                      percent=False, y_domain=None)
    ui.chart(chart_t, caption=f"CSR measured every few epochs during training, {P.KIND_NAME[kind]}, one line per "
                              "noise level (p = 0 is clean data).",
             data=agg_t, folder=folder, key=f"match-csr-time-{dataset}-{kind}")


def clock_round() -> None:
    st.subheader("🥊 Round 3: the memorization clock ⏰")
    folder = "e5/mnist10k"
    try:
        clock = A.table(folder, "clock", needs=["state", "relabelled"], numeric=["example", "epoch", "true_label",
                                                                                 "given_label", "pred"])
    except A.Missing as err:
        ui.missing(err, "The memorization clock")
        return
    m = A.manifest(folder)
    level = m.get("config", {}).get("clock_p", None)
    ordered = T.clock_order(clock)
    learned = ordered.drop_duplicates("example").groupby("relabelled")["learned_at"]
    med = learned.median()
    done = learned.apply(lambda s: s.notna().mean())
    st.markdown(
        "Follow individual training digits through one run with "
        f"{'p = ' + format(level, 'g') + ' of' if level is not None else 'part of'} its labels shuffled. Each row "
        "is one digit, each column an epoch; the colour says whether the network answered the label it was "
        "**given**, the **true** label, or neither. For digits that kept their label the two coincide."
    )
    if True in med.index and False in med.index:
        st.markdown(
            f"Digits with their real label settle (for good) around epoch **{ui.num(med[False], 0)}** (median); "
            f"shuffled digits around epoch **{ui.num(med[True], 0)}**, and by the end {ui.pct(done[True])} of them "
            "are memorized. Watch the shuffled block: early on many of its rows are blue — the network answers "
            "the *true* digit it was never told — before the magenta of rote memory creeps in."
        )
    ui.chart(C.clock(ordered),
             caption="Memorization clock: one row per training digit (top: labels kept, bottom: labels shuffled), "
                     "sorted by the epoch from which the network keeps answering the given label.",
             data=ordered, folder=folder, key="match-clock")
    share = T.clock_shares(ordered)
    shuffled = share[share["group"] == "relabelled"]
    if len(shuffled):
        ui.chart(C.shares(shuffled),
                 caption="The shuffled block only: share of its digits answered with the given label, the true "
                         "label, or neither, per epoch.", data=shuffled, folder=folder, key="match-clock-share")


gini_round()
csr_round()
clock_round()
st.page_link("pages/08_training_time.py", label="Next: when to stop training", icon="⏳")
