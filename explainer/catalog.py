"""One catalog of every measured configuration, and one distance to find the nearest to a question.

`measured()` lists the runs of E3, E4, E5, E6 and augmentation in the selected result set (each item's
summary.csv), one row per configuration with its mean and spread over seeds, in the setting vocabulary
the pipeline writes (training/stages/common.SETTINGS): dataset, arch, width, depth, n_train, kind
(none|randX|randY), p, regularizer, strength, augment. Tables written before that vocabulary are read in
it by explainer/artifacts.py; a setting column a table lacks has its default (kind none, p 0, regularizer
none, strength 0, augment none), and what an item keeps fixed (dataset, arch, width, depth, n_train, and
the run settings the live lab also compares: hidden dropout, optimizer, lr, batch size) comes from its
manifest. `nearest(table, want)` ranks configurations by `distance`; page 9's console and the live lab's
band (explainer/lab/band.py) both ask it.
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from training.config import PARAMS, load_params

from . import artifacts as A

STAGES = {"e3": "E3 capacity", "e4": "E4 time to fit", "e5": "E5 partial noise", "e6": "E6 regularizers",
          "augment": "augmentation"}
SETTINGS = ["dataset", "arch", "width", "depth", "n_train", "kind", "p", "regularizer", "strength", "augment"]
DEFAULTS = {"kind": "none", "p": 0.0, "regularizer": "none", "strength": 0.0, "augment": "none"}
# the run settings the lab also compares: fixed per item (image_size: 0 = as stored, E4's size item shrinks the
# digits), except the hidden dropout E6's items sweep or pair with adversarial training
RUN = ["image_size", "dropout", "optimizer", "lr", "batch_size"]
OUTCOMES = ["best_val_acc", "final_train_acc", "fit_epoch"]
MNIST = {"mnist", "mnist10k"}  # the 10k sample is drawn from MNIST: a near miss, not another data set


def _fixed(m: dict) -> dict:
    """What an item keeps fixed, from its manifest."""
    cfg = m.get("config") or {}
    run = cfg.get("run") or {}
    model, train = run.get("model") or {}, run.get("train") or {}
    dataset = cfg.get("dataset") or next(iter(m.get("datasets") or {}), "?")
    data = (m.get("datasets") or {}).get(dataset) or {}
    cnn = model.get("arch", "mlp") == "cnn"
    return {"dataset": dataset, "arch": model.get("arch", "mlp"),
            "width": model.get("filters") if cnn else model.get("width"), "depth": 2 if cnn else model.get("depth", 2),
            "n_train": data.get("n_train", cfg.get("n_train")),
            "image_size": data.get("image_size", cfg.get("image_size", 0)),
            "dropout": model.get("dropout", 0.0), "optimizer": train.get("optimizer", "sgd"), "lr": train.get("lr"),
            "batch_size": train.get("batch_size")}


def rows_of(folder: str, summary: pd.DataFrame, m: dict) -> pd.DataFrame:
    """One item's summary.csv as catalog rows, one per run (missing setting columns filled)."""
    fixed, n = _fixed(m), len(summary)

    def column(col, default):
        return summary[col].to_numpy() if col in summary.columns else np.full(n, default, dtype=object)

    out = pd.DataFrame({col: column(col, DEFAULTS.get(col, fixed.get(col))) for col in [*SETTINGS, *RUN]})
    for col in ("width", "depth", "n_train", "p", "image_size", "lr", "batch_size"):
        out[col] = pd.to_numeric(out[col], errors="coerce")
    out.loc[out["p"] == 0, "kind"] = "none"  # p = 0 is clean data whatever the item's noise kind
    out["strength"] = pd.to_numeric(out["strength"]).astype(float).fillna(0.0)
    off = out["strength"] == 0  # a regularizer or augmentation at strength 0 is none at all
    out.loc[off, "regularizer"], out.loc[off, "augment"] = "none", "none"
    if "dropout" not in summary.columns:  # the dropout family's strength is its hidden dropout
        out.loc[out["regularizer"] == "dropout", "dropout"] = out["strength"]
    stage = folder.split("/")[0]
    extra = {"dropout": pd.to_numeric(out["dropout"]).astype(float).fillna(0.0).to_numpy(),
             **{col: (pd.to_numeric(summary[col], errors="coerce").to_numpy() if col in summary.columns
                      else np.full(n, np.nan)) for col in OUTCOMES},
             # NaN fit_epoch in a table that records it = never fitted
             **{f"has_{col}": col in summary.columns for col in OUTCOMES},
             "seed": column("seed", 0), "run": summary["run"].to_numpy() if "run" in summary.columns else np.arange(n),
             "source": STAGES.get(stage, stage), "folder": folder, "profile": m.get("profile", "?"),
             "curves": A.available(folder, "curves")}
    return out.drop(columns="dropout").assign(**extra)


