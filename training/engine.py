"""The one training loop, used by every pipeline stage and by the live lab.

`fit` trains K runs at once as one batched model (see models.py) with the whole data set
resident on the device and no DataLoader: each step gathers every run's own minibatch with
one indexing op. After every epoch it re-measures training accuracy on the whole training set
(split into clean and corrupted examples, and against the true labels) and validation
accuracy/loss, hands that to `on_epoch`, and stops cleanly on a deadline or a stop flag.
"""
from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .config import RunSpec
from .data import Corruption, Images, corrupt
from .metrics import lass
from .models import Batched, BatchedCNN, build


@dataclass
class TrainSet:
    """The training data of K runs. x: (N, C, H, W) shared, or (K, N, C, H, W) when runs differ
    (randX); y: (K, N) the labels as given; y_true: (N,); corrupted: (K, N) bool."""

    x: torch.Tensor
    y: torch.Tensor
    y_true: torch.Tensor
    corrupted: torch.Tensor
    n_classes: int = 10

    @property
    def k(self) -> int:
        return self.y.shape[0]

    @property
    def n(self) -> int:
        return self.y.shape[1]

    @property
    def per_run_x(self) -> bool:
        return self.x.ndim == 5

    def to(self, device) -> "TrainSet":
        return TrainSet(*(t.to(device) for t in (self.x, self.y, self.y_true, self.corrupted)), self.n_classes)

    def inputs(self, idx: torch.Tensor) -> torch.Tensor:
        """Each run's images at idx (K, B) -> (K, B, C, H, W)."""
        if self.per_run_x:
            return self.x[torch.arange(self.k, device=idx.device).unsqueeze(1), idx]
        return self.x.index_select(0, idx.flatten()).view(*idx.shape, *self.x.shape[1:])  # 5x faster than x[idx]


def make_train_set(train: Images, corruptions: Sequence[Corruption]) -> TrainSet:
    """Stack one corrupted copy of `train` per run (labels always; pixels only if some run uses randX)."""
    parts = [corrupt(train, c) for c in corruptions]
    per_run_x = any(c.kind == "randX" and c.p > 0 for c in corruptions)
    x = torch.stack([p[0] for p in parts]) if per_run_x else train.x
    return TrainSet(x, torch.stack([p[1] for p in parts]), train.y, torch.stack([p[2] for p in parts]))


@dataclass
class History:
    frame: pd.DataFrame                     # one row per run x epoch (epoch 0 = before training)
    model: Batched
    preds: dict[int, torch.Tensor] = field(default_factory=dict)  # epoch -> (K, N) predicted class on train
    stopped: str = ""                       # "", "deadline" or "stop"
    precision: str = "fp32"                 # what the training steps ran in (see resolve_precision)


@functools.cache  # /proc/cpuinfo once per process, not once per fit (the live lab fits every second)
def _cpu_has_native_bf16() -> bool:
    """Native bf16 dot products (AVX512-BF16 or AMX) and oneDNN to use them. Without them oneDNN
    emulates bf16 and a bf16 step is slower than fp32, so the engine stays in fp32."""
    if not (torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        return False
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:  # not Linux: trust oneDNN's own check
        return True
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: str | torch.device) -> tuple[str, str]:
    """The precision training steps will use on `device` for the asked one, and why if it differs."""
    device = torch.device(device)
    if precision == "fp32":
        return "fp32", ""
    if precision != "bf16":
        raise ValueError(f"precision = {precision!r} is not allowed; allowed: 'fp32', 'bf16'")
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", ""
        return "fp32", f"{torch.cuda.get_device_name(device)} has no bf16 support"
    if device.type == "cpu":
        if _cpu_has_native_bf16():
            return "bf16", ""
        return "fp32", "this CPU has no native bf16 matrix instructions (avx512_bf16 or amx_bf16)"
    return "fp32", f"no bf16 autocast on device type {device.type!r}"


def seeds_of(seed: int) -> tuple[int, int, int]:
    """Independent streams for one run: init, data order + augmentation, noise (dropout, LASS)."""
    a, b, c = np.random.SeedSequence(seed).generate_state(3)
    return int(a), int(b), int(c)


