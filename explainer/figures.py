"""The charts that a story page and the "Paper figures" page both draw (one function each, with its caption
and provenance), so the two always show the same picture. Each takes what explainer/figdata.py shaped;
chart keys are the story page's, so both pages share one cached spec."""
from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from . import charts as C, paper, palette as P, ui

# --- Fig. 1 (page 4)


def easy_hard(d: dict, dataset: str, folder: str) -> None:
    colours = {**P.KIND_COLOR, "binomial reference": P.GREY}
    data = d["sorted"]
    ui.chart(partial(C.sorted_curves, data, colours),
             caption="Share of one-epoch runs that classify each training example correctly, examples sorted from "
                     "easiest to hardest, per condition; grey: a binomial reference with the random-input mean.",
             data=data, folder=folder, key=f"exp-easy-hard-{dataset}")


# --- Figs. 3 and 4 (page 7)

E2_COLORS = {"real": P.BLUE, "50% real": P.p_color(0.5), "random inputs": P.ORANGE, "random": P.ORANGE}


def e2_colours(conditions) -> dict[str, str]:
    """E2's conditions in the paper's order (real, half real, random), each with its colour."""
    present = set(conditions)
    return {**{c: v for c, v in E2_COLORS.items() if c in present},
            **{c: P.GREY for c in dict.fromkeys(conditions) if c not in E2_COLORS}}


def gini(agg: pd.DataFrame, panel: str, definition: str) -> None:
    colours = e2_colours(agg["condition"])
    ui.chart(partial(C.bands, agg, color="condition", scale=P.scale(colours, agg["condition"]), x="step",
                     x_title="SGD steps (log scale)", log_x=True, y_title="Gini of loss-sensitivity", percent=False,
                     y_domain=None),
             caption=f"Gini coefficient of the per-example loss-sensitivity over training steps ({definition}), "
                     "mean ± sd over seeds.",
             data=agg, folder="e2", key=f"match-gini-{panel}-{definition}")


def class_maps(cells: pd.DataFrame, definition: str) -> None:
    shown = cells[cells["definition"] == definition]
    names = {"real": "real digits", "random": "random inputs"}
    for col, cond in zip(st.columns(2), ("real", "random")):
        one = shown[shown["condition"] == cond]
        with col:
            ui.chart(partial(C.class_heatmap, one, names[cond], float(shown["row_share"].max())),
                     caption=f"{names[cond].capitalize()} ({definition}): row = the class whose loss is measured, "
                             "column = the class of the input it depends on; each row sums to 100 %. Mean over seeds.",
                     data=one, folder="e2", key=f"match-gini-matrix-{definition}-{cond}")


# --- Figs. 5 and 6 (page 3)


def capacity(agg: pd.DataFrame, kind: str, folder: str) -> None:
    ref = paper.CAPACITY_4096[paper.CAPACITY_4096["kind"] == kind].rename(columns={"best_val_acc": "mean"})
    ui.chart(partial(C.by_level, agg, color="level", scale=P.p_scale(agg["p"]), x="width",
                     x_title="hidden units per layer (log scale)", y_title="best validation accuracy",
                     y_domain=None, paper=ref, paper_y="mean", log_x=True),
             caption=f"{P.KIND_NAME[kind].capitalize()}: best validation accuracy by width, one line per noise level, "
                     "mean ± sd over seeds. Grey diamonds: the paper's 4,096-unit MLPs on all of MNIST.",
             data=agg, folder=folder, key=f"factors-e3-{kind}")


def fit_time(agg: pd.DataFrame, item: str, x: str, x_title: str, folder: str) -> None:
    """Colour and dash = noise level, marker shape = kind of noise, so random inputs and random labels at the
    same level never share a look."""
    ui.chart(partial(C.by_level, agg, color="level", scale=P.p_scale(agg["p"]), x=x, x_title=x_title,
                     y_title="epochs to fit, relative to the smallest", percent=False, y_domain=None, log_x=True,
                     style="condition", color_title="noise level", style_title="training data"),
             caption="Epochs until training accuracy reaches 100 % on the labels as given, divided by the time at "
                     "the smallest setting of the same condition; colour and dash: the share corrupted, marker "
                     "shape: real data, random inputs or random labels; mean ± sd over seeds.",
             data=agg, folder=folder, key=f"factors-e4-{item}")


# --- Figs. 7, 8 and 9 (pages 7 and 8)