@functools.lru_cache(maxsize=4)
def _made(params_mtime: int) -> frozenset[str]:
    """The items params.yaml makes (parsing it costs ~0.4 s: once per version of the file)."""
    try:
        params = load_params()
    except (OSError, ValueError):
        return frozenset()
    return frozenset(f"{stage}/{item}" for stage in STAGES for item, section in (params.get(stage) or {}).items()
                     if isinstance(section, dict))


def folders() -> list[str]:
    """The items the pipeline makes (params.yaml's, so a missing one can be named) and any others present."""
    try:
        stamp = PARAMS.stat().st_mtime_ns
    except OSError:
        stamp = 0
    present = {folder for folder in A.manifests() if folder.split("/")[0] in STAGES}
    return sorted(_made(stamp) | present)


def load_grid() -> tuple[pd.DataFrame, list[str]]:
    """Every measured run (one row per run) and the items that could not be read."""
    frames, problems = [], []
    for folder in folders():
        try:
            summary = A.table(folder, "summary", numeric=["seed"])
        except A.Missing:
            problems.append(folder)
            continue
        frames.append(rows_of(folder, summary, A.manifest(folder)))
    if not frames:
        return pd.DataFrame(columns=[*SETTINGS, *RUN, *OUTCOMES, "seed", "run", "source", "folder"]), problems
    return pd.concat(frames, ignore_index=True), problems


@A.derived  # building it costs ~0.3 s, a cached call ~1 ms, and each live panel asks once per arm per rerun
def measured() -> tuple[pd.DataFrame, list[str]]:
    """Every measured configuration (mean over seeds) and the items not measured yet; cached until the
    artifacts change (benchmarks/README.md, "Caches")."""
    grid, problems = load_grid()
    return (configs(grid) if len(grid) else grid), problems


