"""E5 — partial noise: learning curves and the critical sample ratio through training (Figs. 7-9).

For every noise kind (randX, randY) and level p, train `seeds` runs and record per epoch the
training accuracy (split into clean and corrupted examples) and validation accuracy; every
`csr_every` epochs measure the CSR on clean validation points with LASS. Also keeps, for one
randY run, the predicted class of some training examples at every epoch (the memorization
clock of page 7), a gallery of those digits, and checkpoints of a real-label and a random-label model.

Outputs (in --out):
  curves.csv   run, <SETTINGS>, epoch, lr, train_loss, train_acc, train_acc_clean, train_acc_corrupted,
               train_acc_true, val_loss, val_acc, seconds   (one row per run x epoch; <SETTINGS>: the setting
               columns every stage shares, common.SETTINGS: dataset ... kind (none|randX|randY), p ... seed)
  csr.csv      run, <SETTINGS>, epoch, csr (LASS with the reference's early stop: fewer than csr_min_new new
               flips over the whole searched set in an iteration), csr_all (final epoch only: every point
               flipped in any of csr_steps iterations), lass_stop (the iteration at which the rule ended
               that run's search)                          (one row per run x CSR epoch)
  summary.csv  run, <SETTINGS>, the "final and best" columns of common.per_run (final_epoch, final_train_acc,
               final_train_acc_clean, final_train_acc_corrupted, final_val_acc, best_epoch, best_val_acc,
               fit_epoch: first epoch at fit_target train acc, empty if never), final_csr, final_csr_all,
               final_lass_stop
  clock.csv    example (source index), epoch, true_label, given_label, relabelled, pred, state (given|true|neither)
  clock_gallery.npz   images (uint8), index, label, given            -- the digits the clock follows
  teaser.csv   split (train|val), example, true_label, random_label (-1 on val), pred_real, pred_random
  teaser_gallery.npz  images, index, label                           -- the teaser's digits, same order
  first_layer.npz     real, random: (16, H, W) first-layer weights of 16 hidden units of each model
  model_real / model_random .safetensors + .json  -- checkpoints (seed 0) with their run config
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .. import data as D
from ..config import RunSpec, opt
from ..engine import predict
from ..metrics import critical_sample_ratio
from .common import (Context, Result, Work, checkpoint, dataset_size, fit_all, gallery, load_data, one_group, per_run,
                     rounded, seeds_field, setting_columns, stage_main)


@dataclass(frozen=True)
class Config:
    dataset: str = opt(choices=D.DATASETS, help="data set")
    n_train: int = opt(lo=10, hi=60000, help="training examples (stratified subset)")
    n_val: int = opt(lo=10, hi=10000, help="validation examples (stratified subset, never corrupted)")
    kinds: tuple[str, ...] = opt(choices=("randX", "randY"), help="noise kinds")
    noise: tuple[float, ...] = opt(lo=0.0, hi=1.0, help="fractions of corrupted examples")
    seeds: tuple[int, ...] = seeds_field()
    data_seed: int = opt(lo=0, hi=2**31 - 1, help="seed of the subset and of the corruption draw")
    csr_every: int = opt(lo=1, hi=1000, help="epochs between CSR measurements")
    csr_points: int = opt(lo=1, hi=10000, help="validation points searched by LASS (a stratified draw)")
    csr_batch: int = opt(lo=1, hi=10000, help="points held in memory at a time (the early stop counts over all points)")
    csr_steps: int = opt(lo=1, hi=1000, help="max LASS iterations")
    csr_min_new: int = opt(lo=0, hi=10000, help="LASS stops once an iteration flips fewer than this many new points "
                                                "of the whole searched set (the reference's threshold: 20; 0 = never)")
    csr_radius: float = opt(lo=0.0, hi=255.0, help="LASS box radius around each point, 0-255 pixel scale (paper: 0.3)")
    csr_alpha: float = opt(lo=0.0, hi=255.0, help="LASS sign-step size, 0-255 pixel scale (paper: 0.25)")
    csr_beta: float = opt(lo=0.0, hi=255.0, help="LASS noise std, 0-255 pixel scale (paper: 0.2)")
    fit_target: float = opt(lo=0.5, hi=1.0, help="training accuracy (labels as given) at which a run counts as fitted")
    clock_p: float = opt(lo=0.0, hi=1.0, help="randY level of the run whose examples the memorization clock follows")
    clock_examples: int = opt(lo=0, hi=5000, help="training examples followed by the clock (half clean, half corrupted)")
    checkpoints: bool = opt(help="save the real-label and random-label models (seed 0)")
    run: RunSpec = opt(help="model and optimiser shared by every run")


def conditions(cfg: Config) -> list[tuple[str, float]]:
    out = [("none", 0.0)]
    out += [(k, p) for k in cfg.kinds for p in cfg.noise if p > 0]
    return out


def runs_of(cfg: Config) -> tuple[list[RunSpec], list[D.Corruption], list[dict]]:
    """Every run of the stage: its spec, its corruption and what fit_all cannot read off them (nothing:
    E5 varies only the noise)."""
    specs, corrs = [], []
    for kind, p in conditions(cfg):
        for seed in cfg.seeds:
            specs.append(RunSpec(seed=seed, model=cfg.run.model, train=cfg.run.train))
            corrs.append(D.Corruption(kind, p, cfg.data_seed))
    return specs, corrs, [{} for _ in specs]


def find(cfg: Config, specs, corrs, kind: str, p: float) -> int | None:
    """The index of the first seed's run at noise (kind, p), if the stage has one."""
    return next((i for i, (s, c) in enumerate(zip(specs, corrs))
                 if (c.kind if c.p else "none", c.p) == (kind, p) and s.seed == cfg.seeds[0]), None)


