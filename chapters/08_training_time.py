"""⏳ Training time: with noisy labels, validation accuracy peaks before the noise is fitted (E5 randY),
so stopping early keeps the patterns and skips the memorizing."""
from functools import partial

import streamlit as st

from explainer import artifacts as A, charts as C, paper, palette as P, questions as Q, tidy as T, ui

CURVES = dict(needs=["kind"], numeric=["seed", "p", "epoch", "train_acc_clean", "train_acc_corrupted", "val_acc"])


@A.derived
def noise_levels(folder: str) -> list[float]:
    """The randY levels worth a slider: partial noise first (p = 1 has no clean examples to keep)."""
    levels = T.levels(A.table(folder, "curves", **CURVES), "randY")
    return [p for p in levels if p < 1.0] or levels


@A.derived
def timeline(folder: str, p: float) -> dict:
    """Seed-mean curves of one randY level and where early stopping would stop."""
    runs = T.at_level(A.table(folder, "curves", **CURVES), {"randY": p})
    long = T.long_curves(runs, {"train_acc_clean": "clean training examples",
                                "train_acc_corrupted": "relabelled training examples",
                                "val_acc": "validation (clean)"})
    agg = T.spread(long, ["metric", "epoch"], "accuracy")
    stop = T.early_stop(agg[agg["metric"] == "validation (clean)"])
    noise = agg[agg["metric"] == "relabelled training examples"].set_index("epoch")["mean"]
    seconds = runs.groupby("epoch")["seconds"].mean() if "seconds" in runs else None
    saved = float(seconds.iloc[-1] - seconds.get(stop["best_epoch"], 0.0)) if seconds is not None else float("nan")
    return {"agg": agg, "stop": stop, "noise_at_stop": noise.get(stop["best_epoch"]), "noise_end": noise.iloc[-1],
            "saved_s": saved}


@A.derived
def peaks(folder: str) -> dict:
    """Best and last-epoch validation accuracy per randY level (p = 0: clean)."""
    summary = A.table(folder, "summary", needs=["kind"], numeric=["seed", "p", "best_val_acc", "final_val_acc"])
    rows = summary[summary["kind"].isin(["none", "randY"])].melt(
        id_vars=["seed", "p"], value_vars=["best_val_acc", "final_val_acc"], var_name="when", value_name="acc")
    rows["when"] = rows["when"].map({"best_val_acc": "best epoch", "final_val_acc": "last epoch"})
    agg = T.spread(rows, ["when", "p"], "acc")
    gaps = agg.pivot(index="p", columns="when", values="mean")
    return {"agg": agg, "gap": gaps["best epoch"] - gaps["last epoch"], "gaps": gaps}


st.title("⏳ Knowing when to put the pencil down")
st.markdown(
    "Cramming has a timeline. At first a student picks up the big ideas, and every hour of study pays off on the "
    "exam. Keep going long after that and the extra hours go into learning the typos in the textbook by heart. "
    "A network trained on partly wrong labels does the same: it learns the real patterns first and memorizes the "
    "wrong labels later. So there is a best moment to stop."
)


def stop_answer(stop: dict, p: float) -> tuple[str, str]:
    """The measured answer to questions.STOP at noise level p, from the validation curve's best and last epochs."""
    drop = stop["best"] - stop["final"]
    # best >= final always; a drop of more than half a point means stopping early pays
    truth = "early, before it memorizes the shuffled labels" if drop > 0.005 else "at the end, once it fits everything"
    return truth, (f"At p = {p:g}: best {ui.pct(stop['best'], 1)} in epoch {stop['best_epoch']}, "
                   f"{ui.pct(stop['final'], 1)} at the end (epoch {stop['last_epoch']}). Move the slider: the more labels "
                   "are shuffled, the more the finish costs.")


