"""E6 — regularizers vs memorization (Figs. 10, 11): one item per regularizer family.

Each item sweeps one family's strength (0 = unregularized) and trains every setting `seeds`
times on real labels and on fully random labels (randY, p = 1). The question is whether a
regularizer can hold back the fitting of random labels while keeping clean accuracy. The
strengths are per-run settings, so a whole family trains as one batched model. The
`adversarial` items cross the adversarial loss weight with hidden dropout, as the paper pairs
them: every batch gets a LASS search, and the points it flips add their critical sample's loss
(engine.adversarial_loss). Items run on the MNIST sample with an MLP or, as in the paper, on
CIFAR-10 with the CNN (the `cifar_*` items); `dataset` in the settings table says which.

Tables (CSV):
- curves:   per run x epoch: run, seed, family, strength, dropout, labels (real|random), epoch, lr,
            train_loss, train_acc, train_acc_clean, train_acc_corrupted, train_acc_true, val_loss,
            val_acc[, adv_flipped (adversarial items: share of the epoch's training points whose LASS search
            flipped the prediction)], seconds
- summary:  per run: run, seed, family, strength, dropout, labels, final_epoch, final_train_acc,
            final_val_acc, best_epoch, best_val_acc, fit_epoch (first epoch at 100 % training accuracy)
            [, adv_flipped (adversarial items: share of training points LASS flipped, mean over epochs)]
- settings: per setting, means over seeds (the derived table the claims and page 5 read): family,
            dataset, strength, dropout, random_train_acc (final training accuracy on random labels),
            real_train_acc, best_val_acc (best clean validation accuracy on real labels), seeds, and for
            adversarial items random_adv_flipped, real_adv_flipped (share of training points whose
            LASS search flipped the prediction, per batch, mean over epochs and seeds)
- frontier: Fig. 10: per x on a grid of random-label training accuracy: family, x, best_val_acc (the
            best clean validation accuracy, mean over seeds, among settings whose random-label
            training accuracy, mean over seeds, is at most x), strength and dropout of that setting,
            its random_train_acc, seeds (runs averaged per label)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import data as D
from ..config import ConfigError, ModelConfig, RunSpec, TrainConfig, allowed, opt
from ..metrics import best_val, epochs_to_fit
from .common import Context, Result, Work, dataset_size, fit_all, load_data, replace_model, replace_train, seeds_field, stage_main

# family -> (which config holds its knob, the knob's field name)
KNOBS = {
    "dropout": ("model", "dropout"),
    "input_dropout": ("model", "input_dropout"),
    "input_noise": ("model", "input_noise"),
    "hidden_noise": ("model", "hidden_noise"),
    "weight_decay": ("train", "weight_decay"),
    "adversarial": ("train", "adv_weight"),
}
FRONTIER_AT = (0.2, 0.5, 1.0)  # random-label training accuracies at which the metrics report the frontier


@dataclass(frozen=True)
class Config:
    family: str = opt("dropout", choices=tuple(KNOBS), help="the regularizer this item sweeps")
    dataset: str = opt("mnist10k", choices=D.DATASETS, help="data set")
    n_train: int = opt(500, lo=10, hi=60000, help="training examples (stratified subset)")
    n_val: int = opt(1000, lo=10, hi=10000, help="validation examples (stratified subset, always clean)")
    strengths: tuple[float, ...] = opt((0.0, 0.5), lo=0.0, hi=10.0,
                                       help="the family's setting per run, in that setting's unit (0 = none)")
    dropouts: tuple[float, ...] = opt((0.0,), lo=0.0, hi=0.95,
                                      help="hidden dropout crossed with every strength (the adversarial item)")
    seeds: tuple[int, ...] = seeds_field(3)
    data_seed: int = opt(0, lo=0, hi=2**31 - 1, help="seed of the subset and of the random labels")
    adv_radius: float = opt(0.3, lo=0.0, hi=255.0, help="LASS box radius, 0-255 pixel scale (paper: 0.3)")
    adv_alpha: float = opt(0.25, lo=0.0, hi=255.0, help="LASS sign-step size, 0-255 pixel scale (paper: 0.25)")
    adv_beta: float = opt(0.2, lo=0.0, hi=255.0, help="LASS noise std, 0-255 pixel scale (paper: 0.2)")
    frontier_step: float = opt(0.02, lo=0.001, hi=0.5, help="spacing of the frontier's x grid (accuracy)")
    run: RunSpec = opt(RunSpec(), help="model and optimiser shared by every run")

    def __post_init__(self):
        # The strengths go into ModelConfig/TrainConfig fields with their own ranges: check them here,
        # so a bad grid stops the stage before any training.
        part, name = KNOBS[self.family]
        knob = {f.name: f for f in dataclasses.fields(ModelConfig if part == "model" else TrainConfig)}[name]
        for i, s in enumerate(self.strengths):
            if not knob.metadata["lo"] <= s <= knob.metadata["hi"]:
                raise ConfigError(f"strengths[{i}] = {s!r} is out of range for family {self.family!r} "
                                  f"({part}.{name}); allowed: {allowed(knob)}")
        if self.family == "dropout" and self.dropouts != (0.0,):
            raise ConfigError("dropouts must be [0.0] for family 'dropout' (its strengths are the dropout rates)")
        if len(set(self.strengths)) != len(self.strengths) or len(set(self.dropouts)) != len(self.dropouts):
            raise ConfigError("strengths and dropouts must not repeat a value")


def spec_for(cfg: Config, seed: int, strength: float, dropout: float) -> RunSpec:
    """The run of one setting: the shared run settings with this dropout and the family's knob set."""
    part, name = KNOBS[cfg.family]
    spec = replace_model(RunSpec(seed=seed, model=cfg.run.model, train=cfg.run.train), dropout=dropout)
    return replace_model(spec, **{name: strength}) if part == "model" else replace_train(spec, **{name: strength})