def configs(grid: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread over seeds per measured configuration; `runs` lists its runs' ids."""
    keys = ["source", "folder", "profile", *SETTINGS, *RUN, "curves", *(f"has_{c}" for c in OUTCOMES)]
    g = grid.groupby(keys, dropna=False, sort=False)
    out = g[OUTCOMES].mean()
    out["best_val_sd"] = g["best_val_acc"].std().fillna(0.0)
    out["fitted_share"] = g["fit_epoch"].apply(lambda s: s.notna().mean())
    out["seeds"] = g["seed"].nunique()
    out["runs"] = g["run"].apply(lambda s: tuple(sorted(int(r) for r in s)))
    return out.reset_index()


# ---------------------------------------------------------------------------------------------
# The one distance: 0 only for equal settings; a different data set or architecture is far, a
# different noise kind (both noisy) or regularizer or augmentation a large step, sizes on a log2 scale


def _same(weight: float):
    return lambda col, v: weight * (col.astype(object) != v).to_numpy(dtype=float)


def _log(weight: float):
    return lambda col, v: weight * np.abs(np.log2(np.maximum(col.to_numpy(dtype=float), 1e-9) / max(float(v), 1e-9)))


def _linear(weight: float):
    return lambda col, v: weight * np.abs(col.to_numpy(dtype=float) - float(v))


def _relative(col, v) -> np.ndarray:
    """|a - b| / max(|a|, |b|): scale-free (a weight decay of 0.01 vs 0.001 is as far as rotation 30 vs 3)."""
    a, b = col.to_numpy(dtype=float), float(v)
    top = np.maximum(np.abs(a), abs(b))
    return np.divide(np.abs(a - b), top, out=np.zeros_like(a), where=top > 0)


def _dataset(col, v) -> np.ndarray:
    col = col.astype(object)
    return np.where(col == v, 0.0, np.where(col.isin(MNIST) & (v in MNIST), 1.0, 10.0))


def _kind(col, v) -> np.ndarray:  # clean vs noisy is the p term's job; here: two different kinds of noise
    col = col.astype(object)
    return 3.0 * ((col != v) & (col != "none") & (v != "none")).to_numpy(dtype=float)


TERMS = {"dataset": _dataset, "arch": _same(10.0), "width": _log(0.5), "depth": _linear(0.5), "n_train": _log(0.3),
         "kind": _kind, "p": _linear(3.0), "regularizer": _same(3.0), "augment": _same(3.0), "strength": _relative,
         "image_size": _same(3.0), "dropout": _linear(2.0), "optimizer": _same(0.5), "lr": _log(0.1),
         "batch_size": _log(0.1)}
UNKNOWN = 3.0  # a setting the catalog does not know for a row (NaN) counts as far


def asked(want: dict) -> dict:
    """A question with the vocabulary's defaults filled in (no regularizer, clean data, ...)."""
    unknown = set(want) - set(TERMS)
    if unknown:
        raise KeyError(f"the catalog compares {', '.join(TERMS)}; not {', '.join(sorted(unknown))}")
    out = {**DEFAULTS, **want}
    if float(out["p"]) == 0:
        out["kind"] = "none"
    if float(out["strength"]) == 0:
        out["regularizer"], out["augment"] = "none", "none"
    return out


def distance(table: pd.DataFrame, want: dict) -> np.ndarray:
    """How far each configuration is from `want` (a dict of TERMS keys; the others are not compared)."""
    d = np.zeros(len(table))
    for col, value in asked(want).items():
        d += np.nan_to_num(TERMS[col](table[col], value), nan=UNKNOWN)
    return d


def nearest(table: pd.DataFrame, want: dict, k: int = 1, where=None) -> pd.DataFrame:
    """The k configurations closest to `want`, nearest first (ties: the one with more seeds), with their
    `distance`; `where` (a boolean mask) leaves the others out."""
    d = distance(table, want)
    if where is not None:
        d = np.where(np.asarray(where, dtype=bool), d, np.inf)
    order = np.lexsort((-table["seeds"].to_numpy(dtype=float), d))[:k]
    order = order[np.isfinite(d[order])]
    return table.iloc[order].assign(distance=d[order])


def _noise(kind: str, p: float) -> str:
    return "clean" if float(p) == 0 else f"{kind} p = {float(p):g}"


def _treatment(s) -> str:
    if s["regularizer"] != "none":
        return f"regularizer {s['regularizer']} {float(s['strength']):g}"
    if s["augment"] != "none":
        return f"augmentation {s['augment']} {float(s['strength']):g}"
    return "no regularizer"


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else str(v)


def _equal(a, b) -> bool:
    try:
        return bool(np.isclose(float(a), float(b)))
    except (TypeError, ValueError):
        return a == b


NET = {"dataset": "data set", "arch": "architecture", "width": "width", "depth": "depth"}
TRAINING = {"image_size": "image size (0: as stored)", "dropout": "hidden dropout", "optimizer": "optimizer",
            "lr": "lr", "batch_size": "batch"}


def differences(row, want: dict) -> list[str]:
    """How a measured configuration differs from the one asked for, in words ('width 256 instead of 512')."""
    want = asked(want)
    def plain(names: dict) -> list[str]:
        return [f"{what} {_fmt(row[col])} instead of {_fmt(want[col])}" for col, what in names.items()
                if col in want and not _equal(row[col], want[col])]

    notes = plain(NET)
    if "n_train" in want and not _equal(row["n_train"], want["n_train"]):
        notes.append(f"{int(row['n_train']):,} training examples instead of {int(want['n_train']):,}")
    if not _equal(row["p"], want["p"]) or row["kind"] != want["kind"]:
        notes.append(f"noise {_noise(row['kind'], row['p'])} instead of {_noise(want['kind'], want['p'])}")
    if _treatment(row) != _treatment(want):
        notes.append(f"{_treatment(row)} instead of {_treatment(want)}")
    return notes + plain(TRAINING)


def lookup(dataset: str, arch: str, **want) -> tuple[dict[str, pd.Series], pd.DataFrame]:
    """`answer` and the three nearest configurations of one network's grid (not cached: ~17 ms on a loaded
    2-core machine, benchmarks/README.md "Caches"; the catalog it reads is)."""
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