def augment_batch(x: torch.Tensor, specs: Sequence[RunSpec], gens: Sequence[torch.Generator]) -> torch.Tensor:
    """Per-batch augmentation with torchvision's v2 functional ops, one parameter draw per run.
    (torchvision is imported here, on first use, so a run without augmentation never loads it.)"""
    from torchvision.transforms.v2 import functional as TF

    out = []
    for k, (spec, g) in enumerate(zip(specs, gens)):
        a, xk = spec.train.augment, x[k]
        if not a.active:
            out.append(xk)
            continue
        u = torch.rand(5, generator=g).tolist()  # always five draws, so runs stay reproducible
        if a.rotation:
            xk = TF.rotate(xk, (2 * u[0] - 1) * a.rotation, interpolation=TF.InterpolationMode.BILINEAR)
        if a.brightness:
            xk = TF.adjust_brightness(xk, 1 + (2 * u[1] - 1) * a.brightness)
        if a.contrast:
            xk = TF.adjust_contrast(xk, 1 + (2 * u[2] - 1) * a.contrast)
        if xk.shape[1] == 3 and a.saturation:
            xk = TF.adjust_saturation(xk, 1 + (2 * u[3] - 1) * a.saturation)
        if xk.shape[1] == 3 and a.hue:
            xk = TF.adjust_hue(xk, (2 * u[4] - 1) * a.hue)
        if a.pixel_noise:
            noise = torch.randn(xk.shape, generator=g).to(xk.device)
            xk = (xk + a.pixel_noise * noise).clamp(0, 1)
        out.append(xk)
    return torch.stack(out)


