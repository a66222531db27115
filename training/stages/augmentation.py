"""Augmentation vs memorization (STORY.md page 6): does varied data slow the fitting of random labels?

For each augmentation (rotation, Gaussian pixel noise, intensity jitter = brightness and
contrast, and on colour images colour jitter = saturation and hue) at each strength, and for
no augmentation, train `seeds` runs on real labels, on partly random labels (randY, p = 0.5)
and on fully random labels (p = 1). Training accuracy is always measured on the un-augmented
training images, split into clean and relabelled examples. Augmentation settings are per run,
so everything trains as one batched model.

Tables (CSV):
- curves:  per run x epoch: run, seed, augment, strength, labels (real|partial|random: randY p = 0|<1|1), p, epoch, lr, train_loss,
           train_acc (on the labels as given), train_acc_clean, train_acc_corrupted, train_acc_true,
           val_loss, val_acc, seconds
- summary: per run: run, seed, augment, strength, labels, p, final_epoch, final_train_acc,
           final_train_acc_clean, final_train_acc_corrupted, final_val_acc, best_epoch, best_val_acc,
           fit_epoch (first epoch with training accuracy >= fit_target; empty if never)
Gallery (augment_gallery.npz): images (n, H, W[, C]) uint8 originals with index and label, and
augmented (settings, draws, n, H, W[, C]) uint8: each augmentation at each strength applied
`gallery_draws` times (one random draw per batch, as in training), with augment and strength (settings,).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .. import data as D
from ..config import AugmentConfig, ConfigError, RunSpec, opt
from ..engine import _augment
from ..metrics import best_val, epochs_to_fit
from .common import Context, Result, Work, dataset_size, fit_all, gallery, load_data, replace_train, seeds_field, stage_main


@dataclass(frozen=True)
class Grid:
    """The strengths tried per augmentation; an empty list skips it."""

    rotation: tuple[float, ...] = opt((), lo=0.0, hi=180.0, help="max rotation, degrees either way")
    pixel_noise: tuple[float, ...] = opt((), lo=0.0, hi=1.0, help="Gaussian pixel noise std, pixels in [0, 1]")
    intensity: tuple[float, ...] = opt((), lo=0.0, hi=0.9,
                                       help="brightness and contrast jitter b: factors drawn from [1-b, 1+b]")
    colour: tuple[float, ...] = opt((), lo=0.0, hi=0.9,
                                    help="saturation jitter s (factor from [1-s, 1+s]) and hue shift up to s/2 "
                                         "turns; colour images only")


def augment_config(name: str, s: float) -> AugmentConfig:
    """The engine's per-run augmentation for one named augmentation at strength s."""
    return {
        "none": AugmentConfig(),
        "rotation": AugmentConfig(rotation=s),
        "pixel_noise": AugmentConfig(pixel_noise=s),
        "intensity": AugmentConfig(brightness=s, contrast=s),
        "colour": AugmentConfig(saturation=s, hue=s / 2),
    }[name]


@dataclass(frozen=True)
class Config:
    dataset: str = opt("mnist10k", choices=D.DATASETS, help="data set")
    n_train: int = opt(500, lo=10, hi=60000, help="training examples (stratified subset)")
    n_val: int = opt(1000, lo=10, hi=10000, help="validation examples (stratified subset, always clean)")
    noise: tuple[float, ...] = opt((0.0, 0.5, 1.0), lo=0.0, hi=1.0, help="randY fractions p (0 = real labels)")
    augments: Grid = opt(Grid(), help="strengths per augmentation; no augmentation is always run too")
    seeds: tuple[int, ...] = seeds_field(3)
    data_seed: int = opt(0, lo=0, hi=2**31 - 1, help="seed of the subset, the random labels and the gallery")
    fit_target: float = opt(1.0, lo=0.1, hi=1.0, help="training accuracy that counts as fitted (paper: 1.0)")
    gallery_images: int = opt(8, lo=0, hi=64, help="training images shown per augmentation")
    gallery_draws: int = opt(3, lo=1, hi=16, help="random draws of each augmentation in the gallery")
    run: RunSpec = opt(RunSpec(), help="model and optimiser shared by every run")

    def __post_init__(self):
        if self.run.train.augment.active:
            raise ConfigError("run.train.augment must stay empty: this stage sets each run's augmentation "
                              "from `augments`")
        if self.augments.colour and self.dataset != "cifar10":
            raise ConfigError(f"augments.colour needs colour images; dataset = {self.dataset!r} is greyscale "
                              "(use colour: [])")


def setups(cfg: Config) -> list[tuple[str, float]]:
    """(augmentation, strength) pairs: no augmentation first, then every non-zero strength."""
    out = [("none", 0.0)]
    for f in dataclasses.fields(Grid):
        out += [(f.name, s) for s in dict.fromkeys(getattr(cfg.augments, f.name)) if s > 0]
    return out


