"""E3 — capacity under noise: best validation accuracy by width and noise level (Fig. 5).

One item per noise kind (randX, randY). For every width and noise level p, `seeds` MLPs train on
the same stratified MNIST subset; the score is the best (clean) validation accuracy seen at any
epoch. Runs of one width share an architecture, so every noise level and seed of that width trains
together as one batched model. Each seed draws its own corruption (seed data_seed + seed), so the
spread over seeds covers the init, the data order and which examples are corrupted. p = 0 is the
clean run (kind "none").

Tables (artifacts/e3/<item>/):
- curves.csv: one row per run x epoch (epoch 0 = before training) — run, the shared setting columns
  (common.SETTINGS: dataset, arch, width, depth, n_train, kind, p, regularizer, strength, augment, seed),
  epoch, lr, train_loss, train_acc (on labels as given), train_acc_clean, train_acc_corrupted,
  train_acc_true, val_loss, val_acc, seconds.
- summary.csv: one row per run — run, the setting columns, common.per_run's final and best columns.
- widths.csv: Fig. 5 — per width and p: best_val_acc (mean over seeds), best_val_acc_std, seeds, and
  saturated (within `saturation_tol` of the best width at that p: the paper's claim is that the width
  needed grows with the noise level).

Metrics JSON: see `headline`.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import data as D
from ..config import RunSpec, opt
from .common import Context, Result, Work, fit_all, load_data, one_group, per_run, replace_model, rounded, seeds_field, stage_main


@dataclass(frozen=True)
class Config:
    dataset: str = opt(choices=D.DATASETS, help="data set")
    kind: str = opt(choices=("randX", "randY"), help="noise kind of this item")
    n_train: int = opt(lo=10, hi=60000, help="training examples (stratified subset)")
    n_val: int = opt(lo=10, hi=10000, help="validation examples (stratified subset, never corrupted)")
    widths: tuple[int, ...] = opt(lo=1, hi=8192, help="hidden units per layer; replaces run.model.width")
    noise: tuple[float, ...] = opt(lo=0.0, hi=1.0, help="fractions of corrupted training examples")
    seeds: tuple[int, ...] = seeds_field()
    data_seed: int = opt(lo=0, hi=2**31 - 1, help="seed of the subset; run seed s corrupts with data_seed + s")
    saturation_tol: float = opt(lo=0.0, hi=1.0, help="accuracy gap to the best width that still counts as saturated")
    run: RunSpec = opt(help="model (except width) and optimiser shared by every run")

    @staticmethod
    def from_item(item: str) -> dict:
        return {"kind": item}  # the item (randX | randY) is the noise kind


def runs_of(cfg: Config) -> tuple[list[RunSpec], list[D.Corruption], list[dict]]:
    """Every run of the stage: its spec, its corruption and the settings that label it."""
    specs, corrs, labels = [], [], []
    for width in cfg.widths:
        model = replace_model(cfg.run, width=width).model
        for p in sorted(set(cfg.noise)):
            for seed in cfg.seeds:
                specs.append(RunSpec(seed=seed, model=model, train=cfg.run.train))
                corrs.append(D.Corruption(cfg.kind if p > 0 else "none", p, cfg.data_seed + seed))
                labels.append({})
    return specs, corrs, labels


def workload(cfg: Config) -> list[Work]:
    return one_group(cfg, runs_of(cfg)[0])


def run(cfg: Config, ctx: Context) -> Result:
    train, val = load_data(ctx, cfg.dataset, cfg.n_train, cfg.n_val, cfg.data_seed)
    specs, corrs, labels = runs_of(cfg)
    ctx.log(f"{len(specs)} runs ({len(cfg.widths)} widths) on {len(train)} {cfg.dataset} examples, {cfg.kind}")
    curves, _ = fit_all(specs, corrs, train, val, ctx, labels)
    summary = per_run(curves)
    widths = _widths(summary, cfg.saturation_tol)
    return Result(tables={"curves": curves, "summary": summary, "widths": widths},
                  metrics=headline(summary, cfg.kind))


def _widths(summary: pd.DataFrame, tol: float) -> pd.DataFrame:
    """Fig. 5 as a table: per width and noise level, best validation accuracy over seeds (mean, sd) and
    whether the width is saturated (within `tol` of the best width at that level)."""
    by = summary.groupby(["width", "p"])["best_val_acc"]
    out = pd.DataFrame({"best_val_acc": by.mean(), "best_val_acc_std": by.std(ddof=0), "seeds": by.size()}).reset_index()
    top = out.groupby("p")["best_val_acc"].transform("max")
    out["saturated"] = out["best_val_acc"] >= top - tol
    return out


def headline(summary: pd.DataFrame, kind: str) -> dict:
    """Fig. 5, means over seeds: real = best validation accuracy of the widest net on clean data;
    randX or randY (this item's kind) = the same at the highest noise level; gap = what the widest net
    gains over the middle width at that level (the paper: more capacity helps more under noise)."""
    mean = summary.groupby(["width", "p"])["best_val_acc"].mean()
    widths = sorted(summary["width"].unique())
    wide, mid, top = widths[-1], widths[len(widths) // 2], summary["p"].max()
    return {"real": rounded(mean.get((wide, 0.0))), kind: rounded(mean[wide, top]),
            "gap": rounded(mean[wide, top] - mean[mid, top])}


def main(argv=None) -> None:
    stage_main("e3", Config, run, argv)


if __name__ == "__main__":
    main()