def workload(cfg: Config) -> list[Work]:
    return one_group(cfg, runs_of(cfg)[0], lass_points=min(cfg.csr_points, dataset_size(cfg.dataset, 0, cfg.n_val)[2]),
                     lass_every=cfg.csr_every, lass_steps=cfg.csr_steps, lass_batch=cfg.csr_batch)


def run(cfg: Config, ctx: Context) -> Result:
    train, val = load_data(ctx, cfg.dataset, cfg.n_train, cfg.n_val, cfg.data_seed)
    csr_x = D.stratified_subset(val, cfg.csr_points, cfg.data_seed).x.to(ctx.device)  # every class, not the split's head
    specs, corrs, _ = runs_of(cfg)
    csr_rows: list[dict] = []
    searches: list[dict] = []  # one per LASS search: epoch, runs, iterations computed (for the manifest)
    clock_run = find(cfg, specs, corrs, "randY", cfg.clock_p)

    def measure_csr(report):  # called after every epoch of every batch
        final = report["epoch"] == report["epochs"]
        if report["epoch"] % cfg.csr_every and not final:
            return
        # at the final epoch every run is searched for all csr_steps iterations, so the table also has the
        # CSR without the early stop (csr_all) beside the reference rule's (csr)
        found = critical_sample_ratio(report["model"], csr_x, seed=report["epoch"], batch=cfg.csr_batch,
                                      steps=cfg.csr_steps, min_new=cfg.csr_min_new, full=final,
                                      radius=cfg.csr_radius / 255, alpha=cfg.csr_alpha / 255, beta=cfg.csr_beta / 255)
        ratio, ratio_all = found.critical.float().mean(1).tolist(), found.critical_all.float().mean(1).tolist()
        searches.append({"epoch": report["epoch"], "runs": len(report["rows"]), "iterations": found.iterations,
                         "full": final})
        csr_rows.extend({"run": row["run"], "epoch": report["epoch"], "csr": r, "csr_all": r_all if final else np.nan,
                         "lass_stop": int(stop)}
                        for row, r, r_all, stop in zip(report["rows"], ratio, ratio_all, found.stop.tolist()))

    ctx.log(f"{len(specs)} runs on {len(train)} {cfg.dataset} examples")
    curves, histories = fit_all(specs, corrs, train, val, ctx, on_epoch=measure_csr,
                                track_examples=cfg.clock_examples > 0)
    settings = curves[["run", *setting_columns(curves)]].drop_duplicates("run")
    csr = settings.merge(pd.DataFrame(csr_rows, columns=["run", "epoch", "csr", "csr_all", "lass_stop"]), on="run")
    last = csr.sort_values("epoch").groupby("run")[["csr", "csr_all", "lass_stop"]].last()
    summary = per_run(curves, cfg.fit_target).merge(last.rename(columns={"csr": "final_csr", "csr_all": "final_csr_all",
                                                         "lass_stop": "final_lass_stop"}), on="run", how="left")
    result = Result(tables={"curves": curves, "csr": csr, "summary": summary})
    result.extra["lass_searches"] = searches
    if clock_run is not None and cfg.clock_examples:
        result.tables["clock"], result.arrays["clock_gallery"] = _clock(cfg, train, histories, clock_run,
                                                                        corrs[clock_run])
        result.extra["clock_run"] = clock_run
    if cfg.checkpoints:
        result.checkpoints.update(_checkpoints(cfg, specs, histories, corrs, train, val))
        if {"model_real", "model_random"} <= set(result.checkpoints):
            result.tables["teaser"], result.arrays["teaser_gallery"], result.arrays["first_layer"] = _teaser(
                cfg, specs, histories, corrs, train, val)
    result.metrics = headline(summary)
    return result


