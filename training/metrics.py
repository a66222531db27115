"""What the paper measures: critical sample ratio (LASS), loss-sensitivity and its Gini
coefficient, epochs to fit, and the best validation epoch.

Pixel-scale constants follow the paper's 0-255 scale divided by 255, because every model here
takes pixels in [0, 1] and normalises internally.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

ALPHA, BETA, RADIUS = 0.25 / 255, 0.2 / 255, 0.3 / 255  # LASS step, noise std and box radius (paper, /255)


def lass(model, x: torch.Tensor, *, gens: Sequence[torch.Generator], alpha: float = ALPHA, beta: float = BETA,
         radius: float = RADIUS, steps: int = 100, min_new: int = 0, lo: float = 0.0, hi: float = 1.0):
    """Langevin adversarial sample search for K runs at once.

    x: (K, B, ...) pixels. Each iteration moves every point up the gradient of the cross-entropy
    with respect to the model's *own* prediction at the start (sign step alpha plus Gaussian noise
    of std beta), then clips into the L-inf box of `radius` around x and into [lo, hi]. A point
    is critical once its predicted class differs from the original prediction. A run stops
    early when one iteration flips fewer than `min_new` new points.
    Returns (x_adv, flipped): the first critical sample found (else the last iterate), (K, B) bool.
    """
    was = model.training
    model.eval()
    k = x.shape[0]
    with torch.no_grad():
        pred0 = model(x).argmax(-1)                                  # (K, B)
    flipped = torch.zeros_like(pred0, dtype=torch.bool)
    active = torch.ones(k, dtype=torch.bool, device=x.device)
    x_crit, x_t = x.clone(), x.clone()
    view = (k,) + (1,) * (x.ndim - 1)
    for it in range(steps + 1):
        x_t.requires_grad_(True)
        with torch.enable_grad():
            logits = model(x_t)
        if it > 0:  # did the last step flip anything?
            with torch.no_grad():
                new = (logits.argmax(-1) != pred0) & ~flipped & active.unsqueeze(1)
                x_crit[new] = x_t.detach()[new]
                flipped |= new
                if min_new:
                    active &= new.sum(1) >= min_new
            if it == steps or not active.any():
                break
        with torch.enable_grad():
            loss = F.cross_entropy(logits.flatten(0, 1).float(), pred0.flatten(), reduction="sum")
            (grad,) = torch.autograd.grad(loss, x_t)
        with torch.no_grad():
            noise = torch.stack([torch.randn(x.shape[1:], generator=g, device=x.device) for g in gens])
            step = alpha * grad.sign() + beta * noise
            x_t = x_t.detach() + step * active.view(view)
            x_t = torch.minimum(torch.maximum(x_t, x - radius), x + radius).clamp_(lo, hi)
    model.train(was)
    x_adv = torch.where(flipped.view(*flipped.shape, *(1,) * (x.ndim - 2)), x_crit, x_t.detach())
    return x_adv, flipped


def critical_sample_ratio(model, x: torch.Tensor, *, seed: int = 0, batch: int = 500, steps: int = 100,
                          min_new: int = 20, **kw) -> tuple[torch.Tensor, torch.Tensor]:
    """CSR of each of the model's K runs on the points x: (N, C, H, W), searched in batches.
    Returns (ratio (K,), critical (K, N) bool)."""
    k = model.k
    gens = [torch.Generator(device=x.device).manual_seed(seed + i) for i in range(k)]
    flags = []
    for s in range(0, len(x), batch):
        xb = x[s : s + batch].unsqueeze(0).expand(k, *x[s : s + batch].shape).contiguous()
        flags.append(lass(model, xb, gens=gens, steps=steps, min_new=min_new, **kw)[1])
    critical = torch.cat(flags, dim=1)
    return critical.float().mean(1), critical


# ---------------------------------------------------------------------------------------------
# Loss-sensitivity (E2)


def gini(values) -> float:
    """Gini coefficient of non-negative values: 0 when all are equal, (n-1)/n when one holds all."""
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    n, total = len(v), v.sum()
    if n == 0 or total <= 0:
        return 0.0
    return float(2 * np.sum(np.arange(1, n + 1) * v) / (n * total) - (n + 1) / n)


def unrolled_input_grads(fwd: Callable, params: dict, window: Sequence[tuple], x_now, y_now, lr: float,
                         class_of_now: torch.Tensor | None = None, n_groups: int = 0):
    """Gradient of the loss at the current step with respect to the inputs of earlier SGD steps.

    params: the weights *before* the first step in `window`; window: [(x_j, y_j), ...] the earlier
    minibatches, oldest first; each SGD step theta <- theta - lr * grad L_j(theta) is unrolled with
    create_graph so the final loss L_t = CE(f(theta_t, x_now), y_now) can be differentiated with
    respect to every x_j. Returns a list of tensors shaped like the x_j.
    With class_of_now and n_groups, L_t is split by the class of the current examples and one
    gradient per class is returned (leading axis n_groups): the rows of Fig. 4's matrix.
    """
    xs = [xj.detach().clone().requires_grad_(True) for xj, _ in window]
    theta = {name: p.detach().requires_grad_(True) for name, p in params.items()}  # a leaf to unroll from
    for xj, (_, yj) in zip(xs, window):
        loss_j = F.cross_entropy(fwd(theta, xj), yj)
        grads = torch.autograd.grad(loss_j, list(theta.values()), create_graph=True)
        theta = {name: p - lr * g for (name, p), g in zip(theta.items(), grads)}
    per_example = F.cross_entropy(fwd(theta, x_now), y_now, reduction="none") / len(y_now)
    if class_of_now is None:
        return list(torch.autograd.grad(per_example.sum(), xs))
    onehot = F.one_hot(class_of_now, n_groups).to(per_example.dtype)  # (B, G)
    by_class = onehot.t() @ per_example                             # (G,) loss of each class's examples
    return list(torch.autograd.grad(by_class, xs, grad_outputs=torch.eye(n_groups, dtype=per_example.dtype),
                                    is_grads_batched=True))


def loss_sensitivity(x: torch.Tensor, y: torch.Tensor, n_classes: int, *, width: int, depth: int, lr: float,
                     batch_size: int, steps: int, window: int, checkpoints: Sequence[int], seed: int,
                     matrix_every: int = 0, class_labels: torch.Tensor | None = None):
    """Train a small MLP with plain SGD for `steps` steps and measure, at every step t, how much
    the loss L_t depends on each earlier training input: g_x^t = ||dL_t/dx||_1 through the last
    `window` unrolled steps. Returns (gini table with one row per checkpoint, mean g per example,
    10x10 class matrix or None). The matrix, row i = class of the loss, column j = class of the
    input, is averaged over every `matrix_every`-th step (0 = not computed).
    """
    from .config import ModelConfig
    from .models import BatchedMLP

    n = len(y)
    net = BatchedMLP([ModelConfig(width=width, depth=depth)], x.shape[1:], n_classes,
                     x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3)), [seed])
    buffers = dict(net.named_buffers())

    def fwd(theta, xb):
        return torch.func.functional_call(net, {**theta, **buffers}, (xb.unsqueeze(0),))[0]

    theta = {k: v.detach().clone() for k, v in net.named_parameters()}
    g = torch.Generator().manual_seed(seed)
    order = torch.empty(0, dtype=torch.long)
    recent: deque = deque(maxlen=window)  # (theta before the step, batch indices)
    gsum = torch.zeros(n, dtype=torch.float64)
    classes = class_labels if class_labels is not None else y
    matrix = torch.zeros(10, 10, dtype=torch.float64) if matrix_every else None
    n_matrix, rows, marks = 0, [], set(checkpoints)
    for t in range(1, steps + 1):
        if len(order) < batch_size:
            order = torch.cat([order, torch.randperm(n, generator=g)])
        idx, order = order[:batch_size], order[batch_size:]
        if recent:
            start = recent[0][0]
            win = [(x[j], y[j]) for _, j in recent]
            want_matrix = matrix is not None and t % matrix_every == 0
            grads = unrolled_input_grads(fwd, start, win, x[idx], y[idx], lr,
                                         classes[idx] if want_matrix else None, 10 if want_matrix else 0)
            for (_, j), gj in zip(recent, grads):
                if want_matrix:                                      # gj: (10, B, ...) per loss class
                    per = gj.abs().flatten(2).sum(2).double()        # (10, B)
                    gsum.index_add_(0, j, gj.sum(0).abs().flatten(1).sum(1).double())  # ||dL_t/dx||_1, as below
                    matrix.index_add_(1, classes[j], per)
                else:
                    gsum.index_add_(0, j, gj.abs().flatten(1).sum(1).double())
            n_matrix += want_matrix
        # the real SGD step
        params = {k: v.requires_grad_(True) for k, v in theta.items()}
        loss = F.cross_entropy(fwd(params, x[idx]), y[idx])
        grads = torch.autograd.grad(loss, list(params.values()))
        recent.append(({k: v.detach() for k, v in theta.items()}, idx))
        theta = {k: (v - lr * gr).detach() for (k, v), gr in zip(theta.items(), grads)}
        if t in marks:
            gbar = gsum / t
            rows.append({"step": t, "gini": gini(gbar.numpy()), "loss": float(loss)})
    if matrix is not None and n_matrix:
        matrix /= n_matrix
    return pd.DataFrame(rows), (gsum / steps).numpy(), None if matrix is None else matrix.numpy()


# ---------------------------------------------------------------------------------------------
# Summaries of a training history (one row per run x epoch)


def epochs_to_fit(frame: pd.DataFrame, column: str = "train_acc", target: float = 1.0) -> pd.Series:
    """First epoch at which each run's training accuracy reaches `target` (NaN if it never does)."""
    hit = frame[frame[column] >= target - 1e-9]
    first = hit.groupby("run")["epoch"].min()
    return first.reindex(sorted(frame["run"].unique())).astype(float)


def best_val(frame: pd.DataFrame) -> pd.DataFrame:
    """Per run: the epoch and value of the best validation accuracy (the first epoch on ties)."""
    ordered = frame.sort_values(["run", "epoch"])
    idx = ordered.groupby("run")["val_acc"].idxmax()
    out = frame.loc[idx, ["run", "epoch", "val_acc"]]
    return out.rename(columns={"epoch": "best_epoch", "val_acc": "best_val_acc"}).set_index("run")
