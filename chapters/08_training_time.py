"""⏳ Training time: with noisy labels, validation accuracy peaks before the noise is fitted (E5 randY),
so stopping early keeps the patterns and skips the memorizing."""
import pandas as pd
import streamlit as st

from explainer import artifacts as A, figdata as D, figures as F, questions as Q, ui
from explainer import lab

st.title("Knowing when to put the pencil down", icon="⏳")
st.markdown(
    "Cramming has a timeline. At first a student picks up the big ideas, and every hour of study pays off on the "
    "exam. Keep going long after that and the extra hours go into learning the typos in the textbook by heart. "
    "A network trained on partly wrong labels does the same: it learns the real patterns first and memorizes the "
    "wrong labels later. So there is a best moment to stop."
)


def stop_answer(dataset: str, stop: dict, p: float) -> tuple[str, str]:
    """questions.STOP's answer at noise level p as the claims stage judged it (per seed, against the clean runs'
    fall; findings.csv), with this run's best and last epochs."""
    truth, why = ui.answer("STOP", dataset, p)
    return truth, (f"At p = {p:g}: best {ui.pct(stop['best'], 1)} in epoch {stop['best_epoch']}, "
                   f"{ui.pct(stop['final'], 1)} at the end (epoch {stop['last_epoch']}); over the seeds, {why}. Move "
                   "the slider: the more labels are shuffled, the more the finish costs.")


def measured_story() -> None:
    """The measured E5 runs: the stopping point and peak-vs-finish (returns early when E5 is missing)."""
    dataset = ui.dataset_picker("time-dataset", "e5")
    folder = f"e5/{dataset}"
    try:
        noisy = D.noise_levels(folder)
    except A.Missing as err:
        ui.missing(err, "The training-time curves")
        return
    if not noisy:
        ui.missing(A.Missing(f"`artifacts/{folder}/curves.csv` has no random-label (randY) runs", folder),
                   "The training-time curves")
        return

    st.subheader("The rise and fall of validation accuracy", icon="📉")
    pick = ui.guess(f"time-{dataset}", *Q.STOP)
    if pick is None:
        return
    p = st.select_slider("Share of training labels shuffled (p)", options=noisy, value=noisy[len(noisy) // 2],
                         format_func=lambda v: f"{v:.0%}", key="time-p")
    run = D.timeline(folder, p)
    stop = run["stop"]
    falls = ui.answer("STOP", dataset, p)[0].startswith("early")  # the scoreboard's reading (findings.csv)
    st.markdown(
        f"With {p:.0%} of the labels shuffled, validation accuracy tops out at **{ui.pct(stop['best'], 1)} in epoch "
        f"{stop['best_epoch']}**, when the network agrees with only {ui.pct(run['noise_at_stop'])} of the shuffled "
        f"labels. Training on to epoch {stop['last_epoch']} drives that agreement to {ui.pct(run['noise_end'])} and "
        f"validation accuracy {'down ' if falls else ''}to **{ui.pct(stop['final'], 1)}**"
        + (": every extra epoch buys memory, not understanding." if falls else ".")
    )
    left, mid, right = st.columns(3)
    left.metric("Best epoch to stop", stop["best_epoch"])
    mid.metric("Validation kept", ui.pct(stop["best"], 1), delta=f"{100 * (stop['best'] - stop['final']):+.1f} pts vs the end")
    right.metric("Training skipped", ui.pct(stop["saved_share"]), help="Share of the epochs that would not be trained"
                 + (f" (≈ {run['saved_s']:.0f} s of this run's wall-clock)" if run["saved_s"] == run["saved_s"] else ""))

    F.timeline(run, p, dataset, folder)
    ui.reveal(pick, *stop_answer(dataset, stop, p))

    st.subheader("Peak vs finish, for every noise level", icon="🏔️")
    try:
        peak = D.peaks(folder)
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
        F.peaks(peak, dataset, folder)
        fit_table(folder)


def fit_table(folder: str) -> None:
    """When each noise level's training labels were fitted (E5's fit_epoch: the first epoch at the stage's
    fit_target training accuracy on the labels as given), so the peak can be read against the fit."""
    try:
        s = A.table(folder, "summary", needs=["kind"], numeric=["p", "seed", "best_epoch", "final_epoch"])
    except A.Missing:
        return
    target = A.manifest(folder).get("config", {}).get("fit_target")
    rows = []
    for (kind, p), g in s[s["kind"].isin(["none", "randY"])].groupby(["kind", "p"]):
        fit = pd.to_numeric(g["fit_epoch"], errors="coerce")
        rows.append({"labels shuffled": f"{p:.0%}", "runs that fit": f"{int(fit.notna().sum())} of {len(g)}",
                     "fitted in epoch": ui.num(fit.mean(), 0) if fit.notna().any() else f"not within {int(g['final_epoch'].max())}",
                     "best validation in epoch": ui.num(g["best_epoch"].mean(), 0)})
    st.markdown("When the training labels are fitted"
                + (f" (training accuracy on the labels as given reaches {target:.0%}; the paper's curves reach about 100 %)"
                   if isinstance(target, (int, float)) else "") + ", mean over seeds:")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="content")

measured_story()
st.subheader("Try it yourself", icon="🧑‍🔬")
lab.retrain_panel("early-stopping", key="time-live")
st.page_link("chapters/09_model_design.py", label="Next: designing against memorization", icon="🏗️")
