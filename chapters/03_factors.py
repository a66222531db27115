"""📊 Factors that make models memorize: capacity under noise (E3) and time to fit by width and by
data size (E4)."""
import pandas as pd
import streamlit as st

from explainer import artifacts as A, figdata as D, figures as F, paper, palette as P, questions as Q, ui
from explainer import lab

st.title("What makes a model cram?", icon="📊")
st.markdown(
    "Three ingredients tip a student towards rote learning: **too few exercises** (it is easier to remember ten "
    "answers than to find the rule behind them), **a huge memory** (more parameters than needed), and **messy "
    "material** (answers that follow no pattern). Bigger is not automatically better, and how much bigger helps "
    "depends on the data. Two sweeps measure it."
)


def capacity() -> None:
    st.subheader("How much room does noise need? (E3)", icon="🏋️")
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
        agg, means, need = D.capacity_table(folder)
    except A.Missing as err:
        ui.missing(err, "The capacity sweep")
        return
    top, widest = max(means.columns), int(means.index.max())
    tol = A.manifest(folder).get("config", {}).get("saturation_tol", 0.0)  # the stage's own threshold
    st.markdown(
        f"Best validation accuracy of the widest network ({widest:,} units): "
        f"{ui.pct(means.at[widest, 0.0] if 0.0 in means.columns else float('nan'), 1)} on clean data, "
        f"{ui.pct(means.at[widest, top], 1)} at p = {top:g}. How much width each noise level needs:"
    )
    st.dataframe(pd.DataFrame({"noise level": [P.p_name(p) for p in means.columns],
                               f"best at {widest:,} units": [ui.pct(v, 1) for v in means.loc[widest]],
                               f"width within {tol * 100:g} points of its best": [f"{need[p]:,}" for p in means.columns]}),
                 hide_index=True, width="content")
    F.capacity(agg, kind, folder)


def width_answer(means) -> tuple[str, str]:
    """questions.WIDTH's answer as the claims stage judged it (per seed, against the spread; findings.csv),
    with the paper's ratios beside ours."""
    truth, why = ui.answer("WIDTH")
    return truth, (f"{why[0].upper()}{why[1:]}. The paper: {paper.CONVERGENCE_WIDTH_RATIO.iloc[0, 1]:g}× and "
                   f"{paper.CONVERGENCE_WIDTH_RATIO.iloc[1, 1]:g}× (4096 vs 256 units, all of MNIST).")


def convergence(item: str, x: str, x_title: str, heading: str, icon: str, story: str) -> None:
    st.subheader(heading, icon=icon)
    st.markdown(story)
    folder = f"e4/{item}"
    try:
        agg = D.fit_times(folder, x)
    except A.Missing as err:
        ui.missing(err, "The time-to-fit sweep")
        return
    if agg.empty:
        st.info("None of these runs fitted its training set within the epoch budget, so there is no time to compare.")
        return
    means = agg.pivot(index="series", columns=x, values="mean")
    biggest = means.columns.max()
    pick = ui.guess("factors-width", *Q.WIDTH) if item == "width" else ""
    if pick is None:
        return
    at = agg[agg[x] == biggest]
    table = at.pivot(index="condition", columns="level", values="mean").reindex(
        [c for c in P.KIND_COLOR if c in set(at["condition"])])
    st.markdown(f"Epochs to fit at {x.replace('n_train', 'size')} = {int(biggest):,}, relative to the smallest "
                "setting (1× = as long, 0.5× = half the time; –: not run, or not fitted within the epoch budget):")
    st.dataframe(table.map(lambda v: "–" if pd.isna(v) else f"{v:.2f}×").rename_axis(None)
                 .reset_index(names="training data"), hide_index=True, width="content")
    F.fit_time(agg, item, x, x_title, folder)
    if item == "width":
        ui.reveal(pick, *width_answer(means))


capacity()
convergence("width", "width", "hidden units per layer (log scale)", "Does a bigger brain cram faster? (E4)", "⏱️",
            "Train the same data on networks of growing width and count the epochs each needs to fit its training "
            "set completely, relative to the narrowest network. Wider nets fit everything sooner; the question is "
            "whether real digits and noise gain the same.")
convergence("size", "n_train", "training examples (log scale)", "More homework, more cramming? (E4)", "📚",
            "Now grow the training set at a fixed width. Real examples share patterns, so each new one is partly "
            "known already; noise examples are all strangers, so time to fit should grow much faster for them. "
            f"The paper (input noise only): clean data at 50,000 examples needed {paper.CONVERGENCE_SIZE_CLEAN_50K:g}× "
            f"the time of its smallest set, data with noisy inputs {paper.CONVERGENCE_SIZE_NOISY_50K[0]:g}–"
            f"{paper.CONVERGENCE_SIZE_NOISY_50K[1]:g}× (the peak, {paper.CONVERGENCE_SIZE_NOISY_PEAK[0]:g}–"
            f"{paper.CONVERGENCE_SIZE_NOISY_PEAK[1]:g}×, at 3,125 examples). Ours, where random labels are our own "
            "addition (the scoreboard's E4r):")
st.subheader("Try it yourself", icon="🧑‍🔬")
lab.retrain_panel("capacity", key="factors-live")
st.page_link("chapters/04_experiment_time.py", label="Next: the experiment itself", icon="🧪")