def runs_of(cfg: Config) -> tuple[list[RunSpec], list[D.Corruption], list[dict]]:
    """Every run of the stage: its spec, its corruption and the settings that label it."""
    specs, corrs, labels = [], [], []
    for strength in cfg.strengths:
        for dropout in cfg.dropouts:
            for kind in ("real", "random"):
                for seed in cfg.seeds:
                    specs.append(spec_for(cfg, seed, strength, dropout))
                    corrs.append(D.Corruption("randY", 1.0 if kind == "random" else 0.0, cfg.data_seed))
                    labels.append({"family": cfg.family, "strength": strength,
                                   "dropout": specs[-1].model.dropout, "labels": kind})
    return specs, corrs, labels


def workload(cfg: Config) -> list[Work]:
    shape, n_train, n_val = dataset_size(cfg.dataset, cfg.n_train, cfg.n_val)
    specs = runs_of(cfg)[0]
    return [Work(f"{len(specs)} runs", tuple(specs), shape, n_train=n_train, n_val=n_val, epochs=cfg.run.train.epochs)]


def run(cfg: Config, ctx: Context) -> Result:
    train, val = load_data(ctx, cfg.dataset, cfg.n_train, cfg.n_val, cfg.data_seed)
    specs, corrs, labels = runs_of(cfg)
    lass_cfg = {"radius": cfg.adv_radius / 255, "alpha": cfg.adv_alpha / 255, "beta": cfg.adv_beta / 255}
    ctx.log(f"{cfg.family}: {len(specs)} runs on {len(train)} {cfg.dataset} examples")
    curves, _ = fit_all(specs, corrs, train, val, ctx, labels, lass_cfg=lass_cfg)
    summary = _summary(curves)
    frontier = _frontier(summary, cfg.frontier_step)
    per_setting = settings(summary)
    per_setting.insert(1, "dataset", cfg.dataset)
    return Result(tables={"curves": curves, "summary": summary, "settings": per_setting, "frontier": frontier},
                  metrics=_headline(cfg, summary, frontier))


