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
- curves:   per run x epoch: run, the shared setting columns (common.SETTINGS: dataset, arch, width, depth,
            n_train, kind (none = real labels | randY with p = 1 = random labels), p, regularizer (the family),
            strength, augment, seed), dropout (the hidden dropout, crossed with the adversarial weight), epoch,
            lr, train_loss, train_acc, train_acc_clean, train_acc_corrupted, train_acc_true, val_loss,
            val_acc, train_acc_batches (the epoch's batches in training mode)[, adv_flipped (adversarial items: share of the epoch's training points whose LASS search
            flipped the prediction)], seconds
- summary:  per run: run, the setting columns, dropout, common.per_run's final and best columns
            [, adv_flipped (adversarial items: share of training points LASS flipped, mean over epochs)]
- settings: per setting, means over seeds (the derived table the claims and page 5 read): the setting
            columns but kind, p and seed, dropout, random_train_acc (final training accuracy on random labels in
            training mode: the last epoch's batches as trained on, dropout and noise on, as Keras logs it and the
            paper's Figs. 10/11 plot), random_train_acc_eval (the same in eval mode), real_train_acc, best_val_acc (best clean validation accuracy on real labels), seeds, and for
            adversarial items random_adv_flipped, real_adv_flipped (share of training points whose
            LASS search flipped the prediction, per batch, mean over epochs and seeds)
- frontier: Fig. 10: per x on a grid of random-label training accuracy: dataset, regularizer, x, best_val_acc (the
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
from .common import (SETTINGS, Context, Result, Work, fit_all, load_data, one_group, per_run, replace_model, replace_train,
                     rounded, seeds_field, stage_main)

# family -> (which config holds its knob, the knob's field name)
KNOBS = {
    "dropout": ("model", "dropout"),
    "input_dropout": ("model", "input_dropout"),
    "input_noise": ("model", "input_noise"),
    "hidden_noise": ("model", "hidden_noise"),
    "weight_decay": ("train", "weight_decay"),
    "adversarial": ("train", "adv_weight"),
}


@dataclass(frozen=True)
class Config:
    family: str = opt(choices=tuple(KNOBS), help="the regularizer this item sweeps")
    dataset: str = opt(choices=D.DATASETS, help="data set")
    n_train: int = opt(lo=10, hi=60000, help="training examples (stratified subset)")
    n_val: int = opt(lo=10, hi=10000, help="validation examples (stratified subset, always clean)")
    strengths: tuple[float, ...] = opt(lo=0.0, hi=10.0,
                                       help="the family's setting per run, in that setting's unit (0 = none)")
    dropouts: tuple[float, ...] = opt(lo=0.0, hi=0.95,
                                      help="hidden dropout crossed with every strength (the adversarial item)")
    seeds: tuple[int, ...] = seeds_field()
    data_seed: int = opt(lo=0, hi=2**31 - 1, help="seed of the subset and of the random labels")
    adv_radius: float = opt(lo=0.0, hi=255.0, help="LASS box radius, 0-255 pixel scale (paper: 0.3)")
    adv_alpha: float = opt(lo=0.0, hi=255.0, help="LASS sign-step size, 0-255 pixel scale (paper: 0.25)")
    adv_beta: float = opt(lo=0.0, hi=255.0, help="LASS noise std, 0-255 pixel scale (paper: 0.2)")
    frontier_step: float = opt(lo=0.001, hi=0.5, help="spacing of the frontier's x grid (accuracy)")
    run: RunSpec = opt(help="model and optimiser shared by every run")

    @staticmethod
    def from_item(item: str) -> dict:
        """The item is the family (`dropout`) or a data set's sweep of it (`cifar_dropout`)."""
        family = max((f for f in KNOBS if item == f or item.endswith("_" + f)), key=len, default=None)
        if family is None:
            raise ConfigError(f"e6 item {item!r} names no regularizer; allowed: " + ", ".join(
                f"{f} or <prefix>_{f}" for f in KNOBS))
        return {"family": family}

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
            for p in (0.0, 1.0):  # real labels, then every label random
                for seed in cfg.seeds:
                    specs.append(spec_for(cfg, seed, strength, dropout))
                    corrs.append(D.Corruption("randY", p, cfg.data_seed))
                    labels.append({"regularizer": cfg.family, "strength": strength, "dropout": specs[-1].model.dropout})
    return specs, corrs, labels


def workload(cfg: Config) -> list[Work]:
    return one_group(cfg, runs_of(cfg)[0])


def run(cfg: Config, ctx: Context) -> Result:
    train, val = load_data(ctx, cfg.dataset, cfg.n_train, cfg.n_val, cfg.data_seed)
    specs, corrs, labels = runs_of(cfg)
    lass_cfg = {"radius": cfg.adv_radius / 255, "alpha": cfg.adv_alpha / 255, "beta": cfg.adv_beta / 255}
    ctx.log(f"{cfg.family}: {len(specs)} runs on {len(train)} {cfg.dataset} examples")
    curves, _ = fit_all(specs, corrs, train, val, ctx, labels, lass_cfg=lass_cfg)
    summary = _summary(curves)
    per_setting = settings(summary)
    frontier = _frontier(per_setting, cfg.frontier_step)
    return Result(tables={"curves": curves, "summary": summary, "settings": per_setting, "frontier": frontier},
                  metrics=headline(per_setting, frontier))


def _summary(curves: pd.DataFrame) -> pd.DataFrame:
    """One row per run: common.per_run's final and best columns [, adv_flipped]."""
    out = per_run(curves)
    if "adv_flipped" in curves.columns:  # adversarial items: share of training points LASS flipped, epoch mean
        out["adv_flipped"] = out["run"].map(curves[curves["epoch"] > 0].groupby("run")["adv_flipped"].mean())
    return out


def settings(summary: pd.DataFrame) -> pd.DataFrame:
    """Per setting (strength x dropout), means over seeds: random-label final training accuracy in
    training mode (the last epoch's batches with dropout and noise on, as Keras logged the paper's curves;
    random_train_acc_eval: the same labels re-scored in eval mode after the epoch) and real-label best
    validation accuracy (the two axes of Fig. 10), with the shared setting
    columns of the real-label runs (kind none, p 0) and `seeds` for `seed`."""
    keys = [c for c in SETTINGS if c not in ("kind", "p", "seed")] + ["dropout"]
    rand = summary[summary["p"] == 1.0].groupby(keys)
    real = summary[summary["p"] == 0.0].groupby(keys)
    out = pd.DataFrame({"random_train_acc": rand["final_train_acc_batches"].mean(),
                        "random_train_acc_eval": rand["final_train_acc"].mean(),
                        "real_train_acc": real["final_train_acc_batches"].mean(),
                        "best_val_acc": real["best_val_acc"].mean(),
                        "seeds": real["seed"].nunique()})
    if "adv_flipped" in summary.columns:
        out["random_adv_flipped"] = rand["adv_flipped"].mean()
        out["real_adv_flipped"] = real["adv_flipped"].mean()
    return out.dropna(subset=["random_train_acc", "best_val_acc"]).reset_index()


def _frontier(points: pd.DataFrame, step: float) -> pd.DataFrame:
    """For each x on the grid: the best clean accuracy reachable while random labels stay at or below x."""
    rows = []
    for x in np.round(np.arange(0.0, 1.0 + step / 2, step), 6):
        ok = points[points["random_train_acc"] <= x + 1e-9]
        if ok.empty:
            continue
        top = ok.loc[ok["best_val_acc"].idxmax()]
        rows.append({"dataset": top["dataset"], "regularizer": top["regularizer"], "x": float(x),
                     "best_val_acc": top["best_val_acc"], "strength": top["strength"], "dropout": top["dropout"],
                     "random_train_acc": top["random_train_acc"], "seeds": int(top["seeds"])})
    cols = ["dataset", "regularizer", "x", "best_val_acc", "strength", "dropout", "random_train_acc", "seeds"]
    return pd.DataFrame(rows, columns=cols)


def headline(per_setting: pd.DataFrame, frontier: pd.DataFrame) -> dict:
    """Fig. 10, means over seeds: randY = random-label training accuracy without the regularizer (the
    weakest setting) and gap = how much of it the strongest setting removes; real = best clean validation
    accuracy without it, half = the best clean accuracy of any setting that fits at most half of the
    random labels (the frontier at x = 0.5; None if none does)."""
    weak = per_setting.loc[per_setting["strength"].idxmin()]
    strong = per_setting[per_setting["strength"] == per_setting["strength"].max()]
    strong = strong.loc[strong["random_train_acc"].idxmin()]
    ok = frontier[frontier["x"] <= 0.5 + 1e-9]
    return {"randY": rounded(weak["random_train_acc"]), "real": rounded(weak["best_val_acc"]),
            "gap": rounded(weak["random_train_acc"] - strong["random_train_acc"]),
            "half": rounded(ok["best_val_acc"].max()) if len(ok) else None}


def main(argv=None) -> None:
    stage_main("e6", Config, run, argv)


if __name__ == "__main__":
    main()
