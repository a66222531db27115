"""E1 — easy and hard examples (Fig. 1).

Train the same MLP for exactly one epoch `runs` times (run r has seed seed_base + r: a new init and
a new data order) on real data, on randX (every input replaced by Gaussian noise, p = 1) and on
randY (every label redrawn, p = 1). The corrupted data set is drawn once (data_seed) and is the same
for every run; only init and shuffle change. For `n_examples` training examples, P(correct) = the
share of runs whose prediction after the epoch equals the example's label as given. Real data should
span 0 → 1 (some examples are always learned first, some never); randX should sit on the binomial
curve of equally hard examples; randY should have a slightly heavier upper tail.

The corruption is applied to the images once, before training, and every run then trains on that
one corrupted set (instead of a per-run randX copy, which would cost `runs` copies of the pixels).

Tables (artifacts/e1/<item>/):
- examples.csv: one row per condition x example — dataset, condition (real, randX, randY), example
  (index in the source file), label_true, label_given, runs, p_correct, rank (0 = lowest P(correct)
  in its condition; ties broken by position in the subset).
- binomial.csv: the reference curve — dataset, condition ("binomial"), seed (of the draws), draw,
  runs, p (the randX mean it is drawn with), p_correct (= Binomial(runs, p) / runs), rank.
- runs.csv: one row per condition x run — run, the shared setting columns (common.SETTINGS: dataset,
  arch, width, depth, n_train, kind, p, regularizer, strength, augment, seed), condition, epoch (1),
  train_acc (on the labels as given, whole training subset), val_acc (clean validation data).
- summary.csv: one row per condition (binomial included) — the setting columns but seed, condition,
  seeds (runs), n, mean, std, q05, q25, median, q75, q95, q99, share_never (P = 0), share_always (P = 1),
  binomial_gap (randX: largest quantile gap to the binomial curve), binomial_gap_class (the same against
  the per-label binomial mixture, which keeps the class prior a one-epoch net learns, over the 1st to 99th
  percentiles), mean_train_acc,
  mean_val_acc.
Gallery (gallery.npz): the `gallery` easiest and hardest real examples — images (uint8), index,
label, p_correct, rank, group ("easy" / "hard"), easiest first, then hardest first.
Metrics JSON: see `headline`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from .. import data as D
from ..config import ConfigError, RunSpec, opt
from .common import SETTINGS, Context, Result, Work, dataset_size, fit_all, gallery, load_data, rounded, setting_columns, stage_main

CONDITIONS = {"real": "none", "randX": "randX", "randY": "randY"}  # condition -> corruption kind (p = 1)


@dataclass(frozen=True)
class Config:
    dataset: str = opt(choices=D.DATASETS, help="data set")
    n_train: int = opt(lo=10, hi=60000, help="training examples (stratified subset)")
    n_val: int = opt(lo=10, hi=10000, help="validation examples (stratified subset, never corrupted)")
    n_examples: int = opt(lo=1, hi=60000, help="training examples whose P(correct) is recorded (stratified)")
    runs: int = opt(lo=1, hi=10000, help="one-epoch trainings per condition (paper: 100)")
    seed_base: int = opt(lo=0, hi=2**31 - 1, help="run r uses seed seed_base + r (init and data order)")
    conditions: tuple[str, ...] = opt(choices=tuple(CONDITIONS), help="data conditions")
    data_seed: int = opt(lo=0, hi=2**31 - 1, help="seed of the subsets and of the (shared) corruption draw")
    binomial_draws: int = opt(lo=1, hi=1000000, help="draws of the binomial reference (paper: 1000)")
    binomial_seed: int = opt(lo=0, hi=2**31 - 1, help="seed of the binomial draws")
    gallery: int = opt(lo=0, hi=500, help="easiest and hardest real examples kept as images for the app")
    run: RunSpec = opt(help="model and optimiser of every run; train.epochs must be 1")

    def __post_init__(self):
        if self.run.train.epochs != 1:
            raise ConfigError(f"run.train.epochs = {self.run.train.epochs} is not allowed: E1 reads the "
                              "predictions after exactly one epoch; allowed: 1")
        if self.n_examples > self.n_train:
            raise ConfigError(f"n_examples = {self.n_examples} is out of range; allowed: n_examples ≤ n_train "
                              f"({self.n_train})")


def runs_of(cfg: Config) -> list[RunSpec]:
    """The one-epoch runs every condition repeats (on that condition's corrupted set)."""
    return [RunSpec(seed=cfg.seed_base + r, model=cfg.run.model, train=cfg.run.train) for r in range(cfg.runs)]


def workload(cfg: Config) -> list[Work]:
    shape, n_train, n_val = dataset_size(cfg.dataset, cfg.n_train, cfg.n_val)
    return [Work(f"{cond}: {cfg.runs} runs", tuple(runs_of(cfg)), shape, n_train=n_train, n_val=n_val, epochs=1)
            for cond in cfg.conditions]


def run(cfg: Config, ctx: Context) -> Result:
    train, val = load_data(ctx, cfg.dataset, cfg.n_train, cfg.n_val, cfg.data_seed)
    pick = D.stratified_indices(train.y, cfg.n_examples, cfg.data_seed) if cfg.n_examples < len(train) \
        else torch.arange(len(train))
    specs = runs_of(cfg)
    ctx.log(f"{cfg.runs} one-epoch runs x {len(cfg.conditions)} conditions on {len(train)} {cfg.dataset} examples")
    examples, runs = [], []
    for cond in cfg.conditions:
        x, given, _ = D.corrupt(train, D.Corruption(CONDITIONS[cond], 1.0, cfg.data_seed))
        data = replace(train, x=x, y=given)  # the one corrupted set every run of this condition sees
        named = [{"kind": CONDITIONS[cond], "p": 0.0 if cond == "real" else 1.0, "condition": cond}] * cfg.runs
        curves, histories = fit_all(specs, [D.Corruption()] * cfg.runs, data, val, ctx, named, track_examples=True)
        right = torch.zeros(len(pick))
        for hist, _ in histories:
            right += (hist.preds[1][:, pick].long() == given[pick]).sum(0)  # runs that got each example
        p = (right / cfg.runs).numpy()
        examples.append(pd.DataFrame({
            "dataset": cfg.dataset, "condition": cond, "example": train.index[pick].numpy(),
            "label_true": train.y[pick].numpy(), "label_given": given[pick].numpy(), "runs": cfg.runs,
            "p_correct": p, "rank": _rank(p)}))
        last = curves[curves["epoch"] == 1]
        runs.append(last[["run", *setting_columns(curves), "epoch", "train_acc", "val_acc"]])
        ctx.log(f"  {cond}: mean P(correct) {p.mean():.3f}, never {np.mean(p == 0):.3f}, always {np.mean(p == 1):.3f}")
    examples, runs = pd.concat(examples, ignore_index=True), pd.concat(runs, ignore_index=True)
    result = Result(tables={"examples": examples, "runs": runs})
    if "randX" in cfg.conditions:
        result.tables["binomial"] = _binomial(cfg, examples)
    result.tables["summary"] = _summary(examples, result.tables.get("binomial"), runs,
                                        _class_binomial(cfg, examples) if "randX" in cfg.conditions else None)
    if "real" in cfg.conditions and cfg.gallery:
        result.arrays["gallery"] = _gallery(cfg, train, pick, examples)
    result.metrics = headline(result.tables["summary"])
    return result


def _rank(p: np.ndarray) -> np.ndarray:
    """Position of each value when sorted ascending (0 = hardest); ties keep their order."""
    rank = np.empty(len(p), dtype=np.int64)
    rank[np.argsort(p, kind="stable")] = np.arange(len(p))
    return rank


def _binomial(cfg: Config, examples: pd.DataFrame) -> pd.DataFrame:
    """What P(correct) would look like if every example were equally hard: Binomial(runs, mean of randX)/runs."""
    mean = float(examples.loc[examples["condition"] == "randX", "p_correct"].mean())
    draws = np.random.default_rng(cfg.binomial_seed).binomial(cfg.runs, mean, size=cfg.binomial_draws) / cfg.runs
    return pd.DataFrame({"dataset": cfg.dataset, "condition": "binomial", "seed": cfg.binomial_seed,
                         "draw": np.arange(cfg.binomial_draws), "runs": cfg.runs, "p": mean, "p_correct": draws,
                         "rank": _rank(draws)})


def _class_binomial(cfg: Config, examples: pd.DataFrame) -> np.ndarray:
    """The binomial reference with the class prior kept: after one epoch a net on noise inputs has learned
    how often each label occurs, so an example's chance of being right depends on its given label. Each
    draw picks a recorded randX example's label at random and draws Binomial(runs, that label's mean P) /
    runs: what P(correct) looks like if examples of the same label are equally hard (claim E1b)."""
    noise = examples[examples["condition"] == "randX"]
    by_label = noise.groupby("label_given")["p_correct"].mean()
    rng = np.random.default_rng(cfg.binomial_seed + 1)
    labels = rng.choice(noise["label_given"].to_numpy(), size=cfg.binomial_draws)
    return rng.binomial(cfg.runs, by_label.loc[labels].to_numpy()) / cfg.runs


def _summary(examples: pd.DataFrame, binomial: pd.DataFrame | None, runs: pd.DataFrame,
             class_binomial: np.ndarray | None = None) -> pd.DataFrame:
    """One row per condition: the shared setting columns (but seed), condition, the distribution of
    P(correct) over the recorded examples, and for randX its largest gap to the binomial curve (claim
    E1b: the largest distance between the two quantile functions, at the 101 quantiles 0, 0.01, ... 1):
    binomial_gap against one binomial at randX's mean, binomial_gap_class against the per-label mixture
    (_class_binomial), which the claim judges. The binomial reference has its own row, with the randX
    settings (it is drawn from randX's mean)."""
    parts = [examples] if binomial is None else [examples, binomial]
    settings = runs.drop_duplicates("condition").set_index("condition")
    q = np.linspace(0, 1, 101)
    rows = []
    for cond, g in pd.concat(parts).groupby("condition", sort=False):
        p = g["p_correct"]
        acc = runs[runs["condition"] == cond]
        keys = settings.loc["randX" if cond == "binomial" else cond, [c for c in SETTINGS if c != "seed"]].to_dict()
        gap = (float(np.max(np.abs(np.quantile(p, q) - np.quantile(binomial["p_correct"], q))))
               if cond == "randX" and binomial is not None else np.nan)
        inner = q[1:-1]  # 1st to 99th percentile: the extremes of 1,000 draws are too noisy to compare
        gap_class = (float(np.max(np.abs(np.quantile(p, inner) - np.quantile(class_binomial, inner))))
                     if cond == "randX" and class_binomial is not None else np.nan)
        rows.append({**keys, "condition": cond, "seeds": int(g["runs"].iloc[0]), "n": len(p),
                     "mean": p.mean(), "std": p.std(), "q05": p.quantile(0.05), "q25": p.quantile(0.25),
                     "median": p.median(), "q75": p.quantile(0.75), "q95": p.quantile(0.95), "q99": p.quantile(0.99),
                     "share_never": (p == 0).mean(), "share_always": (p == 1).mean(), "binomial_gap": gap,
                     "binomial_gap_class": gap_class,
                     "mean_train_acc": acc["train_acc"].mean() if len(acc) else np.nan,
                     "mean_val_acc": acc["val_acc"].mean() if len(acc) else np.nan})
    return pd.DataFrame(rows)


def _gallery(cfg: Config, train: D.Images, pick: torch.Tensor, examples: pd.DataFrame) -> dict:
    """The easiest and the hardest real examples as thumbnails for the app."""
    real = examples[examples["condition"] == "real"].reset_index(drop=True)  # row i <-> pick[i]
    k = min(cfg.gallery, len(real) // 2)
    by_rank = real["rank"].to_numpy().argsort()
    rows = np.concatenate([by_rank[::-1][:k], by_rank[:k]])              # easiest first, then hardest first
    out = gallery(train, pick[rows], p_correct=real["p_correct"].to_numpy()[rows],
                  rank=real["rank"].to_numpy()[rows])
    out["group"] = np.array(["easy"] * k + ["hard"] * k)
    return out


def headline(summary: pd.DataFrame) -> dict:
    """Fig. 1: real, randX, randY = the mean P(correct) after one epoch in each condition; gap = randX's
    largest quantile gap to the binomial mixture of examples equally hard within each label (small: noise has
    no easy examples beyond the label prior)."""
    row = summary.set_index("condition")
    get = lambda cond, col: rounded(row[col].get(cond)) if cond in row.index else None
    return {"real": get("real", "mean"), "randX": get("randX", "mean"), "randY": get("randY", "mean"),
            "gap": get("randX", "binomial_gap_class")}


def main(argv=None) -> None:
    stage_main("e1", Config, run, argv)


if __name__ == "__main__":
    main()
