"""The band behind a live run: the pipeline's runs of the measured configuration nearest to the
visitor's, found in the app's one catalog (explainer/catalog.py) by its one distance.

A live run is described in the catalog's vocabulary (`settings`); the nearest configuration that has
per-epoch curves gives its runs, and their min–max over seeds per epoch is the band drawn behind the
run. When nothing is close (another kind of noise, another data set), there is no band, and the page
says so.
"""
from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from .. import artifacts as A, catalog as C
from .knobs import Knobs, lab_config

METRICS = ("train_acc_clean", "train_acc_corrupted", "val_acc")  # the curves a live run draws
MAX_DISTANCE = 2.0  # beyond this the nearest configuration is too different to draw (e.g. another noise kind)
# a live run's regularizers and augmentations, in the order in which one of them names its setting (the
# hidden dropout is compared in its own column too, so it comes last)
TREATMENTS = (("regularizer", "weight_decay"), ("augment", "rotation"), ("augment", "pixel_noise"),
              ("regularizer", "dropout"))


class Band(NamedTuple):
    frame: pd.DataFrame   # metric, epoch, lo, hi, mean, n
    name: str             # e.g. "E6 regularizers (`artifacts/e6/dropout`): MLP 2×128, 500 digits, ..."
    differences: str      # "" when the configuration matches the run's settings
    distance: float


def settings(k: Knobs) -> dict:
    """A live run in the catalog's vocabulary, with the run settings the catalog also compares."""
    out = {"dataset": lab_config().dataset, "arch": "mlp", "width": k.width, "depth": k.depth, "n_train": k.n_train,
           "kind": k.kind, "p": k.p, "image_size": 0, "dropout": k.dropout, "optimizer": k.optimizer, "lr": k.lr,
           "batch_size": k.batch_size}
    active = [(col, name) for col, name in TREATMENTS if getattr(k, name)]
    if active:
        col, name = active[0]
        out.update({col: name, "strength": float(getattr(k, name))})
    return out


def _unmatched(k: Knobs) -> list[str]:
    """The run's treatments beyond the one the catalog compares (no pipeline run combines them)."""
    active = [name for _, name in TREATMENTS[:-1] if getattr(k, name)]
    return [f"your run also uses {name.replace('_', ' ')} {getattr(k, name):g}, which no pipeline run "
            f"combines with {active[0].replace('_', ' ')}" for name in active[1:]]


def _name(row) -> str:
    noise = "clean labels" if row["kind"] == "none" else \
        f"{row['p']:.0%} {'random labels' if row['kind'] == 'randY' else 'random inputs'}"
    extra = [f"{name.replace('_', ' ')} {row['strength']:g}" for name in (row["regularizer"], row["augment"])
             if name != "none"]
    if row["dropout"] and row["regularizer"] != "dropout":
        extra.append(f"dropout {row['dropout']:g}")
    seeds = int(row["seeds"])
    return (f"{row['source']} (`{A.shown()}/{row['folder']}`): {str(row['arch']).upper()} {int(row['depth'])}×"
            f"{int(row['width'])}, {int(row['n_train']):,} digits, {noise}" + "".join(f", {e}" for e in extra)
            + f", {row['optimizer']} lr {row['lr']:g}, batch {int(row['batch_size'])}; {seeds} seed"
            + ("s" if seeds != 1 else "")
            + (" ⚠️ smoke profile: a plumbing test, its numbers mean nothing" if row["profile"] == "smoke" else ""))


def _frame(folder: str, runs: tuple) -> pd.DataFrame:
    """The min, max and mean over a configuration's runs of each curve, per epoch. Not cached beyond the
    curves table itself: a cache saved 8-15 ms of a 23 ms `nearest` (benchmarks/README.md, "Caches")."""
    curves = A.table(folder, "curves", numeric=["epoch", *METRICS])
    long = curves[curves["run"].isin(runs)].melt(id_vars=["epoch"], value_vars=list(METRICS), var_name="metric",
                                                 value_name="acc")
    return long.dropna(subset=["acc"]).groupby(["metric", "epoch"])["acc"].agg(
        lo="min", hi="max", mean="mean", n="count").reset_index()


def nearest(k: Knobs) -> Band | None:
    """The band of the measured configuration nearest to `k`, or None when none is close."""
    table, _ = C.measured()
    want = settings(k)
    found = C.nearest(table, want, where=table["curves"]) if len(table) else table
    if found.empty or found["distance"].iloc[0] > MAX_DISTANCE:
        return None
    best = found.iloc[0]
    try:
        frame = _frame(best["folder"], best["runs"])
    except A.Missing:
        return None
    gaps = C.differences(best, want) + _unmatched(k)
    return Band(frame[frame["epoch"] <= k.epochs], _name(best), "; ".join(gaps), float(best["distance"]))
