"""🤼 Memorization vs generalization: the paper's core evidence. Loss-sensitivity Gini (E2), the
critical sample ratio through training (E5) and the per-example memorization clock (E5)."""
import math
from functools import partial

import pandas as pd
import streamlit as st

from explainer import (artifacts as A, charts as C, figdata as D, figures as F, paper, palette as P, tidy as T,
                       ui)

st.title("The match: memorizer vs generalizer", icon="🤼")
st.markdown(
    "In one corner, the memorizer: it knows every training example by heart and bends around each one. In the "
    "other, the generalizer: it learns a handful of broad rules and lets the details slide. Both can post a "
    "perfect training score, so the referee needs other ways to tell them apart. Here are three."
)


# The two definitions of "the loss after t steps" the E2 stage measures (training/sensitivity.py).
E2_PAPER, E2_OTHER = "own+transfer", "transfer"
E2_DEFINITION = {E2_PAPER: "its own loss + through the updates (own+transfer)",
                 E2_OTHER: "through the updates only (transfer)"}
E2_PANEL = {"labels": "digit labels", "own_class": "every digit its own class"}


def gini_round() -> None:
    st.subheader("Round 1: who carries the weight?", icon="🥊")
    st.markdown(
        "Measure how much the training loss depends on each training example. When a network learns patterns, a "
        "few typical examples do most of the teaching and the dependence is lopsided (a high Gini coefficient). "
        "When it memorizes, every example needs its own attention and the dependence is spread evenly (a low Gini)."
    )
    try:
        view = D.gini_view()
    except A.Missing as err:
        ui.missing(err, "The loss-sensitivity experiment (E2)")
        return
    panels = sorted(view["agg"]["panel"].unique())
    panel = panels[0] if len(panels) == 1 else st.segmented_control(
        "Labels", panels, default=panels[0], key="match-gini-panel", format_func=lambda v: E2_PANEL.get(v, v),
        required=True) or panels[0]
    defs = [d for d in (E2_PAPER, E2_OTHER) if d in set(view["agg"]["definition"])] or \
        sorted(view["agg"]["definition"].unique())
    definition = defs[0] if len(defs) == 1 else st.segmented_control(
        "What counts as the loss after t steps", defs, default=defs[0], key="match-gini-definition",
        format_func=lambda v: E2_DEFINITION.get(v, v), required=True) or defs[0]
    st.markdown(
        "The dependence of the loss after t SGD steps on an earlier training example x is found by "
        "differentiating through the unrolled SGD updates. The paper speaks of *the loss after t updates* and of the "
        "effect of each sample on the average loss, and says x's update reaches later losses *indirectly*, through "
        "the later updates on other examples; it does not say whether x's own loss belongs in that loss. So we "
        f"measure both readings: **{E2_PAPER}** counts x through its own forward pass **and** through the updates "
        f"it took part in (its own loss at its time-averaged weight 1/N); **{E2_OTHER}** keeps only the next "
        "minibatch's loss, so x counts only through the updates. The scoreboard judges both and says so when they "
        "disagree."
    )
    agg = view["agg"][(view["agg"]["panel"] == panel) & (view["agg"]["definition"] == definition)]
    last = view["last"][(view["last"]["panel"] == panel) & (view["last"]["definition"] == definition)]
    last = last.sort_values("mean", ascending=False)
    ref = ", ".join(f"{c} {g:.2f}" for c, g in zip(paper.GINI_100K["condition"], paper.GINI_100K["gini"]))
    st.markdown(f"After {int(last['step'].max()):,} SGD steps the Gini coefficients are "
                + ", ".join(f"**{c}** {ui.num(v)}" for c, v in zip(last["condition"], last["mean"]))
                + f". The paper, after 100,000 steps: {ref}.")
    F.gini(agg, panel, definition)
    fitted_note(view["loss"][view["loss"]["panel"] == panel], panel)
    if panel == "labels":
        class_mass(view, definition)


def fitted_note(loss: pd.DataFrame, panel: str) -> None:
    """How far the random-input network has fitted its training set: a low Gini must not just mean 'not learning yet'."""
    rand = loss[loss["condition"] == "random"].sort_values("step")
    if rand.empty:
        return
    n_classes = 10 if panel == "labels" else A.manifest("e2").get("config", {}).get("n_examples")
    chance = f" (guessing scores ln {n_classes} = {ui.num(math.log(n_classes))})" if n_classes else ""
    st.markdown(f"Is the random-input network learning at all? Its loss on its whole training set falls from "
                f"{ui.num(rand['mean'].iloc[0])} at step {int(rand['step'].iloc[0]):,} to "
                f"**{ui.num(rand['mean'].iloc[-1])}** at step {int(rand['step'].iloc[-1]):,}{chance}.")
    colours = F.e2_colours(loss["condition"])
    ui.chart(partial(C.bands, loss, color="condition", scale=P.scale(colours, loss["condition"]), x="step",
                     x_title="SGD steps (log scale)", log_x=True, y_title="training loss (whole training set)",
                     percent=False, y_domain=None),
             caption="Cross-entropy on the whole training set at each measured step, mean ± sd over seeds.",
             data=loss, folder="e2", key=f"match-gini-loss-{panel}")