def _summary(curves: pd.DataFrame) -> pd.DataFrame:
    """One row per run: final and best accuracies, and the first epoch at 100 % training accuracy."""
    last = curves.sort_values("epoch").groupby("run").tail(1).set_index("run")
    best = best_val(curves)
    out = last[["seed", "family", "strength", "dropout", "labels"]].copy()
    out["final_epoch"], out["final_train_acc"], out["final_val_acc"] = last["epoch"], last["train_acc"], last["val_acc"]
    out["best_epoch"], out["best_val_acc"] = best["best_epoch"], best["best_val_acc"]
    out["fit_epoch"] = epochs_to_fit(curves, "train_acc", 1.0)
    if "adv_flipped" in curves.columns:  # adversarial items: share of training points LASS flipped, epoch mean
        out["adv_flipped"] = curves[curves["epoch"] > 0].groupby("run")["adv_flipped"].mean()
    return out.reset_index().sort_values("run", ignore_index=True)


def settings(summary: pd.DataFrame) -> pd.DataFrame:
    """Per setting (strength x dropout), means over seeds: random-label final training accuracy
    and real-label best validation accuracy (the two axes of Fig. 10)."""
    keys = ["family", "strength", "dropout"]
    rand = summary[summary["labels"] == "random"].groupby(keys)
    real = summary[summary["labels"] == "real"].groupby(keys)
    out = pd.DataFrame({"random_train_acc": rand["final_train_acc"].mean(),
                        "real_train_acc": real["final_train_acc"].mean(),
                        "best_val_acc": real["best_val_acc"].mean(),
                        "seeds": real["seed"].nunique()})
    if "adv_flipped" in summary.columns:
        out["random_adv_flipped"] = rand["adv_flipped"].mean()
        out["real_adv_flipped"] = real["adv_flipped"].mean()
    return out.dropna(subset=["random_train_acc", "best_val_acc"]).reset_index()


def _frontier(summary: pd.DataFrame, step: float) -> pd.DataFrame:
    """For each x on the grid: the best clean accuracy reachable while random labels stay at or below x."""
    points = settings(summary)
    rows = []
    for x in np.round(np.arange(0.0, 1.0 + step / 2, step), 6):
        ok = points[points["random_train_acc"] <= x + 1e-9]
        if ok.empty:
            continue
        top = ok.loc[ok["best_val_acc"].idxmax()]
        rows.append({"family": top["family"], "x": float(x), "best_val_acc": top["best_val_acc"],
                     "strength": top["strength"], "dropout": top["dropout"],
                     "random_train_acc": top["random_train_acc"], "seeds": int(top["seeds"])})
    cols = ["family", "x", "best_val_acc", "strength", "dropout", "random_train_acc", "seeds"]
    return pd.DataFrame(rows, columns=cols)


def _headline(cfg: Config, summary: pd.DataFrame, frontier: pd.DataFrame) -> dict:
    knob = KNOBS[cfg.family][1]
    by_setting = {}
    for _, s in settings(summary).iterrows():
        key = f"{knob}={s.strength:g}" + (f",dropout={s.dropout:g}" if len(cfg.dropouts) > 1 else "")
        by_setting[key] = {"random_train_acc": round(float(s.random_train_acc), 4),
                           "real_train_acc": round(float(s.real_train_acc), 4),
                           "best_val_acc": round(float(s.best_val_acc), 4)}
    reach = {}
    for x in FRONTIER_AT:
        ok = frontier[frontier["x"] <= x + 1e-9]
        reach[f"random_train_acc<={x:g}"] = round(float(ok["best_val_acc"].max()), 4) if len(ok) else None
    return {"family": cfg.family, "settings": by_setting, "best_val_acc_while": reach}


def main(argv=None) -> None:
    stage_main("e6", Config, run, argv)


if __name__ == "__main__":
    main()