def peaks(peak: dict, dataset: str, folder: str) -> None:
    ref = paper.VAL_MNIST_RANDY.melt(id_vars=["p"], value_vars=["best_val_acc", "final_val_acc"], value_name="mean")
    scale = P.scale({"best epoch": P.TEAL, "last epoch": P.MAGENTA}, peak["agg"]["when"])
    ui.chart(partial(C.by_level, peak["agg"], color="when", scale=scale, y_title="validation accuracy",
                     paper=ref if dataset.startswith("mnist") else None, paper_y="mean"),
             caption="Validation accuracy at its best epoch and at the last epoch, per share of shuffled labels "
                     "(p = 0: clean), mean ± sd over seeds."
                     + (" Grey diamonds: the paper's MNIST numbers after 100 epochs." if dataset.startswith("mnist")
                        else ""),
             data=peak["agg"], folder=folder, key=f"time-peak-{dataset}")


def timeline(run: dict, p: float, dataset: str, folder: str) -> None:
    agg, stop = run["agg"], run["stop"]

    def marked_curves():
        curves = C.bands(agg, color="metric", scale=P.scale(P.SPLIT_COLOR, agg["metric"]), y_title="accuracy")
        return C.epoch_marker(curves, stop["best_epoch"], f"stop here: {ui.pct(stop['best'], 1)}")

    ui.chart(marked_curves, caption=f"{ui.DATASET_NAME.get(dataset, dataset)}, random labels at p = {p:g}: accuracy on "
                                    "the training examples that kept their label, on those whose label was shuffled "
                                    "(agreement with the shuffled label), and on clean validation data; mean ± sd over "
                                    "seeds. The dashed rule marks the epoch of best mean validation accuracy.",
             data=agg, folder=folder, key=f"time-curves-{dataset}-{p:g}")


def csr_levels(agg: pd.DataFrame, dataset: str, folder: str) -> None:
    ref = paper.CSR_MNIST_RANDY if dataset.startswith("mnist") else paper.CSR_CIFAR[paper.CSR_CIFAR["kind"] != "none"]
    ui.chart(partial(C.by_level, agg, color="condition", scale=P.scale(P.KIND_COLOR, agg["condition"]),
                     y_title="critical sample ratio (validation)", percent=False, y_domain=None,
                     paper=ref.rename(columns={"csr": "mean"}), paper_y="mean"),
             caption=f"{ui.DATASET_NAME.get(dataset, dataset)}: share of validation points whose prediction flips "
                     "within a box of ±0.3/255 per pixel (LASS search), last measurement of each run, mean ± sd over "
                     "seeds. Grey diamonds: the paper's values for its much larger runs.",
             data=agg, folder=folder, key=f"match-csr-{dataset}")


def csr_time(agg: pd.DataFrame, levels: list, kind: str, dataset: str, folder: str) -> None:
    ui.chart(partial(C.bands, agg, color="level", scale=P.p_scale(levels), y_title="critical sample ratio",
                     percent=False, y_domain=None),
             caption=f"CSR measured every few epochs during training, {P.KIND_NAME[kind]}, one line per noise level "
                     "(p = 0 is clean data).", data=agg, folder=folder, key=f"match-csr-time-{dataset}-{kind}")


# --- Figs. 10 and 11 (page 5)


def tradeoff(g: pd.DataFrame, ds: str, folder: str) -> None:
    ui.chart(partial(C.tradeoff, g),
             caption="Each point is one setting: final training accuracy on random labels (x) against best validation "
                     "accuracy when trained on real labels (y), means over seeds; lines join a regularizer's settings. "
                     "Up and to the left is better.",
             data=g, folder=folder, key=f"reg-tradeoff-{ds}")


def frontier(f: pd.DataFrame, ds: str, folder: str) -> None:
    ref = paper.REG_FRONTIER.assign(regularizer=lambda d: d["regularizer"].map(P.REG_NAME)) if ds == "cifar10" else None
    ui.chart(partial(C.frontier, f, ref),
             caption="The same as a frontier (the paper's Fig. 10): the best clean validation accuracy any setting "
                     "of a regularizer reaches while fitting at most x of the random labels; a marker where another "
                     "setting takes over."
                     + (" Grey diamonds: the paper's own frontier on all of CIFAR-10 with its 200-filter CNN."
                        if ref is not None else ""),
             data=f, folder=folder, key=f"reg-frontier-{ds}")


def reg_curves(agg: pd.DataFrame, item: str, name: str) -> None:
    levels = list(dict.fromkeys(agg.sort_values(["strength", "dropout"])["level"]))
    colours = {lvl: P.p_color(i / max(len(levels) - 1, 1)) for i, lvl in enumerate(levels)}
    ui.chart(partial(C.bands, agg, color="level", scale=P.scale(colours, agg["level"]),
                     y_title="training accuracy, random labels"),
             caption=f"{name[0].upper() + name[1:]}: training accuracy on random labels per epoch, one line per "
                     "setting, mean ± sd over seeds (the paper's Fig. 11).", data=agg, folder=f"e6/{item}",
             key=f"reg-curves-{item}")
