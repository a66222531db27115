"""Pure pandas shaping of the pipeline's tables into what a chart draws (no Streamlit, no Altair), so
every page's numbers can be unit-tested and downloaded exactly as drawn.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .palette import KIND_NAME

CURVE_METRICS = {"train_acc": "training set as given", "train_acc_clean": "clean training examples",
                 "train_acc_corrupted": "relabelled training examples", "val_acc": "validation (clean)"}


def spread(df: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Mean ± standard deviation of `value` over the rows of each `by` group (i.e. over seeds).

    Columns: by..., mean, sd (0 with one seed), lo, hi, n. Groups whose values are all missing are dropped."""
    g = df.dropna(subset=[value]).groupby(by, sort=True)[value]
    out = g.agg(mean="mean", sd="std", n="count").reset_index()
    out["sd"] = out["sd"].fillna(0.0)
    out["lo"], out["hi"] = out["mean"] - out["sd"], out["mean"] + out["sd"]
    return out


def with_condition(df: pd.DataFrame) -> pd.DataFrame:
    """Adds `condition`: 'real', 'random labels', 'random inputs' from the `kind` column."""
    out = df.copy()
    out["condition"] = out["kind"].map(KIND_NAME).fillna(out["kind"])
    return out


def long_curves(curves: pd.DataFrame, metrics: dict[str, str]) -> pd.DataFrame:
    """Per-epoch accuracies melted to one row per run × epoch × metric, with a readable `metric` name."""
    keep = [c for c in metrics if c in curves.columns]
    long = curves.melt(id_vars=["run", "seed", "kind", "p", "epoch"], value_vars=keep, var_name="column",
                       value_name="accuracy")
    long["metric"] = long["column"].map(metrics)
    return with_condition(long.drop(columns="column"))


def at_level(df: pd.DataFrame, kinds: dict[str, float]) -> pd.DataFrame:
    """Rows of the given kinds at the given noise level each ({'none': 0, 'randY': 1.0, ...})."""
    mask = np.zeros(len(df), dtype=bool)
    for kind, p in kinds.items():
        mask |= (df["kind"] == kind).to_numpy() & np.isclose(df["p"].to_numpy(dtype=float), p)
    return df[mask]


def levels(df: pd.DataFrame, kind: str) -> list[float]:
    """The noise levels measured for `kind`, ascending."""
    return sorted(float(p) for p in df.loc[df["kind"] == kind, "p"].unique())


def early_stop(agg_val: pd.DataFrame) -> dict:
    """Where the seed-mean validation curve peaks, and what stopping there keeps and saves.

    `agg_val` is spread(...) of val_acc by epoch. Returns best_epoch, best, last_epoch, final and
    saved_share (the share of the epochs that would not be trained)."""
    ordered = agg_val.sort_values("epoch")
    best = ordered.loc[ordered["mean"].idxmax()]
    last = ordered.iloc[-1]
    last_epoch = int(last["epoch"])
    return {"best_epoch": int(best["epoch"]), "best": float(best["mean"]), "last_epoch": last_epoch,
            "final": float(last["mean"]),
            "saved_share": (last_epoch - int(best["epoch"])) / last_epoch if last_epoch else 0.0}


def first_fit(agg: pd.DataFrame, threshold: float) -> float:
    """First epoch at which a seed-mean curve reaches `threshold` (NaN if it never does)."""
    hit = agg.loc[agg["mean"] >= threshold - 1e-9, "epoch"]
    return float(hit.min()) if len(hit) else float("nan")


def clock_order(clock: pd.DataFrame) -> pd.DataFrame:
    """The memorization clock with each example's `learned_at`: the first epoch from which it stays
    right on its given label to the end (NaN if never), and `row`, its place in the picture
    (clean examples first, then relabelled ones, each sorted by learned_at)."""
    df = clock.sort_values(["example", "epoch"]).copy()
    df["on_given"] = df["state"] == "given"
    # an example is "learned" from the first epoch after its last miss
    last_miss = df[~df["on_given"]].groupby("example")["epoch"].max()
    final_epoch = df["epoch"].max()
    examples = df.groupby("example").agg(relabelled=("relabelled", "first"))
    learned = (last_miss.reindex(examples.index) + 1).fillna(df["epoch"].min())
    learned[learned > final_epoch] = np.nan
    examples["learned_at"] = learned
    examples = examples.sort_values(["relabelled", "learned_at"], na_position="last")
    examples["row"] = np.arange(len(examples))
    return df.drop(columns="on_given").merge(examples[["learned_at", "row"]], left_on="example", right_index=True)


def clock_shares(clock: pd.DataFrame) -> pd.DataFrame:
    """Per epoch and group (clean / relabelled): share of examples in each state."""
    df = clock.copy()
    df["group"] = np.where(df["relabelled"].astype(bool), "relabelled", "clean")
    counts = df.groupby(["group", "epoch", "state"]).size().rename("count").reset_index()
    counts["share"] = counts["count"] / counts.groupby(["group", "epoch"])["count"].transform("sum")
    return counts


def smoothness(weights: np.ndarray) -> float:
    """Mean correlation between neighbouring pixels of first-layer weight images (U, H, W): near 0 for
    static-like filters, higher for filters made of strokes and blobs."""
    out = []
    for w in np.asarray(weights, dtype=float):
        for a, b in ((w[:, :-1], w[:, 1:]), (w[:-1, :], w[1:, :])):
            a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
            denom = np.sqrt((a * a).sum() * (b * b).sum())
            if denom > 0:
                out.append(float((a * b).sum() / denom))
    return float(np.mean(out)) if out else float("nan")


def clock_segments(ordered: pd.DataFrame) -> pd.DataFrame:
    """The clock run-length encoded: one row per stretch of consecutive epochs in which an example stays
    in the same state (start, end = last epoch + 1), so the picture needs a few rows per example, not one
    per epoch."""
    df = ordered.sort_values(["example", "epoch"])
    change = (df["state"] != df["state"].shift()) | (df["example"] != df["example"].shift())
    df = df.assign(segment=change.cumsum())
    seg = df.groupby("segment").agg(example=("example", "first"), row=("row", "first"), state=("state", "first"),
                                    relabelled=("relabelled", "first"), true_label=("true_label", "first"),
                                    given_label=("given_label", "first"), learned_at=("learned_at", "first"),
                                    start=("epoch", "min"), end=("epoch", "max"))
    seg["end"] = seg["end"] + 1
    return seg.reset_index(drop=True)
