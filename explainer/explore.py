"""Page 9's explorer: every measured run of E3, E4, E5 and E6 as one table of settings and outcomes,
and the measured configuration nearest to what a reader asks for."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import artifacts as A

SETTINGS = ["source", "dataset", "arch", "width", "n_train", "kind", "p", "regularizer", "strength"]
OUTCOMES = ["best_val_acc", "final_train_acc", "fit_epoch"]
SOURCES = {"e3/randX": "E3 capacity", "e3/randY": "E3 capacity", "e4/width": "E4 time to fit",
           "e4/size": "E4 time to fit", "e5/mnist10k": "E5 partial noise", "e5/cifar10": "E5 partial noise",
           **{f"e6/{f}": "E6 regularizers" for f in
              ("dropout", "input_dropout", "input_noise", "hidden_noise", "weight_decay", "adversarial",
               "cifar_dropout", "cifar_adversarial")}}


def _setting(m: dict, folder: str) -> dict:
    """Settings a stage keeps fixed, from its manifest: data set, architecture, width, training size."""
    model = m.get("config", {}).get("run", {}).get("model", {})
    data = next(iter(m.get("datasets", {}).items()), (m.get("config", {}).get("dataset", "?"), {}))
    arch = model.get("arch", "mlp")
    return {"source": SOURCES.get(folder, folder), "dataset": data[0], "arch": arch,
            "width": model.get("width") if arch == "mlp" else model.get("filters"),
            "n_train": data[1].get("n_train")}


def rows_of(folder: str, summary: pd.DataFrame, m: dict) -> pd.DataFrame:
    """One stage's summary.csv as explorer rows (missing columns filled from the manifest)."""
    fixed = _setting(m, folder)
    out = pd.DataFrame(index=summary.index)
    for col in SETTINGS:
        out[col] = summary[col] if col in summary.columns else fixed.get(col)
    if folder.startswith("e6/"):
        random = summary["labels"].eq("random")
        out["kind"], out["p"] = np.where(random, "randY", "none"), np.where(random, 1.0, 0.0)
        family = summary["family"] if "family" in summary.columns else pd.Series(folder.split("/")[1], summary.index)
        drop = summary["dropout"] if "dropout" in summary.columns else pd.Series(0.0, summary.index)
        # the adversarial items pair each weight with a dropout rate: both are part of the setting
        out["regularizer"] = [f"{f} + dropout {d:g}" if f == "adversarial" and d > 0 else f
                              for f, d in zip(family, drop)]
    else:
        out["regularizer"], out["strength"] = "none", 0.0
    out["p"] = out["p"].astype(float)
    out.loc[out["p"] == 0, "kind"] = "none"  # p = 0 is clean data whatever the item's noise kind
    out["strength"] = out["strength"].astype(float).fillna(0.0)
    for col in OUTCOMES:
        out[col] = pd.to_numeric(summary[col], errors="coerce") if col in summary.columns else np.nan
        out[f"has_{col}"] = col in summary.columns  # NaN fit_epoch in a table that records it = never fitted
    out["seed"] = summary["seed"] if "seed" in summary.columns else 0
    out["folder"] = folder
    return out


def load_grid() -> tuple[pd.DataFrame, list[str]]:
    """All measured runs (one row per run) and the folders that could not be read."""
    frames, problems = [], []
    for folder in SOURCES:
        try:
            summary = A.table(folder, "summary", numeric=["seed"])
        except A.Missing:
            problems.append(folder)
            continue
        frames.append(rows_of(folder, summary, A.manifest(folder)))
    grid = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=[*SETTINGS, *OUTCOMES, *(f"has_{c}" for c in OUTCOMES), "seed", "folder"])
    return grid, problems


@A.derived
def measured() -> tuple[pd.DataFrame, list[str]]:
    """Every measured configuration (mean over seeds) and the grids not measured yet; cached."""
    grid, problems = load_grid()
    return (configs(grid) if len(grid) else grid), problems


def configs(grid: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread over seeds per measured configuration."""
    keys = [*SETTINGS, "folder", *(f"has_{c}" for c in OUTCOMES)]
    g = grid.groupby(keys, dropna=False)
    out = g[OUTCOMES].mean()
    out["best_val_sd"] = g["best_val_acc"].std().fillna(0.0)
    out["fitted_share"] = g["fit_epoch"].apply(lambda s: s.notna().mean())
    out["seeds"] = g["seed"].nunique()
    return out.reset_index()


def nearest(table: pd.DataFrame, want: dict, k: int = 3) -> pd.DataFrame:
    """The k configurations closest to `want` (width, n_train, kind, p, regularizer, strength): widths and
    sizes compared on a log2 scale, a different noise kind or regularizer counts as a large step."""
    log_w = np.log2(table["width"].astype(float).clip(lower=1))
    log_n = np.log2(table["n_train"].astype(float).clip(lower=1))
    dist = (np.abs(log_w - np.log2(max(want["width"], 1))) / 4
            + np.abs(log_n - np.log2(max(want["n_train"], 1))) / 4
            + np.abs(table["p"] - want["p"]) * 2
            + (table["kind"] != want["kind"]) * (want["p"] > 0) * 1.0
            + (table["regularizer"] != want["regularizer"]) * 3.0
            + np.abs(table["strength"] - want.get("strength", 0.0)) / (1 + abs(want.get("strength", 0.0))))
    out = table.assign(distance=dist.to_numpy()).sort_values(["distance", "seeds"], ascending=[True, False])
    return out.head(k)


def differences(row: pd.Series, want: dict) -> list[str]:
    """How a measured configuration differs from the one asked for, in words ('width 256 instead of 512')."""
    notes = []
    if int(row["width"]) != int(want["width"]):
        notes.append(f"width {int(row['width'])} instead of {int(want['width'])}")
    if int(row["n_train"]) != int(want["n_train"]):
        notes.append(f"{int(row['n_train']):,} training examples instead of {int(want['n_train']):,}")
    if not np.isclose(row["p"], want["p"]) or (want["p"] > 0 and row["kind"] != want["kind"]):
        notes.append(f"noise {row['kind']} p = {row['p']:g} instead of {want['kind']} p = {want['p']:g}")
    if row["regularizer"] != want["regularizer"] or not np.isclose(row["strength"], want.get("strength", 0.0)):
        notes.append(f"regularizer {row['regularizer']} {row['strength']:g} instead of "
                     f"{want['regularizer']} {want.get('strength', 0.0):g}")
    return notes



@A.derived
def lookup(dataset: str, arch: str, **want) -> tuple[dict[str, pd.Series], pd.DataFrame]:
    """`answer` and the three nearest configurations of one network's grid; cached per question."""
    table, _ = measured()
    table = table[(table["dataset"] == dataset) & (table["arch"] == arch)]
    return answer(table, want), nearest(table, want, k=3)


def answer(table: pd.DataFrame, want: dict) -> dict[str, pd.Series]:
    """For each outcome, the nearest configuration whose stage measures it (E4 records no validation
    accuracy, E3 no time to fit). Outcomes no stage measured are left out."""
    out = {}
    for col in OUTCOMES:
        has = table[table[f"has_{col}"].astype(bool)]
        if len(has):
            out[col] = nearest(has, want, k=1).iloc[0]
    return out
