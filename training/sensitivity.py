"""Loss-sensitivity (E2, Figs. 3 and 4): how much the loss after t SGD steps depends on each earlier
training input, through the unrolled SGD updates, and the Gini coefficient of those sensitivities.

Kept apart from metrics.py so that the E2 stage's code can change without touching what every other
stage depends on.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F




def gini(values) -> float:
    """Gini coefficient of non-negative values: 0 when all are equal, (n-1)/n when one holds all."""
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    n, total = len(v), v.sum()
    if n == 0 or total <= 0:
        return 0.0
    return float(2 * np.sum(np.arange(1, n + 1) * v) / (n * total) - (n + 1) / n)


def _ce_per_run(logits: torch.Tensor, y: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
    """Cross-entropy of one run (logits (B, C), y (B,)) or of K independent runs ((K, B, C), (K, B)),
    divided by the batch size B: "sum" gives each run's mean loss summed over runs (so the gradient
    for run k's weights and inputs is that of run k's own mean loss), "none" the per-example terms."""
    per = F.cross_entropy(logits.flatten(0, -2), y.flatten(), reduction="none").view(y.shape) / y.shape[-1]
    return per.sum() if reduction == "sum" else per


def unrolled_input_grads(fwd: Callable, params: dict, window: Sequence[tuple], x_now, y_now, lr: float,
                         class_of_now: torch.Tensor | None = None, n_groups: int = 0):
    """Gradient of the loss at the current step with respect to the inputs of earlier SGD steps.

    params: the weights *before* the first step in `window`; window: [(x_j, y_j), ...] the earlier
    minibatches, oldest first; each SGD step theta <- theta - lr * grad L_j(theta) is unrolled with
    create_graph so the final loss L_t = CE(f(theta_t, x_now), y_now) can be differentiated with
    respect to every x_j. Returns a list of tensors shaped like the x_j.
    With class_of_now and n_groups, L_t is split by the class of the current examples and one
    gradient per class is returned (leading axis n_groups): the rows of Fig. 4's matrix.
    Batches may carry a leading run axis K (x_j (K, B, ...), y_j (K, B), fwd -> (K, B, C)) for K
    independent runs: each run's loss is its own batch mean, and since no run's loss depends on
    another run's inputs, the gradients of the summed losses are every run's own.
    """
    xs = [xj.detach().clone().requires_grad_(True) for xj, _ in window]
    theta = {name: p.detach().requires_grad_(True) for name, p in params.items()}  # a leaf to unroll from
    for xj, (_, yj) in zip(xs, window):
        loss_j = _ce_per_run(fwd(theta, xj), yj)
        grads = torch.autograd.grad(loss_j, list(theta.values()), create_graph=True)
        theta = {name: p - lr * g for (name, p), g in zip(theta.items(), grads)}
    per_example = _ce_per_run(fwd(theta, x_now), y_now, "none")     # (B,) or (K, B)
    if class_of_now is None:
        return list(torch.autograd.grad(per_example.sum(), xs))
    onehot = F.one_hot(class_of_now, n_groups).to(per_example.dtype)  # (..., B, G)
    by_class = (onehot * per_example.unsqueeze(-1)).flatten(0, -2).sum(0)  # (G,) loss of each class's examples
    return list(torch.autograd.grad(by_class, xs, grad_outputs=torch.eye(n_groups, dtype=per_example.dtype),
                                    is_grads_batched=True))


def loss_sensitivity(x: torch.Tensor, y: torch.Tensor, n_classes: int, *, width: int, depth: int, lr: float,
                     batch_size: int, steps: int, window: int, checkpoints: Sequence[int], seed,
                     matrix_every: int = 0, class_labels: torch.Tensor | None = None):
    """Train a small MLP with plain SGD for `steps` steps and measure, at every step t, how much
    the loss L_t depends on each earlier training input: g_x^t = ||dL_t/dx||_1 through the last
    `window` unrolled steps. Returns (gini table with one row per checkpoint, mean g per example,
    10x10 class matrix or None). The matrix, row i = class of the loss, column j = class of the
    input, is averaged over every `matrix_every`-th step (0 = not computed).

    seed: an int for one run (x (N, C, H, W), y (N,)), or a sequence of K seeds for K independent
    runs trained together as one batched model, which costs about as much per step as one run
    (x (N, ...) shared or (K, N, ...) per run; y and class_labels (N,) or (K, N)). Then the table
    has one row per run and checkpoint (column `run` = position in `seed`), the mean g is (K, N)
    and the matrix (K, 10, 10). Each run normalises its inputs with its own pixel mean and std.
    Always fp32, even when called inside an autocast region.
    """
    with torch.autocast(x.device.type, enabled=False):
        return _loss_sensitivity(x.float(), y, n_classes, width, depth, lr, batch_size, steps, window, checkpoints,
                                 seed, matrix_every, class_labels)


def _loss_sensitivity(x, y, n_classes, width, depth, lr, batch_size, steps, window, checkpoints, seed,
                      matrix_every, class_labels):
    from .config import ModelConfig
    from .models import BatchedMLP

    single = isinstance(seed, (int, np.integer))
    seeds = [int(seed)] if single else [int(s) for s in seed]
    k = len(seeds)
    x = x.expand(k, *x.shape) if x.ndim == 4 else x                  # (K, N, C, H, W)
    y = y.expand(k, -1) if y.ndim == 1 else y                        # (K, N)
    classes = y if class_labels is None else (class_labels.expand(k, -1) if class_labels.ndim == 1 else class_labels)
    n = y.shape[1]
    mean, std = x.mean(dim=(1, 3, 4)), x.std(dim=(1, 3, 4))          # (K, C) per run
    net = BatchedMLP([ModelConfig(width=width, depth=depth)] * k, x.shape[2:], n_classes, mean[0], std[0], seeds)
    buffers = {"mean": mean.view(k, 1, -1, 1, 1), "std": std.clamp_min(1e-6).view(k, 1, -1, 1, 1)}

    def fwd(theta, xb):                                              # (K, B, C, H, W) -> (K, B, n_classes)
        return torch.func.functional_call(net, {**theta, **buffers}, (xb,))

    theta = {name: v.detach().clone() for name, v in net.named_parameters()}
    gens = [torch.Generator().manual_seed(s) for s in seeds]         # each run's own data order
    order = torch.empty(k, 0, dtype=torch.long)
    runs = torch.arange(k).unsqueeze(1)                              # (K, 1) for per-run gathers
    recent: deque = deque(maxlen=window)  # (theta before the step, batch indices (K, B))
    gsum = torch.zeros(k, n, dtype=torch.float64)
    matrix = torch.zeros(k, 10, 10, dtype=torch.float64) if matrix_every else None
    n_matrix, rows, marks = 0, [], set(checkpoints)
    for t in range(1, steps + 1):
        if order.shape[1] < batch_size:
            order = torch.cat([order, torch.stack([torch.randperm(n, generator=g) for g in gens])], dim=1)
        idx, order = order[:, :batch_size], order[:, batch_size:]  # (K, B)
        if recent:
            start = recent[0][0]
            win = [(x[runs, j], y.gather(1, j)) for _, j in recent]
            want_matrix = matrix is not None and t % matrix_every == 0
            grads = unrolled_input_grads(fwd, start, win, x[runs, idx], y.gather(1, idx), lr,
                                         classes.gather(1, idx) if want_matrix else None, 10 if want_matrix else 0)
            for (_, j), gj in zip(recent, grads):
                flat = (j + runs * n).flatten()                      # positions in gsum viewed as (K*N,)
                if want_matrix:                                      # gj: (10, K, B, ...) per loss class
                    per = gj.abs().flatten(3).sum(3).double()        # (10, K, B)
                    gsum.view(-1).index_add_(0, flat, gj.sum(0).abs().flatten(2).sum(2).double().flatten())
                    cls = classes.gather(1, j)                       # (K, B) class of each input
                    for r in range(k):
                        matrix[r].index_add_(1, cls[r], per[:, r])
                else:                                                # ||dL_t/dx||_1 of each input
                    gsum.view(-1).index_add_(0, flat, gj.abs().flatten(2).sum(2).double().flatten())
            n_matrix += want_matrix
        # the real SGD step (every run at once)
        params = {name: v.requires_grad_(True) for name, v in theta.items()}
        per_run = _ce_per_run(fwd(params, x[runs, idx]), y.gather(1, idx), "none").sum(1)  # (K,) batch means
        grads = torch.autograd.grad(per_run.sum(), list(params.values()))
        recent.append(({name: v.detach() for name, v in theta.items()}, idx))
        theta = {name: (v - lr * gr).detach() for (name, v), gr in zip(theta.items(), grads)}
        if t in marks:
            gbar = (gsum / t).numpy()
            losses = per_run.detach().tolist()
            rows += [{"run": r, "step": t, "gini": gini(gbar[r]), "loss": losses[r]} for r in range(k)]
    if matrix is not None and n_matrix:
        matrix /= n_matrix
    gbar = (gsum / steps).numpy()
    matrix = None if matrix is None else matrix.numpy()
    if single:
        return pd.DataFrame(rows), gbar[0], None if matrix is None else matrix[0]
    return pd.DataFrame(rows), gbar, matrix
