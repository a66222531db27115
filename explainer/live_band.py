"""The band behind a live run: the pipeline's runs of the configuration nearest to the visitor's.

Every stage's curves.csv (E3, E4, E5, E6, augmentation) on MNIST is read once per file version and
split into configurations: the settings a stage keeps fixed come from its manifest, the ones it
sweeps from the table's columns (width, n_train, kind/p or labels, the regularizer or
augmentation and its strength). A live run is matched to the nearest configuration by a weighted
distance over those settings; its min–max over seeds per epoch is the band drawn behind the run.
When nothing is close (another kind of noise, another data set), there is no band, and the page says so.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import pandas as pd
import streamlit as st

from . import artifacts as A
from .live_knobs import Knobs

METRICS = ("train_acc_clean", "train_acc_corrupted", "val_acc")
STAGE_NAME = {"e3": "E3 capacity", "e4": "E4 time to fit", "e5": "E5 partial noise", "e6": "E6 regularizers",
              "augment": "augmentation"}
MAX_DISTANCE = 2.0  # beyond this the nearest configuration is too different to draw (e.g. another noise kind)
AUGMENT_FIELD = {"rotation": "rotation", "pixel_noise": "pixel_noise"}
REGULARIZER_FIELD = {"dropout": "dropout", "weight_decay": "weight_decay"}


class Band(NamedTuple):
    frame: pd.DataFrame   # epoch, metric, lo, hi, mean, n
    name: str             # e.g. "E6 regularizers (artifacts/e6/dropout): MLP 2×128, 500 digits, ..."
    differences: str      # "" when the configuration matches the run's settings
    distance: float


def _base(m: dict) -> dict:
    """The settings a stage keeps fixed, from its manifest."""
    cfg = m.get("config", {})
    run = cfg.get("run", {}) or {}
    model, train = run.get("model", {}) or {}, run.get("train", {}) or {}
    aug = train.get("augment", {}) or {}
    dataset = cfg.get("dataset") or next(iter(m.get("datasets", {})), "?")
    return {"dataset": dataset, "arch": model.get("arch", "mlp"),
            "n_train": (m.get("datasets", {}).get(dataset) or {}).get("n_train", cfg.get("n_train")),
            "width": model.get("width"), "depth": model.get("depth", 2), "dropout": model.get("dropout", 0.0),
            "optimizer": train.get("optimizer", "sgd"), "lr": train.get("lr"), "batch_size": train.get("batch_size"),
            "weight_decay": train.get("weight_decay", 0.0), "rotation": aug.get("rotation", 0.0),
            "pixel_noise": aug.get("pixel_noise", 0.0), "other": 0.0, "kind": "none", "p": 0.0}


def _settings(base: dict, key: dict) -> dict:
    """One configuration's settings: the manifest's, overridden by the columns that vary."""
    s = dict(base)
    for col in ("width", "n_train", "dropout"):
        if col in key and pd.notna(key[col]):
            s[col] = key[col]
    if "labels" in key:  # E6 / augmentation: real | partial | random (randY)
        p = {"real": 0.0, "random": 1.0}.get(key["labels"], key.get("p", 0.0))
        s["kind"], s["p"] = ("randY", float(p)) if p else ("none", 0.0)
    elif "kind" in key:
        p = float(key.get("p", 0.0) or 0.0)
        s["kind"], s["p"] = (key["kind"], p) if p > 0 and key["kind"] != "none" else ("none", 0.0)
    family, strength = key.get("family", key.get("augment")), float(key.get("strength", 0.0) or 0.0)
    if family and family != "none" and strength:
        field = REGULARIZER_FIELD.get(family) or AUGMENT_FIELD.get(family)
        if field:
            s[field] = strength
        else:
            s["other"] = strength
    return s


@st.cache_data(show_spinner=False, max_entries=8)
def _catalog(stamp: tuple) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(configurations, bands) of every MNIST curves table; `stamp` = `A.generation()` (cache key)."""
    configs, bands = [], []
    for folder, m in A.manifests().items():
        if not A.available(folder, "curves"):
            continue
        base = _base(m)
        if not str(base["dataset"]).startswith("mnist") or base["arch"] != "mlp":
            continue
        try:
            curves = A.table(folder, "curves", numeric=["epoch", *METRICS])
        except A.Missing:
            continue
        keys = [c for c in ("width", "n_train", "kind", "p", "labels", "family", "strength", "dropout", "augment")
                if c in curves.columns]
        # one groupby per table (not one per configuration): configurations are numbered in group order
        curves = curves.assign(gid=len(configs) + (curves.groupby(keys, dropna=False, sort=True).ngroup()
                                                    if keys else 0))
        seeds = curves.groupby("gid")["seed"].nunique() if "seed" in curves else {}
        firsts = curves.drop_duplicates("gid").set_index("gid")
        for g in sorted(firsts.index):
            values = {k: firsts.at[g, k] for k in keys}
            configs.append({"gid": int(g), "folder": folder, "profile": m.get("profile", "?"),
                            "seeds": int(seeds.get(g, 1)), **_settings(base, values)})
        long = curves.melt(id_vars=["gid", "epoch"], value_vars=list(METRICS), var_name="metric", value_name="acc")
        bands.append(long.dropna(subset=["acc"]).groupby(["gid", "metric", "epoch"])["acc"].agg(
            lo="min", hi="max", mean="mean", n="count").reset_index())
    return pd.DataFrame(configs), (pd.concat(bands, ignore_index=True) if bands else pd.DataFrame())


