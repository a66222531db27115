"""E5 — partial noise: learning curves and the critical sample ratio through training (Figs. 7-9).

For every noise kind (randX, randY) and level p, train `seeds` runs and record per epoch the
training accuracy (split into clean and corrupted examples) and validation accuracy; every
`csr_every` epochs measure the CSR on clean validation points with LASS. Also keeps, for one
randY run, the predicted class of some training examples at every epoch (the memorization
clock of page 7), a gallery of those digits, and checkpoints of a real-label and a random-label model.

Outputs (in --out):
  curves.csv   run, seed, kind (none|randX|randY), p, epoch, lr, train_loss, train_acc, train_acc_clean,
               train_acc_corrupted, train_acc_true, val_loss, val_acc, seconds   (one row per run x epoch)
  csr.csv      run, seed, kind, p, epoch, csr                                  (one row per run x CSR epoch)
  summary.csv  run, seed, kind, p, best_epoch, best_val_acc, final_epoch, final_val_acc, final_train_acc,
               fit_epoch (first epoch at 100 % train acc, empty if never), final_csr
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
from ..metrics import best_val, critical_sample_ratio, epochs_to_fit
from .common import Context, Result, Work, checkpoint, dataset_size, fit_all, gallery, load_data, seeds_field, stage_main


@dataclass(frozen=True)
class Config:
    dataset: str = opt("mnist10k", choices=D.DATASETS, help="data set")
    n_train: int = opt(2000, lo=10, hi=60000, help="training examples (stratified subset)")
    n_val: int = opt(1000, lo=10, hi=10000, help="validation examples (stratified subset, never corrupted)")
    kinds: tuple[str, ...] = opt(("randX", "randY"), choices=("randX", "randY"), help="noise kinds")
    noise: tuple[float, ...] = opt((0.0, 0.2, 0.4, 0.6, 0.8, 1.0), lo=0.0, hi=1.0, help="fractions of corrupted examples")
    seeds: tuple[int, ...] = seeds_field(3)
    data_seed: int = opt(0, lo=0, hi=2**31 - 1, help="seed of the subset and of the corruption draw")
    csr_every: int = opt(10, lo=1, hi=1000, help="epochs between CSR measurements")
    csr_points: int = opt(1000, lo=1, hi=10000, help="validation points searched by LASS (a stratified draw)")
    csr_batch: int = opt(500, lo=1, hi=10000, help="points searched together; the early stop counts per batch")
    csr_steps: int = opt(100, lo=1, hi=1000, help="max LASS iterations")
    csr_min_new_share: float = opt(0.04, lo=0.0, hi=1.0,
                                   help="LASS stops once an iteration flips fewer than this share of a batch (0 = never)")
    clock_p: float = opt(0.4, lo=0.0, hi=1.0, help="randY level of the run whose examples the memorization clock follows")
    clock_examples: int = opt(200, lo=0, hi=5000, help="training examples followed by the clock (half clean, half corrupted)")
    checkpoints: bool = opt(True, help="save the real-label and random-label models (seed 0)")
    run: RunSpec = opt(RunSpec(), help="model and optimiser shared by every run")


def conditions(cfg: Config) -> list[tuple[str, float]]:
    out = [("none", 0.0)]
    out += [(k, p) for k in cfg.kinds for p in cfg.noise if p > 0]
    return out


def runs_of(cfg: Config) -> tuple[list[RunSpec], list[D.Corruption], list[dict]]:
    """Every run of the stage: its spec, its corruption and the settings that label it."""
    specs, corrs, labels = [], [], []
    for kind, p in conditions(cfg):
        for seed in cfg.seeds:
            specs.append(RunSpec(seed=seed, model=cfg.run.model, train=cfg.run.train))
            corrs.append(D.Corruption(kind, p, cfg.data_seed))
            labels.append({"kind": kind, "p": p})
    return specs, corrs, labels


def workload(cfg: Config) -> list[Work]:
    shape, n_train, n_val = dataset_size(cfg.dataset, cfg.n_train, cfg.n_val)
    specs = runs_of(cfg)[0]
    return [Work(f"{len(specs)} runs", tuple(specs), shape, n_train=n_train, n_val=n_val, epochs=cfg.run.train.epochs,
                 lass_points=min(cfg.csr_points, n_val), lass_every=cfg.csr_every, lass_steps=cfg.csr_steps,
                 lass_batch=cfg.csr_batch)]


def run(cfg: Config, ctx: Context) -> Result:
    train, val = load_data(ctx, cfg.dataset, cfg.n_train, cfg.n_val, cfg.data_seed)
    csr_x = D.stratified_subset(val, cfg.csr_points, cfg.data_seed).x.to(ctx.device)  # every class, not the split's head
    specs, corrs, labels = runs_of(cfg)
    csr_rows: list[dict] = []
    clock_run = next((i for i, l in enumerate(labels) if l["kind"] == "randY" and l["p"] == cfg.clock_p), None)

    def measure_csr(report):  # called after every epoch of every batch
        if report["epoch"] % cfg.csr_every and report["epoch"] != report["epochs"]:
            return
        ratio, _ = critical_sample_ratio(report["model"], csr_x, seed=report["epoch"], batch=cfg.csr_batch,
                                         steps=cfg.csr_steps, min_new_share=cfg.csr_min_new_share)
        for row, r in zip(report["rows"], ratio.tolist()):
            csr_rows.append({"local_run": row["run"], "seed": row["seed"], "epoch": report["epoch"], "csr": r,
                             "batch": id(report["model"])})

    ctx.log(f"{len(specs)} runs on {len(train)} {cfg.dataset} examples")
    curves, histories = fit_all(specs, corrs, train, val, ctx, labels, on_epoch=measure_csr,
                                track_examples=cfg.clock_examples > 0)
    # map each CSR row back to its global run index
    chunk_of = {id(h.model): chunk for h, chunk in histories}
    csr = pd.DataFrame([{"run": chunk_of[r["batch"]][r["local_run"]], "seed": r["seed"], "epoch": r["epoch"],
                         "csr": r["csr"]} for r in csr_rows])
    csr = csr.merge(curves[["run", "kind", "p"]].drop_duplicates(), on="run")[["run", "seed", "kind", "p", "epoch", "csr"]]
    summary = _summary(curves, csr)
    result = Result(tables={"curves": curves, "csr": csr, "summary": summary})
    if clock_run is not None and cfg.clock_examples:
        result.tables["clock"], result.arrays["clock_gallery"] = _clock(cfg, train, histories, clock_run,
                                                                        corrs[clock_run])
        result.extra["clock_run"] = clock_run
    if cfg.checkpoints:
        result.checkpoints.update(_checkpoints(cfg, specs, labels, histories, corrs, train, val))
        if {"model_real", "model_random"} <= set(result.checkpoints):
            result.tables["teaser"], result.arrays["teaser_gallery"], result.arrays["first_layer"] = _teaser(
                cfg, specs, labels, histories, corrs, train, val)
    result.metrics = _headline(summary)
    return result


def _summary(curves: pd.DataFrame, csr: pd.DataFrame) -> pd.DataFrame:
    """One row per run: best validation epoch/value, final values, epochs to fit, final CSR."""
    last = curves.sort_values("epoch").groupby("run").tail(1).set_index("run")
    best = best_val(curves)
    fit_epoch = epochs_to_fit(curves, "train_acc", 1.0)
    final_csr = csr.sort_values("epoch").groupby("run")["csr"].last() if len(csr) else pd.Series(dtype=float)
    out = last[["seed", "kind", "p"]].copy()
    out["best_epoch"], out["best_val_acc"] = best["best_epoch"], best["best_val_acc"]
    out["final_epoch"], out["final_val_acc"] = last["epoch"], last["val_acc"]
    out["final_train_acc"] = last["train_acc"]
    out["fit_epoch"] = fit_epoch
    out["final_csr"] = final_csr.reindex(out.index)
    return out.reset_index()


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


def _checkpoints(cfg, specs, labels, histories, corrs, train, val):
    out = {}
    wanted = {"model_real": ("none", 0.0), "model_random": ("randY", 1.0)}
    for name, (kind, p) in wanted.items():
        i = next((i for i, l in enumerate(labels) if (l["kind"], l["p"]) == (kind, p) and specs[i].seed == cfg.seeds[0]), None)
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


def _teaser(cfg, specs, labels, histories, corrs, train, val, n: int = 16):
    """The real-label and the random-label model (seed 0) side by side on a few training digits (with the
    random labels the second model was taught) and a few validation digits; plus their first-layer weights."""
    runs = {name: next(i for i, l in enumerate(labels) if (l["kind"], l["p"]) == kp and specs[i].seed == cfg.seeds[0])
            for name, kp in (("real", ("none", 0.0)), ("random", ("randY", 1.0)))}
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


def _headline(summary: pd.DataFrame) -> dict:
    out = {}
    for (kind, p), g in summary.groupby(["kind", "p"]):
        key = f"{kind}_p{p:g}"
        out[key] = {"best_val_acc": round(float(g.best_val_acc.mean()), 4),
                    "final_val_acc": round(float(g.final_val_acc.mean()), 4),
                    "final_csr": round(float(g.final_csr.mean()), 4)}
    return out


def main(argv=None) -> None:
    stage_main("e5", Config, run, argv)


if __name__ == "__main__":
    main()
