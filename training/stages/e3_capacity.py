"""E3 — capacity under noise: best validation accuracy by width and noise level (Fig. 5).

One item per noise kind (randX, randY). For every width and noise level p, `seeds` MLPs train on
the same stratified MNIST subset; the score is the best (clean) validation accuracy seen at any
epoch. Runs of one width share an architecture, so every noise level and seed of that width trains
together as one batched model. Each seed draws its own corruption (seed data_seed + seed), so the
spread over seeds covers the init, the data order and which examples are corrupted. p = 0 is the
clean run (kind "none" in the corruption, `kind` column still the item's kind).

Tables (artifacts/e3/<item>/):
- curves.csv: one row per run x epoch (epoch 0 = before training) — run, seed, width, kind, p,
  epoch, lr, train_loss, train_acc (on labels as given), train_acc_clean, train_acc_corrupted,
  train_acc_true, val_loss, val_acc, seconds.
- summary.csv: one row per run — run, seed, width, kind, p, best_val_acc, best_epoch, final_epoch,
  final_val_acc, final_train_acc, final_train_acc_clean, final_train_acc_corrupted.

Metrics JSON: per width and p the mean (and std) over seeds of best_val_acc ("w<width>_p<p>"), and
per p the smallest width whose mean best_val_acc is within `saturation_tol` of that p's best
("width_needed"): the paper's claim is that this grows with the noise level.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import data as D
from ..config import RunSpec, opt
from ..metrics import best_val
from .common import Context, Result, Work, dataset_size, fit_all, load_data, replace_model, seeds_field, stage_main


@dataclass(frozen=True)
class Config:
    dataset: str = opt("mnist10k", choices=D.DATASETS, help="data set")
    kind: str = opt("randY", choices=("randX", "randY"), help="noise kind of this item")
    n_train: int = opt(1000, lo=10, hi=60000, help="training examples (stratified subset)")
    n_val: int = opt(1000, lo=10, hi=10000, help="validation examples (stratified subset, never corrupted)")
    widths: tuple[int, ...] = opt((4, 16, 64, 256), lo=1, hi=8192, help="hidden units per layer; replaces run.model.width")
    noise: tuple[float, ...] = opt((0.0, 0.2, 0.4, 0.6, 0.8), lo=0.0, hi=1.0, help="fractions of corrupted training examples")
    seeds: tuple[int, ...] = seeds_field(3)
    data_seed: int = opt(0, lo=0, hi=2**31 - 1, help="seed of the subset; run seed s corrupts with data_seed + s")
    saturation_tol: float = opt(0.005, lo=0.0, hi=1.0, help="accuracy gap to the best width that still counts as saturated")
    run: RunSpec = opt(RunSpec(), help="model (except width) and optimiser shared by every run")


def runs_of(cfg: Config) -> tuple[list[RunSpec], list[D.Corruption], list[dict]]:
    """Every run of the stage: its spec, its corruption and the settings that label it."""
    specs, corrs, labels = [], [], []
    for width in cfg.widths:
        model = replace_model(cfg.run, width=width).model
        for p in sorted(set(cfg.noise)):
            for seed in cfg.seeds:
                specs.append(RunSpec(seed=seed, model=model, train=cfg.run.train))
                corrs.append(D.Corruption(cfg.kind if p > 0 else "none", p, cfg.data_seed + seed))
                labels.append({"width": width, "kind": cfg.kind, "p": p})
    return specs, corrs, labels


def workload(cfg: Config) -> list[Work]:
    shape, n_train, n_val = dataset_size(cfg.dataset, cfg.n_train, cfg.n_val)
    return [Work(f"{len(runs_of(cfg)[0])} runs", tuple(runs_of(cfg)[0]), shape, n_train=n_train, n_val=n_val,
                 epochs=cfg.run.train.epochs)]


def run(cfg: Config, ctx: Context) -> Result:
    train, val = load_data(ctx, cfg.dataset, cfg.n_train, cfg.n_val, cfg.data_seed)
    specs, corrs, labels = runs_of(cfg)
    ctx.log(f"{len(specs)} runs ({len(cfg.widths)} widths) on {len(train)} {cfg.dataset} examples, {cfg.kind}")
    curves, _ = fit_all(specs, corrs, train, val, ctx, labels)
    summary = _summary(curves)
    return Result(tables={"curves": curves, "summary": summary}, metrics=_headline(summary, cfg.saturation_tol))


def _summary(curves: pd.DataFrame) -> pd.DataFrame:
    """One row per run: the best validation accuracy (and its epoch) and the final epoch's scores."""
    last = curves.sort_values("epoch").groupby("run").tail(1).set_index("run").sort_index()
    best = best_val(curves)
    out = last[["seed", "width", "kind", "p"]].copy()
    out["best_val_acc"], out["best_epoch"] = best["best_val_acc"], best["best_epoch"]
    out["final_epoch"], out["final_val_acc"] = last["epoch"], last["val_acc"]
    for col in ("train_acc", "train_acc_clean", "train_acc_corrupted"):
        out[f"final_{col}"] = last[col]
    return out.reset_index()


def _headline(summary: pd.DataFrame, tol: float) -> dict:
    by = summary.groupby(["width", "p"])["best_val_acc"]
    mean, std = by.mean(), by.std(ddof=0)
    out: dict = {"kind": str(summary["kind"].iloc[0]), "best_val_acc": {}, "width_needed": {}}
    for (width, p), m in mean.items():
        out["best_val_acc"][f"w{width}_p{p:g}"] = {"mean": round(float(m), 4), "std": round(float(std[width, p]), 4)}
    for p, per_width in mean.groupby(level="p"):
        per_width = per_width.droplevel("p").sort_index()
        out["width_needed"][f"p{p:g}"] = int(per_width[per_width >= per_width.max() - tol].index.min())
    return out


def main(argv=None) -> None:
    stage_main("e3", Config, run, argv)


if __name__ == "__main__":
    main()
