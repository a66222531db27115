"""The tables behind the charts that a story page and the "Paper figures" page both draw: each reads one
stage's artifacts and shapes them (cached until an artifact changes, `artifacts.derived`). Pure data,
no Streamlit elements; explainer/figures.py draws them."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import artifacts as A, palette as P, tidy as T

# --- E3 / E4 (the paper's Figs. 5 and 6; page 3)


@A.derived
def capacity_table(folder: str):
    """Best validation accuracy per width and level (band over seeds), its means, and per level the
    narrowest width the stage marks saturated (widths.csv: within e3's saturation_tol of that level's best)."""
    summary = A.table(folder, "summary", numeric=["seed", "width", "p", "best_val_acc"])
    agg = T.spread(summary.assign(level=summary["p"].map(P.p_name)), ["level", "p", "width"], "best_val_acc")
    means = agg.pivot(index="width", columns="p", values="mean")
    widths = A.table(folder, "widths", needs=["saturated"], numeric=["width", "p"])
    need = widths[widths["saturated"].astype(str).str.lower() == "true"].groupby("p")["width"].min().astype(int).to_dict()
    return agg, means, need


@A.derived
def fit_times(folder: str, x: str) -> pd.DataFrame:
    """Normalised epochs to fit per condition and value of the swept axis `x`: `series` names the condition
    ('random labels, p = 0.5'), `condition` its kind ('random labels'), `level` its noise level ('p = 0.5')."""
    summary = A.table(folder, "summary", needs=["kind"], numeric=["seed", x, "p", "fit_epoch", "normalised"])
    summary = summary.assign(series=[P.kind_name(k, p) for k, p in zip(summary["kind"], summary["p"])],
                             condition=summary["kind"].map(P.KIND_NAME).fillna(summary["kind"]),
                             level=summary["p"].map(P.p_name))
    return T.spread(summary, ["series", "condition", "level", "p", x], "normalised")


# --- E1 (Fig. 1; page 4)


@A.derived
def difficulty(folder: str) -> dict:
    """Examples sorted by P(correct) per condition (x = share of examples, hardest last), the binomial
    reference, and the numbers the prose quotes."""
    ex = A.table(folder, "examples", needs=["condition"], numeric=["p_correct"])
    share = np.linspace(0, 1, 201)  # the sorted curve at 201 points is all a chart can show

    def curve(name, values):
        return pd.DataFrame({"condition": name, "share": share, "p_correct": np.quantile(values, 1 - share)})

    curves = [curve(cond, g["p_correct"].to_numpy()) for cond, g in ex.groupby("condition")]
    try:
        curves.append(curve("binomial reference", A.table(folder, "binomial", numeric=["p_correct"])["p_correct"]))
    except A.Missing:
        pass
    sorted_ = pd.concat(curves, ignore_index=True)
    sorted_["condition"] = sorted_["condition"].map({"real": "real", "randX": "random inputs", "randY": "random labels"}
                                                    ).fillna(sorted_["condition"])
    q = ex.groupby("condition")["p_correct"].quantile([0.05, 0.5, 0.95, 0.99]).unstack()
    gap = float("nan")  # largest gap between the randX and the binomial sorted curves
    if {"random inputs", "binomial reference"} <= set(sorted_["condition"]):
        by = sorted_.pivot(index="share", columns="condition", values="p_correct")
        gap = float((by["random inputs"] - by["binomial reference"]).abs().max())
    return {"sorted": sorted_, "quantiles": q, "means": ex.groupby("condition")["p_correct"].mean(), "gap": gap}


# --- E2 (Figs. 3 and 4; page 7)


@A.derived
def gini_view() -> dict:
    """Loss-sensitivity Gini and whole-training-set loss per panel, definition, condition and step (mean ± sd
    over seeds), the stage's summary (off-diagonal shares) and the class matrix, row-normalised."""
    gini = A.table("e2", "gini", needs=["condition", "panel", "definition"],
                   numeric=["seed", "step", "gini", "train_loss"])
    agg = T.spread(gini, ["panel", "definition", "condition", "step"], "gini")
    last = agg[agg["step"] == agg.groupby(["panel", "definition"])["step"].transform("max")]
    one = gini[gini["definition"] == gini["definition"].iloc[0]]      # the loss is the same under both
    out = {"agg": agg, "last": last, "loss": T.spread(one, ["panel", "condition", "step"], "train_loss"),
           "summary": None, "matrix": None}
    try:
        out["summary"] = A.table("e2", "summary", needs=["panel", "definition", "condition"],
                                 numeric=["off_diagonal", "matrix_from", "matrix_from_loss"])
        m = A.table("e2", "matrix", needs=["definition", "condition"],
                    numeric=["seed", "loss_class", "input_class", "value"])
        cells = m.groupby(["definition", "condition", "loss_class", "input_class"], as_index=False)["value"].mean()
        cells["row_share"] = cells["value"] / cells.groupby(["definition", "condition", "loss_class"])["value"].transform("sum")
        out["matrix"] = cells
    except A.Missing:
        pass
    return out


