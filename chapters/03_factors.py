"""📊 Factors that make models memorize: capacity under noise (E3) and time to fit by width and by
data size (E4)."""
import pandas as pd
import streamlit as st

from explainer import artifacts as A, figdata as D, figures as F, paper, palette as P, questions as Q, ui
from explainer import lab

st.title("📊 What makes a model cram?")
st.markdown(
    "Three ingredients tip a student towards rote learning: **too few exercises** (it is easier to remember ten "
    "answers than to find the rule behind them), **a huge memory** (more parameters than needed), and **messy "
    "material** (answers that follow no pattern). Bigger is not automatically better, and how much bigger helps "
    "depends on the data. Two sweeps measure it."
)


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
lab.retrain_panel("capacity", key="factors-live")
st.page_link("chapters/04_experiment_time.py", label="Next: the experiment itself", icon="🧪")