def class_mass(view: dict, definition: str) -> None:
    """Fig. 4: how much of the sensitivity flows between different classes, for the picked definition."""
    summary, cells = view["summary"], view["matrix"]
    if summary is None or cells is None:
        return
    rows = summary[(summary["panel"] == "labels")].dropna(subset=["off_diagonal"])
    mine = rows[rows["definition"] == definition].set_index("condition")
    if not {"real", "random"} <= set(mine.index):
        return
    real, rand = mine.at["real", "off_diagonal"], mine.at["random", "off_diagonal"]
    start, start_loss = mine.at["random", "matrix_from"], mine.at["random", "matrix_from_loss"]
    late = ((f"; over the second half alone, after step {int(start):,} where the random-input network's loss on "
             f"its training set is {ui.num(start_loss)}: real {ui.pct(mine.at['real', 'off_diagonal_late'], 1)}, random "
             f"{ui.pct(mine.at['random', 'off_diagonal_late'], 1)}")
            if "off_diagonal_late" in mine.columns and pd.notna(start) and pd.notna(start_loss) else "")
    when = "averaged over every measured step of training, as the paper's formula does"
    verdict = _e2b_verdict()
    others = rows[rows["definition"] != definition].set_index("condition")
    other = ""
    if {"real", "random"} <= set(others.index):
        name = others["definition"].iloc[0]
        other = (f" Under the other definition ({name}): real {ui.pct(others.at['real', 'off_diagonal'], 1)}, "
                 f"random {ui.pct(others.at['random', 'off_diagonal'], 1)}.")
    st.markdown(f"And across classes ({when}): the share of sensitivity that flows between *different* classes is "
                f"real {ui.pct(real, 1)}, random {ui.pct(rand, 1)}{late}. {verdict[0].upper()}{verdict[1:]}.{other}")
    F.class_maps(cells, definition)


def _e2b_verdict() -> str:
    """The scoreboard's verdict on Fig. 4 (claim E2b: both definitions, per seed, against the spread)."""
    try:
        claims = A.table("claims", "claims", needs=["id", "verdict", "ours"]).set_index("id")
    except A.Missing:
        return "the scoreboard has not judged this yet"
    if "E2b" not in claims.index:
        return "the scoreboard has not judged this yet"
    return f"the scoreboard's verdict on Fig. 4 is **{claims.at['E2b', 'verdict']}** ({claims.at['E2b', 'ours']})"


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
    st.subheader("Round 2: how wiggly is the boundary?", icon="🥊")
    st.markdown(
        "Take a validation digit and nudge its pixels a tiny bit, searching for a nudge that changes the "
        "network's answer. If such a nudge exists, the digit sits close to a decision boundary: it is a "
        "*critical sample*. The share of critical samples (the **critical sample ratio**, CSR) measures how "
        "wiggly the function is around real data. A memorizer must bend around every noisy example, so its CSR "
        "should climb with the amount of noise.\n\n"
        "The search is the paper's Algorithm 1: small signed-gradient steps plus a little noise, kept inside a box "
        "of ±0.3/255 around each pixel and nowhere else, so a searched image may leave the 0–255 pixel range, as "
        "in the paper. It stops, as the paper's reference code does, once an iteration finds fewer than 20 new "
        "critical samples among all the points searched."
    )
    dataset = ui.dataset_picker("match-dataset", "e5")
    folder = f"e5/{dataset}"
    try:
        agg = D.csr_by_level(folder)
    except A.Missing as err:
        ui.missing(err, "The critical-sample measurements")
        return
    by_p = agg.pivot(index="p", columns="condition", values="mean")
    top = by_p.index.max()
    said = ", ".join(f"{c} {ui.num(by_p.at[0.0, c], 3)} → {ui.num(by_p.at[top, c], 3)}" for c in by_p.columns
                     if 0.0 in by_p.index)
    st.markdown(f"At the end of training, CSR from clean data (p = 0) to p = {top:g}: {said}. "
                "The grey diamonds are the paper's values for its much larger runs.")
    F.csr_levels(agg, dataset, folder)
    try:
        stop = D.csr_without_stop(folder)
    except A.Missing:
        stop = None
    if stop is not None and stop["final_csr_all"].notna().any():
        st.markdown("What the early stop changes: at the final epoch every search also ran all its iterations. "
                    "CSR with the stop → without it, mean over seeds: "
                    + ", ".join(f"{P.KIND_NAME.get(k, k) if k != 'none' else 'clean'}"
                                + (f" p = {p:g}" if k != "none" else "")
                                + f" {ui.num(a, 3)} → {ui.num(b, 3)}"
                                for k, p, a, b in zip(stop["kind"], stop["p"], stop["final_csr"], stop["final_csr_all"]))
                    + f". The early stop ended the searches after {ui.num(stop['final_lass_stop'].min(), 0)}–"
                      f"{ui.num(stop['final_lass_stop'].max(), 0)} iterations (mean over seeds).")
    kind = st.segmented_control("Noise kind over time", ["randY", "randX"], default="randY", key="match-csr-kind",
                                format_func=P.KIND_NAME.get, required=True) or "randY"
    agg_t, levels = D.csr_over_time(folder, kind)
    F.csr_time(agg_t, levels, kind, dataset, folder)


def clock_round() -> None:
    st.subheader("Round 3: the memorization clock", icon="⏰")
    folder = "e5/mnist"
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
            f"are memorized. Before that, the network answers the *true* digit it was never told: in epoch "
            f"{view['true_peak_epoch']}, {ui.pct(view['true_peak'])} of the shuffled digits got their true label."
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
