"""E2 — loss-sensitivity (Figs. 3, 4).

A 2x16 MLP trains with plain SGD on `n_examples` MNIST digits downscaled to 14x14. At every step t
the loss L_t is differentiated, through the last `window` unrolled SGD steps, with respect to the
training inputs of those steps: g_x^t = ||dL_t/dx||_1 (training.metrics.loss_sensitivity). Its mean
over the steps so far, one number per example, is summarised by its Gini coefficient at log-spaced
steps: high when a few examples carry most of the sensitivity (patterns), low when it is spread
evenly (memorization).

Panels and conditions (inputs replaced by Gaussian noise with the digits' mean and std, randX):
- labels: "real" (digits, true labels), "50% real" (a fraction `half` of the inputs replaced),
  "random" (every input replaced; labels kept);
- own_class: every example is its own class (n_examples classes): "real" vs "random" inputs.
Every condition runs once per seed; runs of one panel train together as one batched model, and a
seed gives the same init and data order in every condition of its panel (paired comparison). Each
seed draws its own noise (seed data_seed + seed). Runs are on the CPU whatever `device` says: the
model is tiny and a step costs Python overhead, not arithmetic.

Tables (artifacts/e2/):
- gini.csv: panel, condition, p (share of noise inputs), seed, step, gini, loss (that step's batch).
- matrix.csv (Fig. 4, labels panel, "real" and "random"): condition, seed, loss_class, input_class,
  value (mean over every `matrix_every`-th step of sum_x ||dL_t(loss_class examples)/dx||_1 over the
  inputs x of input_class), share (value / the seed's matrix total).
- examples.csv: panel, condition, seed, example (index in the source file), label (digit class),
  noise (input replaced), g (mean sensitivity over all steps), rank (0 = most sensitive).
- summary.csv: one row per panel x condition — panel, condition, p, seeds, final_step, gini_mean,
  gini_std, dip_gini (lowest mean Gini), dip_step, off_diagonal (mean share off the diagonal; labels
  panel only), off_diagonal_std.
Metrics JSON: final Gini per panel/condition (mean and std over seeds) and the off-diagonal share of
the class matrix per condition.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .. import data as D
from ..config import ConfigError, opt
from ..sensitivity import loss_sensitivity
from .common import Context, Result, parallel_map, seeds_field, stage_main

PANELS = ("labels", "own_class")


@dataclass(frozen=True)
class Config:
    dataset: str = opt("mnist10k", choices=("mnist10k", "mnist"), help="digits (training split)")
    n_examples: int = opt(1000, lo=20, hi=60000, help="training digits (stratified subset; paper: 1000)")
    size: int = opt(14, lo=4, hi=28, help="digits downscaled to size x size pixels (paper: 14)")
    half: float = opt(0.5, lo=0.0, hi=1.0, help="share of noise inputs in the '50% real' condition")
    panels: tuple[str, ...] = opt(PANELS, choices=PANELS, help="labels: digit classes; own_class: one class per example")
    seeds: tuple[int, ...] = seeds_field(3)
    data_seed: int = opt(0, lo=0, hi=2**31 - 1, help="seed of the subset; seed s draws its noise with data_seed + s")
    width: int = opt(16, lo=1, hi=4096, help="hidden units per layer (paper: 16)")
    depth: int = opt(2, lo=1, hi=8, help="hidden layers (paper: 2)")
    lr: float = opt(0.004, lo=1e-6, hi=10.0, help="SGD learning rate per step, labels panel")
    own_lr: float = opt(0.04, lo=1e-6, hi=10.0, help="SGD learning rate per step, own_class panel")
    batch_size: int = opt(32, lo=1, hi=60000, help="examples per SGD step")
    steps: int = opt(6000, lo=2, hi=10_000_000, help="SGD steps (paper: 100,000)")
    window: int = opt(1, lo=1, hi=100, help="earlier SGD steps unrolled to reach the inputs that L_t depends on")
    checkpoints: int = opt(12, lo=1, hi=1000, help="log-spaced steps at which the Gini is recorded")
    first_checkpoint: int = opt(50, lo=1, hi=10_000_000, help="first of them (before ~1 epoch, unseen examples inflate it)")
    matrix_every: int = opt(10, lo=0, hi=1_000_000, help="steps between class-matrix measurements (0 = no matrix)")

    def __post_init__(self):
        if self.first_checkpoint > self.steps:
            raise ConfigError(f"first_checkpoint = {self.first_checkpoint} is out of range; allowed: "
                              f"1 ≤ first_checkpoint ≤ steps ({self.steps})")


def conditions(cfg: Config, panel: str) -> list[tuple[str, float]]:
    if panel == "labels":
        return [("real", 0.0), ("50% real", cfg.half), ("random", 1.0)]
    return [("real", 0.0), ("random", 1.0)]


def checkpoint_steps(cfg: Config) -> list[int]:
    steps = np.geomspace(cfg.first_checkpoint, cfg.steps, cfg.checkpoints).round().astype(int)
    return sorted(set(steps.tolist()) | {cfg.steps})


def run(cfg: Config, ctx: Context) -> Result:
    train, _ = D.load(cfg.dataset)
    train = D.downscale(D.stratified_subset(train, cfg.n_examples, cfg.data_seed), cfg.size)
    ctx.datasets[cfg.dataset] = {"source": train.source, "n_train": len(train), "train_name": train.name}
    marks = checkpoint_steps(cfg)
    workers = min(len(cfg.panels), torch.get_num_threads())
    tables = _panels(cfg, ctx, train, marks)
    result = Result(tables=tables)
    result.tables["summary"] = _summary(tables["gini"], tables.get("matrix"))
    result.metrics = _headline(result.tables["summary"])
    result.extra.update(checkpoint_steps=marks, panel_workers=max(1, workers))
    return result


def _train_panel(**kw):
    """One panel's batched runs on one thread (tiny ops: a second thread only adds waiting)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.monotonic()
        return (*loss_sensitivity(**kw), time.monotonic() - t0)
    finally:
        torch.set_num_threads(threads)