@torch.no_grad()
def predict(model: Batched, x: torch.Tensor, k: int, chunk: int = 0, precision: str = "fp32") -> torch.Tensor:
    """Logits (K, N, classes), fp32, of every run on x: (N, ...) shared or (K, N, ...) per run.
    chunk: examples per forward pass; by default sized so K runs' activations stay small
    (a CNN holds filters x H x W floats per example and run). precision: the forward's arithmetic,
    an already resolved one (see resolve_precision); "bf16" = autocast, as in training."""
    chunk = chunk or max(32, (2048 if isinstance(model, BatchedCNN) else 65536) // k)
    was = model.training
    model.eval()
    outs = []
    n = x.shape[1] if x.ndim == 5 else x.shape[0]
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        for s in range(0, n, chunk):
            xb = x[:, s : s + chunk] if x.ndim == 5 else x[s : s + chunk].unsqueeze(0).expand(k, *x[s : s + chunk].shape)
            outs.append(model(xb).float())
    model.train(was)
    return torch.cat(outs, dim=1)


def _ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of each run: (K, B, C), (K, B) -> (K,)."""
    return _ce_each(logits, y).mean(1)


def _ce_each(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of every example: (K, B, C), (K, B) -> (K, B), in fp32."""
    k, b, c = logits.shape
    return F.cross_entropy(logits.reshape(k * b, c).float(), y.reshape(k * b), reduction="none").view(k, b)


def adv_seed_of(seed: int) -> int:
    """A fourth stream of a run (after seeds_of's three): the noise of its adversarial search, so that
    LASS never shifts the run's dropout draws (a run with adversarial weight 0 trains as without it)."""
    return int(np.random.SeedSequence(seed).generate_state(4)[3])


def adversarial_loss(model: Batched, xb: torch.Tensor, yb: torch.Tensor, adv: torch.Tensor, *,
                     gens: Sequence[torch.Generator], steps: int, lass_cfg: dict | None = None,
                     autocast: Callable = contextlib.nullcontext) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-run training loss (K,) with adversarial training, which points LASS flipped (K, B), and the
    clean pass's logits (K, B, C).

    Every point of the batch gets a LASS search of `steps` iterations (eval mode, the model's own
    prediction as target, in fp32). Where the search flipped the prediction, the point's loss is
    (1 - w)·CE(x) + w·CE(x_adv) on its given label; where it did not, the point has no critical sample in
    the box and contributes its clean loss CE(x) alone (weight 1, as every point). So a batch with no flip
    trains exactly like plain training: no hidden (1 - w) cut of the learning rate, and the adversarial
    term only ever carries critical samples. Both passes run inside model.shared_draws(): the adversarial
    pass uses the clean pass's dropout masks, and only the clean pass moves the batch-norm running
    statistics. The adversarial forward runs in fp32 (at the paper's radius x_adv - x is at most 0.3/255,
    below bf16's resolution); the clean one under `autocast` (the training precision). No host sync: the
    adversarial pass runs whether or not anything flipped (a weight-0 or unflipped point keeps ce exactly)."""
    with model.shared_draws():
        with autocast():
            logits = model(xb)
        ce = _ce_each(logits, yb)                                       # (K, B)
        x_adv, flipped = lass(model, xb, gens=gens, steps=steps, **(lass_cfg or {}))  # fp32, eval mode
        ce_adv = _ce_each(model(x_adv), yb)                             # fp32, the same masks as the clean pass
        w = adv.unsqueeze(1)                                            # (K, 1)
        ce = torch.where(flipped & (w > 0), (1 - w) * ce + w * ce_adv, ce)
    return ce.mean(1), flipped, logits


@torch.no_grad()
def evaluate(model: Batched, data: TrainSet, val: Images,
             precision: str = "fp32") -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Per-run scores (each a (K,) tensor) and the predicted training classes (K, N), with the
    forward in the training's precision (accuracy and loss are not tiny differences; LASS is)."""
    k = data.k
    logits = predict(model, data.x, k, precision=precision)
    pred = logits.argmax(-1)
    right = (pred == data.y).float()
    clean = (~data.corrupted).float()
    corr = data.corrupted.float()
    nan = torch.tensor(float("nan"), device=right.device)
    vlog = predict(model, val.x.to(logits.device), k, precision=precision)
    vy = val.y.to(logits.device).expand(k, -1)
    scores = {
        "train_loss": _ce(logits, data.y),
        "train_acc": right.mean(1),
        "train_acc_clean": torch.where(clean.sum(1) > 0, (right * clean).sum(1) / clean.sum(1).clamp_min(1), nan),
        "train_acc_corrupted": torch.where(corr.sum(1) > 0, (right * corr).sum(1) / corr.sum(1).clamp_min(1), nan),
        "train_acc_true": (pred == data.y_true).float().mean(1),
        "val_loss": _ce(vlog, vy),
        "val_acc": (vlog.argmax(-1) == vy).float().mean(1),
    }
    return scores, pred


def fit(
    specs: Sequence[RunSpec],
    data: TrainSet,
    val: Images,
    *,
    device: str | torch.device = "cpu",
    on_epoch: Callable[[dict], None] | None = None,
    deadline: float | None = None,
    stop: Callable[[], bool] | None = None,
    track_examples: bool = False,
    lass_cfg: dict | None = None,
) -> History:
    """Train len(specs) runs together on `data` and return their per-epoch history.

    deadline: a time.monotonic() value after which the run ends (after the current epoch).
    stop: called after every epoch; True ends the run. track_examples: keep every epoch's
    predicted class of every training example (for E1 and the memorization clock).
    """
    if len(specs) != data.k:
        raise ValueError(f"{len(specs)} run specs but the training set holds {data.k} runs")
    keys = {s.batch_key() for s in specs}
    if len(keys) != 1:
        raise ValueError("runs trained together must share architecture and optimiser settings; "
                         "group them with RunSpec.batch_key()")
    device = torch.device(device)
    tc = specs[0].train
    data = data.to(device)
    mean, std = _clean_stats(data)
    streams = [seeds_of(s.seed) for s in specs]
    model = build([s.model for s in specs], data.x.shape[-3:], data.n_classes, mean, std,
                  [st[0] for st in streams]).to(device)
    data_gens = [torch.Generator().manual_seed(st[1]) for st in streams]
    model.gens = [torch.Generator(device=device).manual_seed(st[2]) for st in streams]
    adv_gens = [torch.Generator(device=device).manual_seed(adv_seed_of(s.seed)) for s in specs]
    # fused kernels: one pass over the K stacked runs' weights (the per-tensor loop was ~40 % of a step)
    opt = (torch.optim.SGD(model.parameters(), lr=tc.lr, momentum=tc.momentum, fused=True) if tc.optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=tc.lr, fused=True))
    sched = torch.optim.lr_scheduler.StepLR(opt, tc.lr_step, tc.lr_gamma) if tc.lr_step else None
    wd = torch.tensor([s.train.weight_decay for s in specs], device=device)
    adv = torch.tensor([s.train.adv_weight for s in specs], device=device)
    use_wd = any(s.train.weight_decay > 0 for s in specs)             # decided once: no host sync per step
    use_adv = any(s.train.adv_weight > 0 for s in specs)
    augment = any(s.train.augment.active for s in specs)
    precision, _ = resolve_precision(tc.precision, device)
    # bf16 autocast covers the training forward only (backward follows it); weights, gradients and
    # optimiser state stay fp32, and evaluation, LASS and the adversarial pass run outside it, in fp32
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")  # noqa: E731
    lass_cfg = dict(lass_cfg or {})
    k, n, bs = data.k, data.n, tc.batch_size
    rows, preds, stopped = [], {}, ""
    flips = {"sum": torch.zeros(k, device=device), "n": 0}  # LASS flips since the last record (adversarial runs)
    # the epoch's training batches as trained on (training mode: dropout and noise on), right answers and
    # examples seen: the training accuracy Keras logs, which the paper's Figs. 10 and 11 plot
    seen = {"right": torch.zeros(k, device=device), "n": 0}
    t0 = time.monotonic()

    def record(epoch: int) -> None:
        scores, pred = evaluate(model, data, val, precision)
        if track_examples:
            preds[epoch] = pred.to(torch.int16).cpu()
        elapsed = time.monotonic() - t0
        scores["train_acc_batches"] = seen["right"] / seen["n"] if seen["n"] else torch.full((k,), float("nan"))
        seen["right"], seen["n"] = torch.zeros(k, device=device), 0
        if use_adv:  # share of the epoch's training points whose LASS search flipped the prediction
            scores["adv_flipped"] = flips["sum"] / flips["n"] if flips["n"] else torch.full((k,), float("nan"))
            flips["sum"], flips["n"] = torch.zeros(k, device=device), 0
        new = [{"run": i, "seed": specs[i].seed, "epoch": epoch, "lr": opt.param_groups[0]["lr"],
                **{m: float(v[i]) for m, v in scores.items()}, "seconds": elapsed} for i in range(k)]
        rows.extend(new)
        if on_epoch is not None:
            on_epoch({"epoch": epoch, "epochs": tc.epochs, "rows": new, "seconds": elapsed,
                      "pred": pred if track_examples else None, "model": model})

    record(0)
    model.train()
    for epoch in range(1, tc.epochs + 1):
        perm = torch.stack([torch.randperm(n, generator=g) for g in data_gens]).to(device)  # (K, N)
        for s in range(0, n, bs):
            idx = perm[:, s : s + bs]                                   # (K, B)
            if idx.shape[1] < 2 and n > 1:                              # batch norm needs two examples
                continue
            xb, yb = data.inputs(idx), data.y.gather(1, idx)            # (K, B, C, H, W), (K, B)
            if augment:
                xb = augment_batch(xb, specs, data_gens)
            if use_adv:                                                 # (K,): see adversarial_loss
                loss, flipped, logits = adversarial_loss(model, xb, yb, adv, gens=adv_gens, steps=tc.adv_steps,
                                                         lass_cfg=lass_cfg, autocast=autocast)
                flips["sum"] += flipped.float().mean(1).detach()
                flips["n"] += 1
            else:
                with autocast():
                    logits = model(xb)
                loss = _ce(logits, yb)                                  # (K,)
            seen["right"] += (logits.detach().argmax(-1) == yb).float().sum(1)
            seen["n"] += yb.shape[1]
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()                                       # runs are independent: sum of means
            if use_wd:
                for p in model.parameters():
                    p.grad.view(k, -1).add_(p.detach().view(k, -1) * wd.unsqueeze(1))
            opt.step()
        if sched is not None:
            sched.step()
        record(epoch)
        if stop is not None and stop():
            stopped = "stop"
        elif deadline is not None and time.monotonic() > deadline:
            stopped = "deadline"
        if stopped:
            break
    model.eval()
    return History(pd.DataFrame(rows), model, preds, stopped, precision)


def _clean_stats(data: TrainSet) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel pixel mean/std of the real training images, for the models' normalisation."""
    x = data.x[0][~data.corrupted[0]] if data.per_run_x and not data.corrupted[0].all() else data.x
    x = x if x.ndim == 4 else x.flatten(0, 1)
    return x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))