def measured_story() -> None:
    """The measured E5 runs: the stopping point and peak-vs-finish (returns early when E5 is missing)."""
    dataset = ui.dataset_picker("time-dataset", "e5")
    folder = f"e5/{dataset}"
    try:
        noisy = noise_levels(folder)
    except A.Missing as err:
        ui.missing(err, "The training-time curves")
        return
    if not noisy:
        ui.missing(A.Missing(f"`artifacts/{folder}/curves.csv` has no random-label (randY) runs", folder),
                   "The training-time curves")
        return

    st.subheader("📉 The rise and fall of validation accuracy")
    pick = ui.guess(f"time-{dataset}", *Q.STOP)
    if pick is None:
        return
    p = st.select_slider("Share of training labels shuffled (p)", options=noisy, value=noisy[len(noisy) // 2],
                         format_func=lambda v: f"{v:.0%}", key="time-p")
    run = timeline(folder, p)
    agg, stop = run["agg"], run["stop"]
    falls = stop["final"] < stop["best"] - 0.005
    st.markdown(
        f"With {p:.0%} of the labels shuffled, validation accuracy tops out at **{ui.pct(stop['best'], 1)} in epoch "
        f"{stop['best_epoch']}**, when the network agrees with only {ui.pct(run['noise_at_stop'])} of the shuffled "
        f"labels. Training on to epoch {stop['last_epoch']} drives that agreement to {ui.pct(run['noise_end'])} and "
        f"validation accuracy {'down ' if falls else ''}to **{ui.pct(stop['final'], 1)}**"
        + (": every extra epoch buys memory, not understanding." if falls else ".")
    )
    left, mid, right = st.columns(3)
    left.metric("🛑 Best epoch to stop", stop["best_epoch"])
    mid.metric("Validation kept", ui.pct(stop["best"], 1), delta=f"{100 * (stop['best'] - stop['final']):+.1f} pts vs the end")
    right.metric("Training skipped", ui.pct(stop["saved_share"]), help="Share of the epochs that would not be trained"
                 + (f" (≈ {run['saved_s']:.0f} s of this run's wall-clock)" if run["saved_s"] == run["saved_s"] else ""))

    def marked_curves():
        curves = C.bands(agg, color="metric", scale=P.scale(P.SPLIT_COLOR, agg["metric"]), y_title="accuracy")
        return C.epoch_marker(curves, stop["best_epoch"], f"stop here: {ui.pct(stop['best'], 1)}")

    ui.chart(marked_curves, caption=f"{ui.DATASET_NAME[dataset]}, random labels at p = {p:g}: accuracy on the training "
                                    "examples that kept their label, on those whose label was shuffled (agreement with the "
                                    "shuffled label), and on clean validation data; mean ± sd over seeds. The dashed rule "
                                    "marks the epoch of best mean validation accuracy.",
             data=agg, folder=folder, key=f"time-curves-{dataset}-{p:g}")
    ui.reveal(pick, *stop_answer(stop, p))

    st.subheader("🏔️ Peak vs finish, for every noise level")
    try:
        peak = peaks(folder)
    except A.Missing as err:
        ui.missing(err, "The peak-versus-finish summary")
    else:
        gap, gaps = peak["gap"], peak["gaps"]
        st.markdown(
            "Repeat for every noise level and compare the best validation accuracy with the one at the end of "
            f"training. The gap is smallest at p = {gap.idxmin():g} ({100 * gap.min():.1f} points) and widest at "
            f"p = {gap.idxmax():g}: {ui.pct(gaps.at[gap.idxmax(), 'best epoch'], 1)} at the peak against "
            f"{ui.pct(gaps.at[gap.idxmax(), 'last epoch'], 1)} at the end. The grey diamonds are the paper's MNIST "
            "numbers after 100 epochs."
        )
        ref = paper.VAL_MNIST_RANDY.melt(id_vars=["p"], value_vars=["best_val_acc", "final_val_acc"], value_name="mean")
        scale = P.scale({"best epoch": P.TEAL, "last epoch": P.MAGENTA}, peak["agg"]["when"])
        ui.chart(partial(C.by_level, peak["agg"], color="when", scale=scale, y_title="validation accuracy",
                         paper=ref if dataset.startswith("mnist") else None, paper_y="mean"),
                 caption="Validation accuracy at its best epoch and at the last epoch, per share of shuffled labels "
                         "(p = 0: clean), mean ± sd over seeds.", data=peak["agg"], folder=folder, key=f"time-peak-{dataset}")


measured_story()
st.subheader("🧑‍🔬 Try it yourself")
from explainer import live  # noqa: E402  (torch is imported only when Train is clicked)
live.retrain_panel("early-stopping", key="time-live")
st.page_link("chapters/09_model_design.py", label="Next: designing against memorization", icon="🏗️")