def _panels(cfg: Config, ctx: Context, train: D.Images, marks: list[int]) -> dict[str, pd.DataFrame]:
    """Every panel's runs, trained as one batched model per panel: the gini, matrix and examples tables."""
    mean, std = train.pixel_stats()
    gini, matrices, examples = [], [], []
    jobs, panel_runs, panel_noise = [], [], []
    for panel in cfg.panels:
        runs = [(cond, p, seed) for cond, p in conditions(cfg, panel) for seed in cfg.seeds]
        xs, noisy = [], []
        for _, p, seed in runs:
            x, replaced = D.rand_inputs(train.x, p, cfg.data_seed + seed, mean, std)
            xs.append(x)
            noisy.append(replaced)
        own = panel == "own_class"
        jobs.append(dict(
            x=torch.stack(xs), y=D.own_class_labels(len(train)) if own else train.y,
            n_classes=len(train) if own else 10, width=cfg.width, depth=cfg.depth,
            lr=cfg.own_lr if own else cfg.lr, batch_size=cfg.batch_size, steps=cfg.steps, window=cfg.window,
            checkpoints=marks, seed=[seed for _, _, seed in runs], matrix_every=0 if own else cfg.matrix_every,
            class_labels=train.y))
        panel_runs.append(runs)
        panel_noise.append(noisy)
    # the panels are independent: one worker process each when there are cores for it
    for panel, runs, noisy, (table, g, matrix, seconds) in zip(cfg.panels, panel_runs, panel_noise,
                                                               parallel_map(_train_panel, jobs)):
        ctx.log(f"{panel}: {len(runs)} runs x {cfg.steps} steps in {seconds:.1f}s")
        info = pd.DataFrame(runs, columns=["condition", "p", "seed"])
        table = info.iloc[table.pop("run").to_numpy()].reset_index(drop=True).join(table)
        table.insert(0, "panel", panel)
        gini.append(table)
        for r, (c, _, s) in enumerate(runs):
            examples.append(pd.DataFrame({
                "panel": panel, "condition": c, "seed": s, "example": train.index.numpy(), "label": train.y.numpy(),
                "noise": noisy[r].numpy(), "g": g[r], "rank": np.argsort(np.argsort(-g[r], kind="stable"))}))
            if matrix is not None and c in ("real", "random"):
                matrices.append(_matrix_rows(matrix[r], c, s))
    tables = {"gini": pd.concat(gini, ignore_index=True)}
    if matrices:
        tables["matrix"] = pd.concat(matrices, ignore_index=True)
    tables["examples"] = pd.concat(examples, ignore_index=True)
    return tables


def _matrix_rows(m: np.ndarray, condition: str, seed: int) -> pd.DataFrame:
    """One row per (loss class, input class) cell of one run's 10x10 matrix."""
    loss_class, input_class = np.meshgrid(np.arange(10), np.arange(10), indexing="ij")
    total = m.sum()
    return pd.DataFrame({"condition": condition, "seed": seed, "loss_class": loss_class.ravel(),
                         "input_class": input_class.ravel(), "value": m.ravel(),
                         "share": m.ravel() / total if total > 0 else np.nan})


def off_diagonal(matrix: pd.DataFrame) -> pd.Series:
    """Share of each (condition, seed) matrix that lies off the diagonal."""
    off = matrix["value"].where(matrix["loss_class"] != matrix["input_class"], 0.0)
    grouped = matrix.assign(off=off).groupby(["condition", "seed"])
    return grouped["off"].sum() / grouped["value"].sum()


def _summary(gini: pd.DataFrame, matrix: pd.DataFrame | None) -> pd.DataFrame:
    shares = off_diagonal(matrix) if matrix is not None else None
    rows = []
    for (panel, cond), g in gini.groupby(["panel", "condition"], sort=False):
        by_step = g.groupby("step")["gini"].mean()
        last = g[g["step"] == g["step"].max()]["gini"]
        row = {"panel": panel, "condition": cond, "p": g["p"].iloc[0], "seeds": g["seed"].nunique(),
               "final_step": int(g["step"].max()), "gini_mean": last.mean(), "gini_std": last.std(),
               "dip_gini": by_step.min(), "dip_step": int(by_step.idxmin()),
               "off_diagonal": np.nan, "off_diagonal_std": np.nan}
        if shares is not None and panel == "labels" and cond in shares.index.get_level_values(0):
            row["off_diagonal"], row["off_diagonal_std"] = shares[cond].mean(), shares[cond].std()
        rows.append(row)
    return pd.DataFrame(rows)


def _headline(summary: pd.DataFrame) -> dict:
    out: dict = {"final_gini": {}, "off_diagonal": {}}
    for row in summary.itertuples():
        out["final_gini"][f"{row.panel}/{row.condition}"] = {"mean": round(float(row.gini_mean), 4),
                                                             "std": round(float(row.gini_std), 4)}
        if not np.isnan(row.off_diagonal):
            out["off_diagonal"][row.condition] = round(float(row.off_diagonal), 4)
    out["final_step"] = int(summary["final_step"].max())
    return out


def main(argv=None) -> None:
    stage_main("e2", Config, run, argv)


if __name__ == "__main__":
    main()