def _clock(cfg, train, histories, run, corr):
    """Per example x epoch: was the prediction right on the given label, on the true label, or neither?"""
    for hist, chunk in histories:
        if run in chunk:
            local = chunk.index(run)
            preds = {e: p[local] for e, p in hist.preds.items()}
            break
    _, given, corrupted = D.corrupt(train, corr)
    changed = corrupted & (given != train.y)
    n_half = cfg.clock_examples // 2
    g = torch.Generator().manual_seed(cfg.data_seed)
    pick_noisy = torch.nonzero(changed).squeeze(1)
    pick_clean = torch.nonzero(~corrupted).squeeze(1)
    pick = torch.cat([pick_clean[torch.randperm(len(pick_clean), generator=g)[:n_half]],
                      pick_noisy[torch.randperm(len(pick_noisy), generator=g)[: cfg.clock_examples - n_half]]])
    rows = []
    for epoch, pred in sorted(preds.items()):
        p = pred[pick].long()
        state = np.where(p == given[pick], "given", np.where(p == train.y[pick], "true", "neither"))
        for j, i in enumerate(pick.tolist()):
            rows.append({"example": int(train.index[i]), "epoch": epoch, "true_label": int(train.y[i]),
                         "given_label": int(given[i]), "relabelled": bool(changed[i]), "pred": int(p[j]),
                         "state": state[j]})
    return pd.DataFrame(rows), gallery(train, pick, given=given[pick])


def _checkpoints(cfg, specs, histories, corrs, train, val):
    out = {}
    wanted = {"model_real": ("none", 0.0), "model_random": ("randY", 1.0)}
    for name, (kind, p) in wanted.items():
        i = find(cfg, specs, corrs, kind, p)
        if i is None:
            continue
        for hist, chunk in histories:
            if i in chunk:
                out[name] = checkpoint(hist, chunk.index(i), specs[i], kind=kind, p=p, dataset=cfg.dataset,
                                       data_seed=cfg.data_seed, n_train=len(train), n_val=len(val),
                                       in_shape=list(train.x.shape[1:]), n_classes=10)
    return out


def _locate(histories, i):
    for hist, chunk in histories:
        if i in chunk:
            return hist, chunk.index(i)
    raise KeyError(i)


def _teaser(cfg, specs, histories, corrs, train, val, n: int = 16):
    """The real-label and the random-label model (seed 0) side by side on a few training digits (with the
    random labels the second model was taught) and a few validation digits; plus their first-layer weights."""
    runs = {"real": find(cfg, specs, corrs, "none", 0.0), "random": find(cfg, specs, corrs, "randY", 1.0)}
    _, random_labels, _ = D.corrupt(train, corrs[runs["random"]])
    g = torch.Generator().manual_seed(cfg.data_seed + 1)
    pick_tr = torch.randperm(len(train), generator=g)[:n]
    pick_va = torch.randperm(len(val), generator=g)[:n]
    table = {"split": ["train"] * n + ["val"] * n,
             "example": torch.cat([train.index[pick_tr], val.index[pick_va]]).tolist(),
             "true_label": torch.cat([train.y[pick_tr], val.y[pick_va]]).tolist(),
             "random_label": random_labels[pick_tr].tolist() + [-1] * n}
    weights = {}
    images = torch.cat([train.x[pick_tr], val.x[pick_va]])
    for name, i in runs.items():
        hist, k = _locate(histories, i)
        device = hist.model.mean.device                                     # the model may sit on a GPU
        table[f"pred_{name}"] = predict(hist.model, images.to(device), hist.model.k)[k].argmax(-1).cpu().tolist()
        w = hist.model.weights[0][k].detach().t()[:n].cpu()                 # (units, in)
        weights[name] = w.reshape(n, *train.x.shape[2:]).numpy().astype(np.float32) if train.x.shape[1] == 1 \
            else w.reshape(n, *train.x.shape[1:]).numpy().astype(np.float32)
    pics = gallery(train, pick_tr)
    pics_val = gallery(val, pick_va)
    both = {k: np.concatenate([pics[k], pics_val[k]]) for k in ("images", "index", "label")}
    return pd.DataFrame(table), both, weights


def headline(summary: pd.DataFrame) -> dict:
    """Figs. 7-9, means over seeds: real = best validation accuracy on clean data; randX, randY = final
    validation accuracy at the highest noise level below 1 that the stage ran (p = 0.8 on the CPU; at
    p = 1 where that is the only level, as on CIFAR-10); csr = final CSR with every label random (randY,
    p = 1), gap = that CSR minus the clean one (Fig. 8: more noise, more critical samples)."""
    mean = summary.groupby(["kind", "p"])[["best_val_acc", "final_val_acc", "final_csr"]].mean()
    noisy = [p for p in mean.index.get_level_values("p").unique() if 0 < p < 1] or [1.0]
    top = max(noisy)
    get = lambda kind, p, col: rounded(mean[col].get((kind, p)))
    csr_clean, csr_random = get("none", 0.0, "final_csr"), get("randY", 1.0, "final_csr")
    return {"real": get("none", 0.0, "best_val_acc"), "randX": get("randX", top, "final_val_acc"),
            "randY": get("randY", top, "final_val_acc"), "csr": csr_random,
            "gap": rounded(csr_random - csr_clean) if None not in (csr_clean, csr_random) else None}


def main(argv=None) -> None:
    stage_main("e5", Config, run, argv)


if __name__ == "__main__":
    main()
