"""Augmentation vs memorization (docs/STORY.md, page 6; not in the paper): does varied data slow the fitting of random labels?

For each augmentation (rotation, Gaussian pixel noise, intensity jitter = brightness and
contrast, and on colour images colour jitter = saturation and hue) at each strength, and for
no augmentation, train `seeds` runs on real labels, on partly random labels (randY, p = 0.5)
and on fully random labels (p = 1). Training accuracy is always measured on the un-augmented
training images, split into clean and relabelled examples. Augmentation settings are per run,
so everything trains as one batched model.

Tables (CSV):
- curves:  per run x epoch: run, the shared setting columns (common.SETTINGS: dataset, arch, width, depth,
           n_train, kind (none | randY), p, regularizer (none), strength (the augmentation's), augment
           (none | rotation | pixel_noise | intensity | colour), seed), epoch, lr, train_loss,
           train_acc (on the labels as given), train_acc_clean, train_acc_corrupted, train_acc_true,
           val_loss, val_acc, seconds
- summary: per run: run, the setting columns, common.per_run's final and best columns (fit_epoch: first
           epoch with training accuracy >= fit_target; empty if never)
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
from ..engine import augment_batch
from .common import Context, Result, Work, fit_all, gallery, load_data, one_group, per_run, replace_train, rounded, seeds_field, stage_main


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
    dataset: str = opt(choices=D.DATASETS, help="data set")
    n_train: int = opt(lo=10, hi=60000, help="training examples (stratified subset)")
    n_val: int = opt(lo=10, hi=10000, help="validation examples (stratified subset, always clean)")
    noise: tuple[float, ...] = opt(lo=0.0, hi=1.0, help="randY fractions p (0 = real labels)")
    augments: Grid = opt(help="strengths per augmentation; no augmentation is always run too")
    seeds: tuple[int, ...] = seeds_field()
    data_seed: int = opt(lo=0, hi=2**31 - 1, help="seed of the subset, the random labels and the gallery")
    fit_target: float = opt(lo=0.1, hi=1.0, help="training accuracy that counts as fitted (paper: 1.0)")
    gallery_images: int = opt(lo=0, hi=64, help="training images shown per augmentation")
    gallery_draws: int = opt(lo=1, hi=16, help="random draws of each augmentation in the gallery")
    run: RunSpec = opt(help="model and optimiser shared by every run")

    def __post_init__(self):
        if self.run.train.augment.active:
            raise ConfigError("run.train.augment must stay empty: this stage sets each run's augmentation "
                              "from `augments`")
        if self.augments.colour and D.SIZES[self.dataset][0][0] != 3:
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
                labels.append({"augment": name, "strength": s})
    return specs, corrs, labels


def workload(cfg: Config) -> list[Work]:
    return one_group(cfg, runs_of(cfg)[0])


def run(cfg: Config, ctx: Context) -> Result:
    train, val = load_data(ctx, cfg.dataset, cfg.n_train, cfg.n_val, cfg.data_seed)
    specs, corrs, labels = runs_of(cfg)
    ctx.log(f"{len(specs)} runs on {len(train)} {cfg.dataset} examples")
    curves, _ = fit_all(specs, corrs, train, val, ctx, labels)
    summary = per_run(curves, cfg.fit_target)
    result = Result(tables={"curves": curves, "summary": summary}, metrics=headline(summary))
    if cfg.gallery_images:
        result.arrays["augment_gallery"] = _gallery(cfg, train)
    return result


def _gallery(cfg: Config, train: D.Images) -> dict[str, np.ndarray]:
    """The first training images and what each augmentation makes of them, drawn as training draws."""
    idx = torch.arange(min(cfg.gallery_images, len(train)))
    out = gallery(train, idx)
    x = train.x[idx].unsqueeze(0)                                   # (1, n, C, H, W): one "run"
    shown, names, strengths = [], [], []
    for name, s in setups(cfg)[1:]:
        spec = replace_train(RunSpec(), augment=augment_config(name, s))
        gen = torch.Generator().manual_seed(cfg.data_seed)
        draws = [augment_batch(x, [spec], [gen])[0] for _ in range(cfg.gallery_draws)]  # each (n, C, H, W)
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


def headline(summary: pd.DataFrame) -> dict:
    """Page 6, means over seeds: randY = random-label (p = 1) training accuracy without augmentation and
    gap = how much of it the most effective augmentation setting removes; real = best clean validation
    accuracy on real labels without augmentation, half = the same with that most effective setting."""
    mean = summary.groupby(["augment", "strength", "p"])[["final_train_acc", "best_val_acc"]].mean()
    rand = mean.xs(1.0, level="p")["final_train_acc"] if 1.0 in mean.index.get_level_values("p") else None
    real = mean.xs(0.0, level="p")["best_val_acc"] if 0.0 in mean.index.get_level_values("p") else None
    if rand is None or ("none", 0.0) not in rand.index:
        return {"real": rounded(real.get(("none", 0.0))) if real is not None else None}
    best = rand.drop(("none", 0.0)).idxmin() if len(rand) > 1 else ("none", 0.0)
    return {"randY": rounded(rand["none", 0.0]), "gap": rounded(rand["none", 0.0] - rand[best]),
            "real": rounded(real.get(("none", 0.0))) if real is not None else None,
            "half": rounded(real.get(best)) if real is not None else None}


def main(argv=None) -> None:
    stage_main("augment", Config, run, argv)


if __name__ == "__main__":
    main()