def _log_gap(a, b, floor: float = 1e-9) -> float:
    try:
        return abs(math.log2(max(float(a), floor) / max(float(b), floor)))
    except (TypeError, ValueError):
        return 3.0  # unknown setting: count it as far


def distance(k: Knobs, s: dict) -> float:
    """How far a pipeline configuration is from a live run (0 = the same settings)."""
    d = 3.0 * (k.kind != s["kind"]) + 3.0 * abs(k.p - float(s["p"]))
    d += 0.5 * _log_gap(k.width, s["width"]) + 0.5 * abs(k.depth - int(s["depth"] or 2))
    d += 0.3 * _log_gap(k.n_train, s["n_train"]) + 0.1 * _log_gap(k.batch_size, s["batch_size"])
    d += 0.5 * (k.optimizer != s["optimizer"]) + 0.1 * _log_gap(k.lr, s["lr"])
    d += 2.0 * abs(k.dropout - float(s["dropout"] or 0)) + 0.2 * _log_gap(k.weight_decay, s["weight_decay"] or 0, 1e-4)
    d += abs(k.rotation - float(s["rotation"] or 0)) / 30 + abs(k.pixel_noise - float(s["pixel_noise"] or 0)) / 0.3
    return d + 2.0 * float(s["other"] or 0) + 0.5 * (s["dataset"] != "mnist10k")


def _name(s: dict) -> str:
    stage = STAGE_NAME.get(s["folder"].split("/")[0], s["folder"])
    noise = "clean labels" if s["kind"] == "none" else \
        f"{s['p']:.0%} {'random labels' if s['kind'] == 'randY' else 'random inputs'}"
    extra = [f"{f.replace('_', ' ')} {s[f]:g}" for f in ("dropout", "weight_decay", "rotation", "pixel_noise") if s[f]]
    return (f"{stage} (`artifacts/{s['folder']}`): MLP {int(s['depth'])}×{int(s['width'])}, {int(s['n_train']):,} "
            f"digits, {noise}" + (", " + ", ".join(extra) if extra else "") + f", {s['optimizer']} lr {s['lr']:g}, "
            f"batch {int(s['batch_size'])}; {int(s['seeds'])} seed{'s' if s['seeds'] != 1 else ''}"
            + (" ⚠️ smoke profile: a plumbing test, its numbers mean nothing" if s["profile"] == "smoke" else ""))


def _differences(k: Knobs, s: dict) -> str:
    pairs = [("width", k.width, s["width"]), ("depth", k.depth, s["depth"]), ("digits", k.n_train, s["n_train"]),
             ("optimizer", k.optimizer, s["optimizer"]), ("lr", k.lr, s["lr"]), ("batch", k.batch_size, s["batch_size"]),
             ("noise", k.p, s["p"]), ("dropout", k.dropout, s["dropout"]), ("weight decay", k.weight_decay, s["weight_decay"]),
             ("rotation", k.rotation, s["rotation"]), ("pixel noise", k.pixel_noise, s["pixel_noise"])]
    out = []
    for what, mine, theirs in pairs:
        if isinstance(mine, str) or isinstance(theirs, str):
            same = mine == theirs
        else:
            same = theirs is not None and abs(float(mine) - float(theirs or 0)) < 1e-9
        if not same:
            out.append(f"{what} {mine:g} here vs {theirs:g} there" if not isinstance(mine, str) and theirs is not None
                       else f"{what} {mine} here vs {theirs} there")
    if s["other"]:
        out.append("the pipeline run also used another regularizer")
    return "; ".join(out)


def nearest(k: Knobs) -> Band | None:
    """The band of the pipeline configuration nearest to `k`, or None when none is close."""
    configs, bands = _catalog(A.generation())
    if configs.empty:
        return None
    dist = configs.apply(lambda row: distance(k, row.to_dict()), axis=1)
    best = configs.loc[dist.idxmin()].to_dict()
    if dist.min() > MAX_DISTANCE:
        return None
    frame = bands[bands["gid"] == best["gid"]].drop(columns="gid")
    frame = frame[frame["epoch"] <= k.epochs]
    return Band(frame, _name(best), _differences(k, best), float(dist.min()))
