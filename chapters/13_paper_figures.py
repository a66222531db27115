"""🖼️ Paper figures: every figure of the paper that we reproduce (Figs. 1, 3–11), one section each: what the
paper plotted and read off it (explainer/paper.py, in our words), our version drawn by the same chart code as
the story page that tells it (explainer/figures.py), the scoreboard's verdicts on the claims that cite the
figure, and a link to that page. `?fig=7` puts Fig. 7 first; every section has an anchor (`#fig-7`)."""
import re

import pandas as pd
import streamlit as st

from explainer import artifacts as A, figdata as D, figures as F, paper, ui

BADGE = ui.VERDICT_BADGE
NUMBERS = [f.number for f in paper.FIGURES]

st.title("The paper's figures, one by one", icon="🖼️")
st.markdown(
    "The story retells the paper in its own order. This page follows the paper instead: one section per figure, "
    "with what the figure plotted and the numbers it reads, our own version drawn from our runs (the very chart "
    "the story page shows), and the scoreboard's verdict on every claim that cites the figure. Our runs are far "
    "smaller than the paper's, so compare shapes and directions rather than digits. Fig. 2 is not reproduced "
    "here. Each figure has its own link: add `?fig=7` to this page's address to open it at Fig. 7."
)
st.markdown("Jump to: " + " · ".join(f"[Fig. {n}](#fig-{n})" for n in NUMBERS))


