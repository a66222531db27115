"""📊 Factors that make models memorize: capacity under noise (E3) and time to fit by width and by
data size (E4)."""
from functools import partial

import streamlit as st

from explainer import artifacts as A, charts as C, paper, palette as P, questions as Q, tidy as T, ui

st.title("📊 What makes a model cram?")
st.markdown(
    "Three ingredients tip a student towards rote learning: **too few exercises** (it is easier to remember ten "
    "answers than to find the rule behind them), **a huge memory** (more parameters than needed), and **messy "
    "material** (answers that follow no pattern). Bigger is not automatically better, and how much bigger helps "
    "depends on the data. Two sweeps measure it."
)


@A.derived
def capacity_table(folder: str):
    """Best validation accuracy per width and level; the narrowest width within half a point of each level's best."""
    summary = A.table(folder, "summary", numeric=["seed", "width", "p", "best_val_acc"])
    agg = T.spread(summary.assign(level=summary["p"].map(P.p_name)), ["level", "p", "width"], "best_val_acc")
    means = agg.pivot(index="width", columns="p", values="mean")
    need = {p: int(means.index[(means[p] >= means[p].max() - 0.005).to_numpy()].min()) for p in means.columns}
    return agg, means, need


@A.derived
def fit_times(folder: str, x: str):
    """Normalised epochs to fit per condition and value of the swept axis `x`."""
    summary = A.table(folder, "summary", needs=["kind"], numeric=["seed", x, "p", "fit_epoch", "normalised"])
    summary = summary.assign(series=[P.kind_name(k, p) for k, p in zip(summary["kind"], summary["p"])])
    return T.spread(summary, ["series", "p", x], "normalised")


def capacity() -> None:
    st.subheader("🏋️ How much room does noise need? (E3)")
    st.markdown(
        "Train MLPs of growing width on digits with a share p of the training data corrupted, and keep each run's "
        "best validation accuracy. Clean data is learned well by a small network. With noise in the mix the "
        "network must also find room to store the exceptions, so it needs more width before it does its best."
    )
    kinds = [k for k in ("randY", "randX") if (A.root() / "e3" / k).is_dir()] or ["randY"]
    kind = kinds[0] if len(kinds) == 1 else st.segmented_control(
        "Noise kind", kinds, default=kinds[0], format_func=P.KIND_NAME.get, key="factors-kind", required=True)
    folder = f"e3/{kind}"
    try:
        agg, means, need = capacity_table(folder)
    except A.Missing as err:
        ui.missing(err, "The capacity sweep")
        return
    top = max(means.columns)
    st.markdown(
        f"Best validation accuracy of the widest network ({int(means.index.max())} units): "
        f"{ui.pct(means.at[means.index.max(), 0.0] if 0.0 in means.columns else float('nan'), 1)} on clean data, "
        f"{ui.pct(means.at[means.index.max(), top], 1)} at p = {top:g}. Width at which each level gets within half a "
        "point of its best: " + ", ".join(f"p = {p:g}: {w}" for p, w in need.items()) + ". "
        "The grey diamonds are the paper's 4096-unit MLPs on all of MNIST."
    )
    ref = paper.CAPACITY_4096[paper.CAPACITY_4096["kind"] == kind].rename(columns={"best_val_acc": "mean"})
    chart = partial(C.by_level, agg, color="level", scale=P.p_scale(agg["p"]), x="width",
                       x_title="hidden units per layer (log scale)", y_title="best validation accuracy",
                       y_domain=None, paper=ref, paper_y="mean", log_x=True)
    ui.chart(chart, caption=f"{P.KIND_NAME[kind].capitalize()}: best validation accuracy by width, one line per "
                            "noise level, mean ± sd over seeds.", data=agg, folder=folder, key=f"factors-e3-{kind}")


def width_answer(means) -> tuple[str, str]:
    """The measured answer to questions.WIDTH: relative time to fit at the widest net, clean vs the fastest p = 1 noise."""
    widest = means.columns.max()
    clean = means.at["real", widest] if "real" in means.index else float("nan")
    noise = means.loc[[s for s in means.index if s.endswith("p = 1")], widest].min()
    if not (clean == clean and noise == noise):
        return "about the same for both", "(not every condition fitted within the epoch budget)"
    truth = ("about the same for both" if abs(clean - noise) < 0.1 else "pure noise" if noise < clean else "real digits")
    return truth, (f"At {int(widest):,} units real digits need {ui.num(clean)}× the time of the narrowest net, pure "
                   f"noise {ui.num(noise)}×; the paper: {paper.CONVERGENCE_WIDTH_RATIO.iloc[0, 1]:g}× and "
                   f"{paper.CONVERGENCE_WIDTH_RATIO.iloc[1, 1]:g}× (4096 vs 256 units, all of MNIST).")


def convergence(item: str, x: str, x_title: str, heading: str, story: str) -> None:
    st.subheader(heading)
    st.markdown(story)
    folder = f"e4/{item}"
    try:
        agg = fit_times(folder, x)
    except A.Missing as err:
        ui.missing(err, "The time-to-fit sweep")
        return
    if agg.empty:
        st.info("None of these runs fitted its training set within the epoch budget, so there is no time to compare.")
        return
    colours = {s: P.p_color(p) for s, p in zip(agg["series"], agg["p"])}
    means = agg.pivot(index="series", columns=x, values="mean")
    biggest = means.columns.max()
    pick = ui.guess("factors-width", *Q.WIDTH) if item == "width" else ""
    if pick is None:
        return
    said = ", ".join(f"{s} {ui.num(means.at[s, biggest])}×" for s in means.index if means.at[s, biggest] == means.at[s, biggest])
    st.markdown(f"Relative time to fit at {x.replace('n_train', 'size')} = {int(biggest):,}: {said} "
                "(1 = the time at the smallest setting).")
    chart = partial(C.by_level, agg, color="series", scale=P.scale(colours, agg["series"]), x=x, x_title=x_title,
                       y_title="epochs to fit, relative to the smallest", percent=False, y_domain=None, log_x=True)
    ui.chart(chart, caption="Epochs until training accuracy reaches 100 % on the labels as given, divided by the "
                            "time at the smallest setting of the same noise level; mean ± sd over seeds.",
             data=agg, folder=folder, key=f"factors-e4-{item}")
    if item == "width":
        ui.reveal(pick, *width_answer(means))


capacity()
convergence("width", "width", "hidden units per layer (log scale)", "⏱️ Does a bigger brain cram faster? (E4)",
            "Train the same data on networks of growing width and count the epochs each needs to fit its training "
            "set completely, relative to the narrowest network. Wider nets fit everything sooner; the question is "
            "whether real digits and noise gain the same.")
convergence("size", "n_train", "training examples (log scale)", "📚 More homework, more cramming? (E4)",
            "Now grow the training set at a fixed width. Real examples share patterns, so each new one is partly "
            "known already; noise examples are all strangers, so time to fit should grow much faster for them. "
            f"The paper: clean data at 50,000 examples needed {paper.CONVERGENCE_SIZE_CLEAN_50K:g}× the time of its "
            f"smallest set, noisy data {paper.CONVERGENCE_SIZE_NOISY_GROWTH[0]:g}–{paper.CONVERGENCE_SIZE_NOISY_GROWTH[1]:g}×. Ours:")
st.subheader("🧑‍🔬 Try it yourself")
from explainer import live  # noqa: E402  (torch is imported only when Train is clicked)
live.retrain_panel("capacity", key="factors-live")
st.page_link("chapters/04_experiment_time.py", label="Next: the experiment itself", icon="🧪")