def runs_of(cfg: Config) -> tuple[list[RunSpec], list[D.Corruption], list[dict]]:
    """Every run of the stage: its spec, its corruption and the settings that label it."""
    specs, corrs, labels = [], [], []
    for name, s in setups(cfg):
        for p in dict.fromkeys(cfg.noise):
            for seed in cfg.seeds:
                base = RunSpec(seed=seed, model=cfg.run.model, train=cfg.run.train)
                specs.append(replace_train(base, augment=augment_config(name, s)))
                corrs.append(D.Corruption("randY", p, cfg.data_seed))
                labels.append({"augment": name, "strength": s, "labels": _kind(p), "p": p})
    return specs, corrs, labels


def workload(cfg: Config) -> list[Work]:
    shape, n_train, n_val = dataset_size(cfg.dataset, cfg.n_train, cfg.n_val)
    specs = runs_of(cfg)[0]
    return [Work(f"{len(specs)} runs", tuple(specs), shape, n_train=n_train, n_val=n_val, epochs=cfg.run.train.epochs)]


def run(cfg: Config, ctx: Context) -> Result:
    train, val = load_data(ctx, cfg.dataset, cfg.n_train, cfg.n_val, cfg.data_seed)
    specs, corrs, labels = runs_of(cfg)
    ctx.log(f"{len(specs)} runs on {len(train)} {cfg.dataset} examples")
    curves, _ = fit_all(specs, corrs, train, val, ctx, labels)
    summary = _summary(curves, cfg.fit_target)
    result = Result(tables={"curves": curves, "summary": summary}, metrics=_headline(summary))
    if cfg.gallery_images:
        result.arrays["augment_gallery"] = _gallery(cfg, train)
    return result


def _kind(p: float) -> str:
    return "real" if p == 0 else "random" if p == 1 else "partial"


def _summary(curves: pd.DataFrame, target: float) -> pd.DataFrame:
    last = curves.sort_values("epoch").groupby("run").tail(1).set_index("run")
    best = best_val(curves)
    out = last[["seed", "augment", "strength", "labels", "p"]].copy()
    out["final_epoch"] = last["epoch"]
    for col in ("train_acc", "train_acc_clean", "train_acc_corrupted", "val_acc"):
        out[f"final_{col}"] = last[col]
    out["best_epoch"], out["best_val_acc"] = best["best_epoch"], best["best_val_acc"]
    out["fit_epoch"] = epochs_to_fit(curves, "train_acc", target)
    return out.reset_index().sort_values("run", ignore_index=True)


def _gallery(cfg: Config, train: D.Images) -> dict[str, np.ndarray]:
    """The first training images and what each augmentation makes of them, drawn as training draws."""
    idx = torch.arange(min(cfg.gallery_images, len(train)))
    out = gallery(train, idx)
    x = train.x[idx].unsqueeze(0)                                   # (1, n, C, H, W): one "run"
    shown, names, strengths = [], [], []
    for name, s in setups(cfg)[1:]:
        spec = replace_train(RunSpec(), augment=augment_config(name, s))
        gen = torch.Generator().manual_seed(cfg.data_seed)
        draws = [_augment(x, [spec], [gen])[0] for _ in range(cfg.gallery_draws)]  # each (n, C, H, W)
        shown.append(np.stack([_pixels(d) for d in draws]))         # (draws, n, H, W[, C])
        names.append(name)
        strengths.append(s)
    if shown:
        out["augmented"] = np.stack(shown)                          # (settings, draws, n, H, W[, C])
        out["augment"] = np.array(names)
        out["strength"] = np.array(strengths, dtype=np.float32)
    return out


def _pixels(x: torch.Tensor) -> np.ndarray:
    """(n, C, H, W) in [0, 1] -> uint8 (n, H, W[, C]), stored as common.gallery stores images."""
    x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    return (x[:, 0] if x.shape[1] == 1 else x.permute(0, 2, 3, 1)).numpy()


def _headline(summary: pd.DataFrame) -> dict:
    """Per augmentation setting, means over seeds."""
    out = {}
    for (name, s), g in summary.groupby(["augment", "strength"], sort=False):
        key = "none" if name == "none" else f"{name}={s:g}"
        real, rand = g[g.p == 0], g[g.p == 1]
        out[key] = {"real_best_val_acc": _mean(real.best_val_acc), "random_train_acc": _mean(rand.final_train_acc)}
        for p, part in g[(g.p > 0) & (g.p < 1)].groupby("p"):
            out[key][f"p{p:g}_train_acc_corrupted"] = _mean(part.final_train_acc_corrupted)
            out[key][f"p{p:g}_best_val_acc"] = _mean(part.best_val_acc)
    return out


def _mean(s: pd.Series):
    return round(float(s.mean()), 4) if len(s) else None


def main(argv=None) -> None:
    stage_main("augment", Config, run, argv)


if __name__ == "__main__":
    main()
