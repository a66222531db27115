"""E2 — loss-sensitivity (Figs. 3, 4).

A 2x16 MLP trains with plain SGD on `n_examples` MNIST digits downscaled to 14x14. At every step t
the loss L_t is differentiated, through the last `window` unrolled SGD steps, with respect to the
training inputs of those steps: g_x^t = ||dL_t/dx||_1 (training.sensitivity). Its mean over the steps
so far, one number per example, is summarised by its Gini coefficient at log-spaced steps: high when
a few examples carry most of the sensitivity (patterns), low when it is spread evenly (memorization).

Two definitions of L_t are measured in the same run (training.sensitivity.DEFINITIONS):
- "own+transfer": the loss after t steps read as the training loss, the mean at the current weights over
  the whole training set (the current minibatch standing in for it, and each window input's own loss at
  its time-averaged weight 1/N: 1 / (window x batch_size) at the steps it is in the window), so x's own
  term (its own loss through its own forward pass) counts as well as its effect through the updates.
- "transfer": the next minibatch's loss only (x reaches it only through the updates).
The paper states neither; the claims judge both and say when the verdict depends on the choice.

Panels and conditions (inputs replaced by Gaussian noise with the digits' mean and std, randX):
- labels: "real" (digits, true labels), "50% real" (a fraction `half` of the inputs replaced),
  "random" (every input replaced; labels kept);
- own_class: every example is its own class (n_examples classes): "real" vs "random" inputs.
Every condition runs once per seed; runs of one panel train together as one batched model, and a
seed gives the same init and data order in every condition of its panel (paired comparison). Each
seed draws its own noise (seed data_seed + seed). Runs are on the CPU whatever `device` says: the
model is tiny and a step costs Python overhead, not arithmetic.

Class matrix (Fig. 4): averaged over every `matrix_every`-th step of training, as the paper's formula
(1/T) sum_t; beside it, matrix_late.csv averages only the second part of training, steps t > matrix_start
x steps, where both nets are learning (the summary records the random-input net's whole-training-set
loss at that step, `matrix_from_loss`).

Tables (artifacts/e2/):
- gini.csv: panel, definition, condition, p (share of noise inputs), seed, step, gini, loss (that
  step's batch), train_loss and train_acc (the whole training set after that step). The steps are the
  log-spaced checkpoints plus the first step of the class-matrix average.
- matrix.csv (Fig. 4, labels panel, "real" and "random"): definition, condition, seed, loss_class,
  input_class, value (mean over every `matrix_every`-th step after the matrix start of
  sum_x ||dL_t(loss_class examples)/dx||_1 over the inputs x of input_class), share (value / the
  seed's matrix total). The average runs over every `matrix_every`-th step.
- matrix_late.csv: the same, averaged over the steps after the matrix start only.
- examples.csv: panel, definition, condition, seed, example (index in the source file), label (digit
  class), noise (input replaced), g (mean sensitivity over all steps), rank (0 = most sensitive).
- summary.csv: one row per panel x definition x condition — the shared setting columns but seed
  (common.SETTINGS; kind randX or none), panel, definition, condition, seeds,
  final_step, gini_mean, gini_std, dip_gini (lowest mean Gini), dip_step, off_diagonal (mean over
  seeds of the share off the diagonal, all steps; labels panel only), off_diagonal_std, final_loss (whole
  training set, mean over seeds), off_diagonal_late and off_diagonal_late_std (the second-half matrix),
  matrix_from (the step after which the second-half matrix averages),
  matrix_from_loss (whole-training-set loss there, mean over seeds).
Metrics JSON: see `headline`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .. import data as D
from ..config import ConfigError, opt
from ..sensitivity import DEFINITIONS, OWN, loss_sensitivity
from .common import Context, Result, Work, parallel_map, rounded, seeds_field, stage_main

PANELS = ("labels", "own_class")


@dataclass(frozen=True)
class Config:
    dataset: str = opt(choices=("mnist10k", "mnist"), help="digits (training split)")
    n_examples: int = opt(lo=20, hi=60000, help="training digits (stratified subset; paper: 1000)")
    size: int = opt(lo=4, hi=28, help="digits downscaled to size x size pixels (paper: 14)")
    half: float = opt(lo=0.0, hi=1.0, help="share of noise inputs in the '50% real' condition")
    panels: tuple[str, ...] = opt(choices=PANELS, help="labels: digit classes; own_class: one class per example")
    seeds: tuple[int, ...] = seeds_field()
    data_seed: int = opt(lo=0, hi=2**31 - 1, help="seed of the subset; seed s draws its noise with data_seed + s")
    width: int = opt(lo=1, hi=4096, help="hidden units per layer (paper: 16)")
    depth: int = opt(lo=1, hi=8, help="hidden layers (paper: 2)")
    lr: float = opt(lo=1e-6, hi=10.0, help="SGD learning rate per step, labels panel")
    own_lr: float = opt(lo=1e-6, hi=10.0, help="SGD learning rate per step, own_class panel")
    batch_size: int = opt(lo=1, hi=60000, help="examples per SGD step")
    steps: int = opt(lo=2, hi=10_000_000, help="SGD steps (paper: 100,000)")
    window: int = opt(lo=1, hi=100, help="earlier SGD steps unrolled to reach the inputs that L_t depends on")
    checkpoints: int = opt(lo=1, hi=1000, help="log-spaced steps at which the Gini is recorded")
    first_checkpoint: int = opt(lo=1, hi=10_000_000, help="first of them (before ~1 epoch, unseen examples inflate it)")
    matrix_every: int = opt(lo=0, hi=1_000_000, help="steps between class-matrix measurements (0 = no matrix)")
    matrix_start: float = opt(lo=0.0, hi=0.99, help="start of the second-half class matrix shown beside the all-steps "
                                                     "one, as a share of training")

    def __post_init__(self):
        if self.first_checkpoint > self.steps:
            raise ConfigError(f"first_checkpoint = {self.first_checkpoint} is out of range; allowed: "
                              f"1 ≤ first_checkpoint ≤ steps ({self.steps})")
        start = int(round(self.matrix_start * self.steps))
        if self.matrix_every and self.steps // self.matrix_every <= start // self.matrix_every:
            raise ConfigError(f"matrix_every = {self.matrix_every} is out of range; allowed: at least one "
                              f"class-matrix step after step {start} (matrix_start x steps) and ≤ steps ({self.steps})")


def conditions(cfg: Config, panel: str) -> list[tuple[str, float]]:
    if panel == "labels":
        return [("real", 0.0), ("50% real", cfg.half), ("random", 1.0)]
    return [("real", 0.0), ("random", 1.0)]


def matrix_from(cfg: Config) -> int:
    """The class matrix averages the measurements at steps t > this one."""
    return int(round(cfg.matrix_start * cfg.steps))


def checkpoint_steps(cfg: Config) -> list[int]:
    """Log-spaced steps, the last step and the step the class-matrix average starts from (if after step 0)."""
    steps = np.geomspace(cfg.first_checkpoint, cfg.steps, cfg.checkpoints).round().astype(int)
    extra = {matrix_from(cfg)} if cfg.matrix_every and matrix_from(cfg) > 0 else set()
    return sorted(set(steps.tolist()) | {cfg.steps} | extra)


def workload(cfg: Config) -> list[Work]:
    """E2's own loop, counted by hand: per step the window's unrolled SGD steps (forward and backward
    with create_graph, ~3 forwards each), L_t's forward, and the backward through all of it to the
    inputs (~2x that again); a class-matrix step takes one backward per loss class (10)."""
    out = []
    for panel in cfg.panels:
        k = len(conditions(cfg, panel)) * len(cfg.seeds)
        n_out = cfg.n_examples if panel == "own_class" else 10
        dims = [cfg.size * cfg.size] + [cfg.width] * cfg.depth + [n_out]
        fwd = 2 * sum(a * b for a, b in zip(dims, dims[1:]))           # multiply-adds x 2, one example
        per_step = 3 * (4 * cfg.window + 1) * cfg.batch_size * fwd     # + the window inputs' own losses at theta_t
        matrix_steps = cfg.steps // cfg.matrix_every if cfg.matrix_every and panel == "labels" else 0
        flops = k * (cfg.steps * per_step + matrix_steps * 9 * per_step)
        out.append(Work(f"{panel}: {k} runs x {cfg.steps} steps (own loop)", flops=float(flops),
                        steps=cfg.steps + 9 * matrix_steps))
    return out


def run(cfg: Config, ctx: Context) -> Result:
    train, _ = D.load(cfg.dataset)
    train = D.downscale(D.stratified_subset(train, cfg.n_examples, cfg.data_seed), cfg.size)
    ctx.datasets[cfg.dataset] = {"source": train.source, "n_train": len(train), "train_name": train.name}
    marks = checkpoint_steps(cfg)
    workers = min(len(cfg.panels), torch.get_num_threads())
    tables = _panels(cfg, ctx, train, marks)
    result = Result(tables=tables)
    result.tables["summary"] = _summary(cfg, tables["gini"], tables.get("matrix"), tables.get("matrix_late"),
                                        matrix_from(cfg))
    result.metrics = headline(result.tables["summary"])
    result.extra.update(checkpoint_steps=marks, panel_workers=max(1, workers), definitions=list(DEFINITIONS),
                        matrix_from=matrix_from(cfg))
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
    gini, matrices, lates, examples = [], [], [], []
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
            matrix_from=0, late_from=matrix_from(cfg), class_labels=train.y,
            own_weight=1.0 / (cfg.window * cfg.batch_size)))
        panel_runs.append(runs)
        panel_noise.append(noisy)
    # the panels are independent: one worker process each when there are cores for it
    for panel, runs, noisy, (table, g, matrix, late, seconds) in zip(cfg.panels, panel_runs, panel_noise,
                                                                     parallel_map(_train_panel, jobs)):
        ctx.log(f"{panel}: {len(runs)} runs x {cfg.steps} steps in {seconds:.1f}s")
        info = pd.DataFrame(runs, columns=["condition", "p", "seed"])
        table = info.iloc[table.pop("run").to_numpy()].reset_index(drop=True).join(table)
        table.insert(0, "panel", panel)
        table.insert(1, "definition", table.pop("definition"))
        gini.append(table)
        for d, name in enumerate(DEFINITIONS):
            for r, (c, _, s) in enumerate(runs):
                examples.append(pd.DataFrame({
                    "panel": panel, "definition": name, "condition": c, "seed": s, "example": train.index.numpy(),
                    "label": train.y.numpy(), "noise": noisy[r].numpy(), "g": g[d, r],
                    "rank": np.argsort(np.argsort(-g[d, r], kind="stable"))}))
                if matrix is not None and c in ("real", "random"):
                    matrices.append(_matrix_rows(matrix[d, r], name, c, s))
                    lates.append(_matrix_rows(late[d, r], name, c, s))
    tables = {"gini": pd.concat(gini, ignore_index=True)}
    if matrices:
        tables["matrix"] = pd.concat(matrices, ignore_index=True)
        tables["matrix_late"] = pd.concat(lates, ignore_index=True)
    tables["examples"] = pd.concat(examples, ignore_index=True)
    return tables


def _matrix_rows(m: np.ndarray, definition: str, condition: str, seed: int) -> pd.DataFrame:
    """One row per (loss class, input class) cell of one run's 10x10 matrix."""
    loss_class, input_class = np.meshgrid(np.arange(10), np.arange(10), indexing="ij")
    total = m.sum()
    return pd.DataFrame({"definition": definition, "condition": condition, "seed": seed, "loss_class": loss_class.ravel(),
                         "input_class": input_class.ravel(), "value": m.ravel(),
                         "share": m.ravel() / total if total > 0 else np.nan})