# --- E5 (Figs. 7, 8 and 9; pages 7 and 8)

CSR = dict(needs=["kind"], numeric=["seed", "p", "epoch", "csr"])
CURVES = dict(needs=["kind"], numeric=["seed", "p", "epoch", "train_acc_clean", "train_acc_corrupted", "val_acc"])


@A.derived
def csr_by_level(folder: str):
    """Final CSR per noise kind and level; the clean run is the p = 0 point of both kinds."""
    csr = A.table(folder, "csr", **CSR)
    rows = T.with_condition(csr[csr["epoch"] == csr.groupby("run")["epoch"].transform("max")])
    clean, noisy = rows[rows["kind"] == "none"], rows[rows["kind"] != "none"]
    rows = pd.concat([noisy, *[clean.assign(condition=c) for c in noisy["condition"].unique()]])
    return T.spread(rows, ["condition", "p"], "csr")


@A.derived
def csr_without_stop(folder: str) -> pd.DataFrame:
    """The final CSR with the reference's early stop (csr) and over every LASS iteration (csr_all), mean
    over seeds per noise kind and level, and how many iterations the early stop let each search run."""
    s = A.table(folder, "summary", needs=["kind"], numeric=["p", "final_csr"])
    if "final_csr_all" not in s.columns:
        raise A.Missing(f"`{A.shown()}/{folder}/summary.csv` has no CSR without the early stop (final_csr_all)", folder)
    return (s.groupby(["kind", "p"])[["final_csr", "final_csr_all", "final_lass_stop"]].mean().reset_index()
            .sort_values(["kind", "p"]))


@A.derived
def csr_over_time(folder: str, kind: str):
    csr = A.table(folder, "csr", **CSR)
    over = csr[csr["kind"].isin([kind, "none"])].assign(level=lambda d: d["p"].map(P.p_name))
    return T.spread(over, ["level", "epoch"], "csr"), sorted(over["p"].unique())


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


# --- E6 (Figs. 10 and 11; page 5)

MNIST_REG = ["dropout", "input_dropout", "input_noise", "hidden_noise", "weight_decay"]  # adversarial: on CIFAR-10 only
CIFAR_REG = ["cifar_dropout", "cifar_adversarial"]
SETTINGS = dict(needs=["regularizer", "dataset"], numeric=["strength", "dropout", "random_train_acc", "best_val_acc"])


def setting(reg: str, strength: float, dropout: float) -> str:
    return f"weight {strength:g}, dropout {dropout:g}" if reg == "adversarial" else f"strength {strength:g}"


def item_name(item: str) -> str:
    return (P.REG_NAME[item.removeprefix("cifar_")] + " (CIFAR-10)") if item in CIFAR_REG else P.REG_NAME.get(item, item)


@A.derived
def sweep() -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Every E6 item's per-setting table (seed means, written by the stage) with chart columns, the Fig. 10
    frontiers, and the items not measured yet. `dataset` says which sweep a row belongs to; `reg` is the
    regularizer's id (dropout, adversarial, ...), `regularizer` its display name."""
    rows, fronts, absent = [], [], []
    for item in MNIST_REG + CIFAR_REG:
        try:
            s = A.table(f"e6/{item}", "settings", **SETTINGS)
        except A.Missing:
            absent.append(item)
            continue
        reg, ds = s["regularizer"].iloc[0], s["dataset"].iloc[0]
        s = s.assign(item=item, reg=reg, regularizer=P.REG_NAME.get(reg, reg), random_label_train_acc=s["random_train_acc"],
                     clean_best_val_acc=s["best_val_acc"])
        s["setting"] = [setting(reg, a, b) for a, b in zip(s["strength"], s["dropout"])]
        s["rank"] = s[["strength", "dropout"]].apply(tuple, axis=1).rank(method="dense")
        rows.append(s)
        try:
            f = A.table(f"e6/{item}", "frontier", numeric=["x", "best_val_acc"])
            fronts.append(f.assign(regularizer=P.REG_NAME.get(reg, reg), dataset=ds))
        except A.Missing:
            pass
    trade = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    front = pd.concat(fronts, ignore_index=True) if fronts else pd.DataFrame()
    return trade, front, absent


@A.derived
def random_label_curves(item: str):
    """Random-label training accuracy per epoch and setting of one E6 item, mean ± sd over seeds: in training
    mode (the epoch's batches with dropout and noise on, as the paper's Keras logs plot it in Fig. 11) where the
    stage recorded it, else in eval mode."""
    c = A.table(f"e6/{item}", "curves", needs=["kind"], numeric=["seed", "strength", "dropout", "epoch", "train_acc"])
    if "train_acc_batches" in c.columns:
        c = c[c["epoch"] > 0].assign(train_acc=c["train_acc_batches"])  # epoch 0 has no training batches
    reg = c["regularizer"].iloc[0] if "regularizer" in c else item
    rand = c[c["kind"] != "none"].copy()
    rand["level"] = [setting(reg, a, b) for a, b in zip(rand["strength"], rand["dropout"])]
    return T.spread(rand, ["level", "strength", "dropout", "epoch"], "train_acc")
