"""E4 — time to convergence: epochs until the training set is fitted, by width and by data size (Fig. 6).

Time to convergence = the first epoch at which training accuracy, on the labels as given (noisy or
not), reaches `target` (the paper: 100 %). The grid is widths x sizes x noise conditions x seeds;
p = 0 is run once as the clean condition (kind "none"), every p > 0 once per kind in `kinds`.
Each seed draws its own corruption (seed data_seed + seed). The runs of one (size, condition, width)
train together as one batched model, which stops as soon as all of them have fitted or after
`max_epochs`; a run that never fits gets fit_epoch = NaN and fitted = False.

`image_size` shrinks the digits (14 x 14: d = 196 pixels) so that the ratio of examples to input
dimensions n/d, which decides how hard pure noise is to memorize, can approach the paper's (about 64
at 50,000 digits of 784 pixels) with the 8,000 digits of the shipped sample.

Normalisation (the paper plots relative times): along `axis`, each run's fit_epoch is divided by
the mean fit_epoch over seeds of the smallest value of that axis at the same condition (kind, p)
and the same value of the other axis. Item `width` (left panel): time / time of the narrowest
width at the same noise level. Item `size` (right panel): time / time of the smallest data set at
the same noise level. If any reference run did not fit, the reference (and so `normalised`) is NaN.

Tables (artifacts/e4/<item>/):
- curves.csv: one row per run x epoch (epoch 0 = before training) — run, the shared setting columns
  (common.SETTINGS: dataset, arch, width, depth, n_train, kind, p, regularizer, strength, augment, seed), epoch, lr, train_loss, train_acc (on labels as given), train_acc_clean, train_acc_corrupted,
  train_acc_true, val_loss, val_acc, seconds. A batch's rows end at the epoch it stopped.
- summary.csv: one row per run — run, the setting columns, fit_epoch (NaN if never),
  fitted, epochs_run, final_train_acc, ref_fit_epoch, normalised, normalised_by (e.g. "width=16").

Metrics JSON: see `headline`.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import data as D
from ..config import RunSpec, opt
from ..metrics import epochs_to_fit
from .common import (Context, Result, Work, dataset_size, fit_all, load_data, replace_model, replace_train, rounded,
                     seeds_field, setting_columns, stage_main)

AXIS_COLUMN = {"width": "width", "size": "n_train"}


@dataclass(frozen=True)
class Config:
    dataset: str = opt(choices=D.DATASETS, help="data set")
    axis: str = opt(choices=("width", "size"), help="the setting that varies and is normalised (the panel)")
    widths: tuple[int, ...] = opt(lo=1, hi=8192, help="hidden units per layer; replaces run.model.width")
    sizes: tuple[int, ...] = opt(lo=10, hi=60000, help="training set sizes (stratified subsets)")
    n_val: int = opt(lo=10, hi=10000, help="validation examples (clean; only for the curves)")
    kinds: tuple[str, ...] = opt(choices=("randX", "randY"), help="noise kinds for p > 0")
    noise: tuple[float, ...] = opt(lo=0.0, hi=1.0, help="fractions of corrupted examples")
    seeds: tuple[int, ...] = seeds_field()
    data_seed: int = opt(lo=0, hi=2**31 - 1, help="seed of the subsets; run seed s corrupts with data_seed + s")
    max_epochs: int = opt(lo=1, hi=100000, help="cap on epochs; replaces run.train.epochs")
    target: float = opt(lo=0.1, hi=1.0, help="training accuracy (labels as given) that counts as fitted")
    image_size: int = opt(lo=0, hi=64, help="images downscaled to this side before training (0 = as stored); "
                                               "fewer pixels d make n/d, and so the cost of memorizing noise, grow")
    run: RunSpec = opt(help="model (except width) and optimiser shared by every run")

    @staticmethod
    def from_item(item: str) -> dict:
        return {"axis": item}  # the item (width | size) is the panel's axis


def conditions(cfg: Config) -> list[tuple[str, float]]:
    out = [("none", 0.0)] if 0.0 in cfg.noise else []
    return out + [(k, p) for k in cfg.kinds for p in sorted(set(cfg.noise)) if p > 0]


class FitWatch:
    """on_epoch + stop for `fit`: stop a batch once every run in it has reached the target."""

    def __init__(self, target: float):
        self.target, self.fitted, self.k = target, set(), -1

    def on_epoch(self, report: dict) -> None:
        if report["epoch"] == 0:  # a new batch starts
            self.fitted, self.k = set(), len(report["rows"])
        self.fitted |= {r["run"] for r in report["rows"] if r["train_acc"] >= self.target - 1e-9}

    def stop(self) -> bool:
        return len(self.fitted) == self.k


def groups(cfg: Config, n: int, kind: str, p: float) -> tuple[list[RunSpec], list[D.Corruption], list[dict]]:
    """The runs at one training-set size and noise setting: every width x seed."""
    specs, corrs, labels = [], [], []
    for width in sorted(set(cfg.widths)):
        base = replace_train(replace_model(cfg.run, width=width), epochs=cfg.max_epochs)
        for seed in cfg.seeds:
            specs.append(RunSpec(seed=seed, model=base.model, train=base.train))
            corrs.append(D.Corruption(kind, p, cfg.data_seed + seed))
            labels.append({})
    return specs, corrs, labels


def workload(cfg: Config) -> list[Work]:
    shape, _, n_val = dataset_size(cfg.dataset, max(cfg.sizes), cfg.n_val)
    if cfg.image_size:
        shape = (shape[0], cfg.image_size, cfg.image_size)
    return [Work(f"n={n} {kind} p={p:g}", tuple(groups(cfg, n, kind, p)[0]), shape, n_train=n, n_val=n_val,
                 epochs=cfg.max_epochs, capped=True)
            for n in sorted(set(cfg.sizes)) for kind, p in conditions(cfg)]


def run(cfg: Config, ctx: Context) -> Result:
    full, val = load_data(ctx, cfg.dataset, max(cfg.sizes), cfg.n_val, cfg.data_seed)
    if max(cfg.sizes) > len(full):
        raise ValueError(f"e4 sizes: {max(cfg.sizes)} training examples asked for, {cfg.dataset} has {len(full)}")
    ctx.datasets[cfg.dataset]["sizes"] = sorted(set(cfg.sizes))
    if cfg.image_size:
        full, val = D.downscale(full, cfg.image_size), D.downscale(val, cfg.image_size)
        ctx.datasets[cfg.dataset]["image_size"] = cfg.image_size
    watch = FitWatch(cfg.target)
    frames, offset = [], 0
    for n in sorted(set(cfg.sizes)):
        train = D.stratified_subset(full, n, cfg.data_seed)  # smaller sets are drawn from the largest one
        for kind, p in conditions(cfg):
            specs, corrs, labels = groups(cfg, n, kind, p)
            ctx.log(f"n_train={n} {kind} p={p:g}: {len(specs)} runs, widths {sorted(set(cfg.widths))}")
            frame, histories = fit_all(specs, corrs, train, val, ctx, labels, on_epoch=watch.on_epoch, stop=watch.stop)
            for hist, chunk in histories:
                ctx.log(f"    width {specs[chunk[0]].model.width}: "
                        + (f"all fitted by epoch {hist.frame.epoch.max()}" if hist.stopped == "stop"
                           else f"not all fitted after {hist.frame.epoch.max()} epochs"))
            frame["run"] += offset
            offset += len(specs)
            frames.append(frame)
    curves = pd.concat(frames, ignore_index=True)
    summary = _summary(curves, cfg)
    return Result(tables={"curves": curves, "summary": summary}, metrics=headline(summary, cfg.axis))


def _summary(curves: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """One row per run: its fit epoch, and that time relative to the reference setting (see docstring)."""
    last = curves.sort_values("epoch").groupby("run").tail(1).set_index("run").sort_index()
    out = last[setting_columns(curves)].copy()
    out["fit_epoch"] = epochs_to_fit(curves, "train_acc", cfg.target)
    out["fitted"] = out["fit_epoch"].notna()
    out["epochs_run"], out["final_train_acc"] = last["epoch"], last["train_acc"]
    col = AXIS_COLUMN[cfg.axis]
    other = "n_train" if col == "width" else "width"
    ref_value = out[col].min()
    ref = (out[out[col] == ref_value].groupby(["kind", "p", other])["fit_epoch"]
           .agg(lambda s: s.mean(skipna=False)).rename("ref_fit_epoch"))
    out = out.join(ref, on=["kind", "p", other])
    out["normalised"] = out["fit_epoch"] / out["ref_fit_epoch"]
    out["normalised_by"] = f"{col}={ref_value}"
    return out.reset_index()


def headline(summary: pd.DataFrame, axis: str) -> dict:
    """Fig. 6, the paper-comparable ratios: the time to fit of the largest axis value (widest net or
    largest set) over the smallest, mean over seeds, on clean data (real) and with all inputs (randX)
    or all labels (randY) random, p = 1; None where some seed never fitted within the cap."""
    col = AXIS_COLUMN[axis]
    largest = summary[summary[col] == summary[col].max()]
    ratio = largest.groupby(["kind", "p"])["normalised"].agg(lambda s: s.mean(skipna=False))
    return {"real": rounded(ratio.get(("none", 0.0)), 3), "randX": rounded(ratio.get(("randX", 1.0)), 3),
            "randY": rounded(ratio.get(("randY", 1.0)), 3)}


def main(argv=None) -> None:
    stage_main("e4", Config, run, argv)


if __name__ == "__main__":
    main()