def off_diagonal(matrix: pd.DataFrame) -> pd.Series:
    """Share of each (definition, condition, seed) matrix that lies off the diagonal."""
    off = matrix["value"].where(matrix["loss_class"] != matrix["input_class"], 0.0)
    grouped = matrix.assign(off=off).groupby(["definition", "condition", "seed"])
    return grouped["off"].sum() / grouped["value"].sum()


def _summary(cfg: Config, gini: pd.DataFrame, matrix: pd.DataFrame | None, late: pd.DataFrame | None,
             start: int) -> pd.DataFrame:
    """One row per panel x definition x condition, led by the shared setting columns (common.SETTINGS
    but seed: this stage's own loop trains a width x depth MLP on n_examples digits, noise = randX)."""
    shares = off_diagonal(matrix) if matrix is not None else None
    late_shares = off_diagonal(late) if late is not None else None
    rows = []
    for (panel, definition, cond), g in gini.groupby(["panel", "definition", "condition"], sort=False):
        by_step = g.groupby("step")["gini"].mean()
        final = g["step"].max()
        last = g[g["step"] == final]
        at_start = g[g["step"] == start]["train_loss"]
        p = float(g["p"].iloc[0])
        row = {"dataset": cfg.dataset, "arch": "mlp", "width": cfg.width, "depth": cfg.depth,
               "n_train": cfg.n_examples, "kind": "randX" if p > 0 else "none", "p": p,
               "regularizer": "none", "strength": 0.0, "augment": "none",
               "panel": panel, "definition": definition, "condition": cond, "seeds": g["seed"].nunique(), "final_step": int(final), "gini_mean": last["gini"].mean(),
               "gini_std": last["gini"].std(), "dip_gini": by_step.min(), "dip_step": int(by_step.idxmin()),
               "off_diagonal": np.nan, "off_diagonal_std": np.nan, "final_loss": last["train_loss"].mean(),
               "off_diagonal_late": np.nan, "off_diagonal_late_std": np.nan,
               "matrix_from": np.nan, "matrix_from_loss": np.nan}
        if shares is not None and panel == "labels" and (definition, cond) in shares.index.droplevel("seed"):
            s = shares[(definition, cond)]
            row.update(off_diagonal=s.mean(), off_diagonal_std=s.std(), matrix_from=start,
                       matrix_from_loss=at_start.mean() if len(at_start) else np.nan)
            if late_shares is not None:
                s_late = late_shares[(definition, cond)]
                row.update(off_diagonal_late=s_late.mean(), off_diagonal_late_std=s_late.std())
        rows.append(row)
    return pd.DataFrame(rows)


def headline(summary: pd.DataFrame) -> dict:
    """Figs. 3-4, own+transfer, labels panel, means over seeds: real, half, randX = the final Gini of
    real data, 50 % real and random inputs (Fig. 3: real > 50 % > random); gap = the off-diagonal share
    of the class matrix, real minus random (Fig. 4: real data shares more across classes)."""
    s = summary[(summary["panel"] == "labels") & (summary["definition"] == OWN)].set_index("condition")
    get = lambda cond, col: rounded(s[col].get(cond)) if cond in s.index else None
    off = s["off_diagonal"]
    return {"real": get("real", "gini_mean"), "half": get("50% real", "gini_mean"), "randX": get("random", "gini_mean"),
            "gap": rounded(off["real"] - off["random"]) if {"real", "random"} <= set(off.dropna().index) else None}


def main(argv=None) -> None:
    stage_main("e2", Config, run, argv)


if __name__ == "__main__":
    main()