def cited(claims: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """The claims that cite each figure ("(Fig. 7)" in the paper column), in scoreboard order."""
    figs = claims["paper"].fillna("").map(lambda t: {int(n) for n in re.findall(r"Fig\. (\d+)", t)})
    return {n: claims[figs.map(lambda s: n in s)] for n in NUMBERS}


def verdicts(n: int, rows: pd.DataFrame | None) -> None:
    if rows is None:
        return
    if rows.empty:
        st.caption(f"No claim of the scoreboard cites Fig. {n}.")
    for _, row in rows.iterrows():
        with st.container(border=True):
            ui.md(f"**Fig. {n} · {row['id']}** {BADGE.get(row['verdict'], '❔')} ***{row['verdict']}*** · "
                        f"{row['claim']}  \n**Paper:** {row['paper']}  \n**Ours:** {row['ours']}")


def fig1() -> None:
    dataset = ui.dataset_picker("fig1-dataset", "e1", options=("cifar10", "mnist"))
    folder = f"e1/{dataset}"
    F.easy_hard(D.difficulty(folder), dataset, folder)


def e2_choice(view: dict) -> tuple[pd.DataFrame, str, str]:
    agg = view["agg"]
    panel = "labels" if "labels" in set(agg["panel"]) else agg["panel"].iloc[0]
    defs = set(agg["definition"])
    definition = "own+transfer" if "own+transfer" in defs else sorted(defs)[0]
    return agg[(agg["panel"] == panel) & (agg["definition"] == definition)], panel, definition


def fig3() -> None:
    agg, panel, definition = e2_choice(D.gini_view())
    F.gini(agg, panel, definition)


def fig4() -> None:
    view = D.gini_view()
    if view["matrix"] is None:
        raise A.Missing("`e2/matrix.csv` or `e2/summary.csv` has not been produced yet", "e2")
    F.class_maps(view["matrix"], e2_choice(view)[2])


def fig5() -> None:
    for kind in ("randX", "randY"):  # the paper's left and right panels
        folder = f"e3/{kind}"
        F.capacity(D.capacity_table(folder)[0], kind, folder)


def fig6() -> None:
    F.fit_time(D.fit_times("e4/width", "width"), "width", "width", "hidden units per layer (log scale)", "e4/width")
    F.fit_time(D.fit_times("e4/size", "n_train"), "size", "n_train", "training examples (log scale)", "e4/size")


def fig7() -> None:
    folder = "e5/mnist"
    F.peaks(D.peaks(folder), "mnist", folder)
    p = max(D.noise_levels(folder))
    F.timeline(D.timeline(folder, p), p, "mnist", folder)
    csr("mnist")


def fig8() -> None:
    """Fig. 8 (CIFAR-10 at 20-80 % noise) is run only where the result set's E5 CIFAR item has partial noise."""
    partial = [p for p in D.noise_levels("e5/cifar10") if 0 < p < 1]  # raises Missing before E5 CIFAR has run
    if not partial:
        st.info("⏸️ **Not run in this result set.** Our CIFAR-10 partial-noise item trains at p = 1 only (Fig. 9's "
                "setting): 20–80 % noise at five levels, two kinds and three seeds would cost about ten times the "
                "CPU profile's CIFAR budget. The `paper` profile runs it (`e5.cifar10.noise` 0.2 … 1.0).")
        return
    csr("cifar10")


def csr(dataset: str) -> None:
    folder = f"e5/{dataset}"
    F.csr_levels(D.csr_by_level(folder), dataset, folder)
    agg, levels = D.csr_over_time(folder, "randY")
    F.csr_time(agg, levels, "randY", dataset, folder)


SWEEPS = {"cifar10": "CIFAR-10 (the paper's)", "mnist10k": "MNIST", "mnist": "MNIST"}


def fig10() -> None:
    trade, front, _ = D.sweep()
    present = [ds for ds in SWEEPS if len(front) and ds in set(front["dataset"])]
    if not present:
        raise A.Missing("no E6 item has written its `frontier.csv` yet", "e6/cifar_dropout")
    ds = present[0] if len(present) == 1 else st.segmented_control(
        "Sweep", present, default=present[0], format_func=SWEEPS.get, key="fig10-sweep", required=True) or present[0]
    f = front[front["dataset"] == ds]
    F.frontier(f, ds, f"e6/{trade[trade['dataset'] == ds]['item'].iloc[0]}")


def fig11() -> None:
    present = [i for i in D.CIFAR_REG + D.MNIST_REG if A.available(f"e6/{i}", "curves")]
    if not present:
        raise A.Missing("`e6/<regularizer>/curves.csv` has not been produced yet", "e6/cifar_dropout")
    item = present[0] if len(present) == 1 else st.segmented_control(
        "Regularizer", present, default=present[0], format_func=D.item_name, key="fig11-item", required=True) or present[0]
    F.reg_curves(D.random_label_curves(item), item, D.item_name(item))


OURS = {1: fig1, 3: fig3, 4: fig4, 5: fig5, 6: fig6, 7: fig7, 8: fig8, 9: lambda: csr("cifar10"),
        10: fig10, 11: fig11}


def section(fig: paper.Figure, claims: dict | None) -> None:
    st.header(f"Fig. {fig.number} · {fig.title}", anchor=f"fig-{fig.number}", divider="gray")
    st.markdown(f"**What the paper plotted** ({fig.experiment}). {fig.plotted}\n\n**What it reads.** {fig.numbers}")
    st.markdown("**Ours**, from our runs:")
    try:
        OURS[fig.number]()
    except A.Missing as err:
        ui.missing(err, f"Our version of Fig. {fig.number}")
    st.markdown(f"**Verdicts** of the claims citing Fig. {fig.number}:")
    verdicts(fig.number, None if claims is None else claims.get(fig.number))
    st.page_link(fig.page, label=f"The story page that tells Fig. {fig.number}", icon="📖")


try:
    claims = cited(A.table("claims", "claims", needs=["id", "claim", "paper", "ours", "verdict"]))
except A.Missing as err:
    ui.missing(err, "The scoreboard's verdicts")
    claims = None

asked = str(st.query_params.get("fig", "")).removeprefix("fig-")
first = int(asked) if asked.isdigit() and int(asked) in NUMBERS else None
if first is not None:
    st.info(f"📌 Fig. {first} first, as the link asked; the other figures follow in the paper's order.")
for fig in sorted(paper.FIGURES, key=lambda f: f.number != first):
    section(fig, claims)
st.page_link("chapters/10_conclusion.py", label="Every claim on one scoreboard", icon="🎉")
