"""Loss-sensitivity (E2, Figs. 3 and 4): how much the loss after t SGD steps depends on each earlier
training input, through the unrolled SGD updates, and the Gini coefficient of those sensitivities.

Two definitions of "the loss after t steps", L_t, computed together from one unrolled graph:

- "own+transfer" (one reading of "the loss after t updates": the training loss, so a training input x
  enters it twice): L_t is the mean loss over the whole training set at the current weights theta_t,
  with the current minibatch B_t standing in for the set and each input x of the unrolled window W
  adding its own loss. dL_t/dx for x in W then holds x's own term (the gradient of its own loss at
  theta_t through its own forward pass) plus its effect through the SGD updates it took part in. x is
  in the window on `window` of every N / |B| steps, so its own term is weighted to give it, averaged
  over time, the weight 1/N per step it has in the training loss (loss_sensitivity's own_weight).
- "transfer" (the other reading, closer to the paper's sentence that x's update reaches later losses
  "indirectly", through later updates on other examples): L_t is the mean loss over B_t only, the next
  minibatch, so only the effect through the updates remains.
The paper states neither; the E2 stage records both and the scoreboard judges both.

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

OWN, TRANSFER = "own+transfer", "transfer"
DEFINITIONS = (OWN, TRANSFER)  # axis 0 of the sensitivities and matrices loss_sensitivity returns


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


def _group_sums(per: torch.Tensor, groups: torch.Tensor | None, n_groups: int) -> torch.Tensor:
    """Sum of per-example losses `per` (..., B) over runs and examples, by group (G,) or in total (1,)."""
    if groups is None:
        return per.sum().unsqueeze(0)
    onehot = F.one_hot(groups, n_groups).to(per.dtype)                # (..., B, G)
    return (onehot * per.unsqueeze(-1)).flatten(0, -2).sum(0)


def unrolled_input_grads(fwd: Callable, params: dict, window: Sequence[tuple], x_now, y_now, lr: float,
                         class_of_now: torch.Tensor | None = None, n_groups: int = 0,
                         class_of_window: Sequence[torch.Tensor] | None = None, *, n_total: int) -> dict[str, list]:
    """Gradient of the loss after the window's SGD steps with respect to the inputs of those steps,
    under both definitions of that loss (DEFINITIONS).

    params: the weights *before* the first step in `window`; window: [(x_j, y_j), ...] the earlier
    minibatches, oldest first; each SGD step theta <- theta - lr * grad L_j(theta) (L_j the batch's
    mean loss) is unrolled with create_graph, reaching theta_t. Then
    - "transfer":     L_t = mean over (x_now, y_now) of CE(f(theta_t, x), y);
    - "own+transfer": L_t = the training loss after t steps, the mean over all n_total training examples:
                      the next batch's mean stands in for it (its gradient estimates the whole set's), and
                      each window input's own loss CE(f(theta_t, x_j), y_j) enters at its true weight
                      1 / n_total (the x_j are the differentiated leaves). (Weighting the own terms as
                      members of a |B_t| + |W| sample would overweight them n_total / (|B_t| + |W|) times.)
    and both are differentiated with respect to every x_j through the same unrolled graph.
    Returns {definition: [tensor shaped like x_j for each window batch]}.
    With class_of_now, class_of_window (one class tensor per window batch) and n_groups, each L_t is
    split by the class of the examples whose loss it sums and one gradient per class is returned
    (leading axis n_groups): the rows of Fig. 4's matrix. The splits add up to the unsplit gradient.
    Batches may carry a leading run axis K (x_j (K, B, ...), y_j (K, B), fwd -> (K, B, C)) for K
    independent runs: each run's loss is its own batch mean, and since no run's loss depends on
    another run's inputs, the gradients of the summed losses are every run's own.
    """
    return _unrolled(fwd, params, window, x_now, y_now, lr, class_of_now, n_groups, class_of_window, n_total)[0]


def _unrolled(fwd, params, window, x_now, y_now, lr, class_of_now, n_groups, class_of_window, n_total):
    """unrolled_input_grads, and the weights the unrolled steps reach (detached): the training loop's
    own SGD steps, so it need not take them a second time."""
    xs = [xj.detach().clone().requires_grad_(True) for xj, _ in window]
    theta = {name: p.detach().requires_grad_(True) for name, p in params.items()}  # a leaf to unroll from
    for xj, (_, yj) in zip(xs, window):
        loss_j = _ce_per_run(fwd(theta, xj), yj)
        grads = torch.autograd.grad(loss_j, list(theta.values()), create_graph=True)
        theta = {name: p - lr * g for (name, p), g in zip(theta.items(), grads)}
    b = y_now.shape[-1]
    ys = [yj for _, yj in window]
    y_all = torch.cat([y_now, *ys], dim=-1)
    per = F.cross_entropy(fwd(theta, torch.cat([x_now, *xs], dim=y_now.ndim - 1)).flatten(0, -2),
                          y_all.flatten(), reduction="none").view(y_all.shape)  # (..., B + |W|) unscaled
    split = class_of_now is not None
    g = n_groups if split else 1
    win_classes = torch.cat(list(class_of_window), dim=-1) if split else None
    sums = torch.cat([_group_sums(per[..., :b], class_of_now if split else None, g),     # A: over B_t
                      _group_sums(per[..., b:], win_classes, g)])                        # C: over W
    # one backward pass per sum, through the same graph: on these tiny tensors a loop is faster than
    # torch.autograd.grad(..., is_grads_batched=True) (vmap), 2-4x for the two sums of a plain step
    passes = [torch.autograd.grad(s, xs, retain_graph=i < len(sums) - 1) for i, s in enumerate(sums)]
    raw = [torch.stack([p[j] for p in passes]) for j in range(len(xs))]                  # each (2G, ...)
    out: dict[str, list] = {OWN: [], TRANSFER: []}
    for r in raw:
        now, win = r[:g], r[g:]
        out[TRANSFER].append(now / b if split else now[0] / b)
        both = now / b + win / n_total
        out[OWN].append(both if split else both[0])
    return out, {name: p.detach() for name, p in theta.items()}


def loss_sensitivity(x: torch.Tensor, y: torch.Tensor, n_classes: int, *, width: int, depth: int, lr: float,
                     batch_size: int, steps: int, window: int, checkpoints: Sequence[int], seed,
                     matrix_every: int = 0, matrix_from: int = 0, class_labels: torch.Tensor | None = None,
                     late_from: int | None = None, own_weight: float | None = None):
    """Train a small MLP with plain SGD for `steps` steps and measure, at every step t, how much
    the loss L_t depends on each earlier training input: g_x^t = ||dL_t/dx||_1 through the last
    `window` unrolled steps, under both DEFINITIONS of L_t (see unrolled_input_grads).
    Returns (gini table, mean g per example, 10x10 class matrix or None):
    - the table has one row per definition and checkpoint: definition, step, gini (of the mean g up to
      that step), loss (that step's batch), train_loss and train_acc (the whole training set, after
      that step's update);
    - the mean g over all steps has shape (len(DEFINITIONS), N);
    - the matrix (len(DEFINITIONS), 10, 10), row i = class of the examples whose loss is summed,
      column j = class of the input x, is averaged over every `matrix_every`-th step t > matrix_from
      (0 = no matrix).

    seed: an int for one run (x (N, C, H, W), y (N,)), or a sequence of K seeds for K independent
    runs trained together as one batched model, which costs about as much per step as one run
    (x (N, ...) shared or (K, N, ...) per run; y and class_labels (N,) or (K, N)). Then the table
    column `run` is the position in `seed` (always 0 for one run), the mean g is (D, K, N) and the
    matrix (D, K, 10, 10).
    late_from: also average the matrix over the matrix steps t > late_from alone, returned as a fourth
    element (the same shape as the matrix).
    own_weight: the weight of a window input's own loss in "own+transfer" at each window step (default
    1 / N, the whole-set mean's weight per step). x sits in the window on `window` of every N / batch_size
    steps, so 1 / (window x batch_size) gives its own term the time-averaged weight 1 / N per step that
    either reading of the training loss has (the whole-set mean every step, or 1 / batch_size when x is in
    the minibatch); 1 / N at window steps only would be window x batch_size / N times too light.
    Each run normalises its inputs with its own pixel mean and std. A seed s draws the initial
    weights from generator seed s and the data order from a separate stream derived from s.
    Always fp32 (or the inputs' float64), even when called inside an autocast region.
    """
    x = x if x.dtype == torch.float64 else x.float()
    with torch.autocast(x.device.type, enabled=False):
        return _loss_sensitivity(x, y, n_classes, width, depth, lr, batch_size, steps, window, checkpoints,
                                 seed, matrix_every, matrix_from, class_labels, late_from, own_weight)


def order_seed(seed: int) -> int:
    """The data-order generator's seed for run seed `seed` (a stream apart from the weight init's)."""
    return int(np.random.SeedSequence([int(seed), 1]).generate_state(1)[0])


def _loss_sensitivity(x, y, n_classes, width, depth, lr, batch_size, steps, window, checkpoints, seed,
                      matrix_every, matrix_from, class_labels, late_from=None, own_weight=None):
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
    net = net.to(x.dtype)
    buffers = {"mean": mean.view(k, 1, -1, 1, 1), "std": std.clamp_min(1e-6).view(k, 1, -1, 1, 1)}

    def fwd(theta, xb):                                              # (K, B, C, H, W) -> (K, B, n_classes)
        return torch.func.functional_call(net, {**theta, **buffers}, (xb,))

    theta = {name: v.detach().clone() for name, v in net.named_parameters()}
    gens = [torch.Generator().manual_seed(order_seed(s)) for s in seeds]  # each run's own data order
    order = torch.empty(k, 0, dtype=torch.long)
    runs = torch.arange(k).unsqueeze(1)                              # (K, 1) for per-run gathers
    recent: deque = deque(maxlen=window)  # (theta before the step, batch indices (K, B))
    n_def = len(DEFINITIONS)
    gsum = torch.zeros(n_def, k, n, dtype=torch.float64)
    matrix = torch.zeros(n_def, k, 10, 10, dtype=torch.float64) if matrix_every else None
    late = torch.zeros(n_def, k, 10, 10, dtype=torch.float64) if matrix_every and late_from is not None else None
    n_matrix, n_late, rows, marks = 0, 0, [], set(checkpoints)
    own_total = n if own_weight is None else 1.0 / own_weight        # _unrolled weighs the own terms 1 / own_total
    for t in range(1, steps + 1):
        if order.shape[1] < batch_size:
            order = torch.cat([order, torch.stack([torch.randperm(n, generator=g) for g in gens])], dim=1)
        idx, order = order[:, :batch_size], order[:, batch_size:]  # (K, B)
        if recent:
            start = recent[0][0]
            win = [(x[runs, j], y.gather(1, j)) for _, j in recent]
            want_matrix = matrix is not None and t % matrix_every == 0 and t > matrix_from
            want_late = want_matrix and late is not None and t > late_from
            grads, theta = _unrolled(                                # theta: the weights after t - 1 steps
                fwd, start, win, x[runs, idx], y.gather(1, idx), lr,
                classes.gather(1, idx) if want_matrix else None, 10 if want_matrix else 0,
                [classes.gather(1, j) for _, j in recent] if want_matrix else None, own_total)
            for d, name in enumerate(DEFINITIONS):
                for (_, j), gj in zip(recent, grads[name]):
                    flat = (j + runs * n).flatten()                  # positions in gsum[d] viewed as (K*N,)
                    if want_matrix:                                  # gj: (10, K, B, ...) per loss class
                        per = gj.abs().flatten(3).sum(3).double()    # (10, K, B)
                        gsum[d].view(-1).index_add_(0, flat, gj.sum(0).abs().flatten(2).sum(2).double().flatten())
                        cls = classes.gather(1, j)                   # (K, B) class of each input
                        for r in range(k):
                            matrix[d, r].index_add_(1, cls[r], per[:, r])
                            if want_late:
                                late[d, r].index_add_(1, cls[r], per[:, r])
                    else:                                            # ||dL_t/dx||_1 of each input
                        gsum[d].view(-1).index_add_(0, flat, gj.abs().flatten(2).sum(2).double().flatten())
            n_matrix += want_matrix
            n_late += want_late
        # step t's SGD update is taken by the next step's unroll (the same arithmetic, so there is no
        # separate training step); at a checkpoint it is taken here too, to measure the weights after it
        recent.append((theta, idx))
        if t in marks:
            gbar = (gsum / t).numpy()
            params = {name: v.detach().requires_grad_(True) for name, v in theta.items()}
            per_run = _ce_per_run(fwd(params, x[runs, idx]), y.gather(1, idx), "none").sum(1)  # (K,) batch means
            step = torch.autograd.grad(per_run.sum(), list(params.values()))
            after = {name: (v - lr * gr).detach() for (name, v), gr in zip(theta.items(), step)}
            losses = per_run.detach().tolist()
            with torch.no_grad():                                    # the whole training set, after this step
                logits = fwd(after, x)
                full = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(k, n).mean(1)
                acc = (logits.argmax(-1) == y).double().mean(1)
            rows += [{"definition": name, "run": r, "step": t, "gini": gini(gbar[d, r]), "loss": losses[r],
                      "train_loss": float(full[r]), "train_acc": float(acc[r])}
                     for d, name in enumerate(DEFINITIONS) for r in range(k)]
    if matrix is not None and n_matrix:
        matrix /= n_matrix
    if late is not None and n_late:
        late /= n_late
    gbar = (gsum / steps).numpy()
    matrix = None if matrix is None else matrix.numpy()
    table = pd.DataFrame(rows)
    out = (table, gbar[:, 0], None if matrix is None else matrix[:, 0]) if single else (table, gbar, matrix)
    if late_from is None:
        return out
    late = None if late is None else late.numpy()
    return (*out, None if late is None else (late[:, 0] if single else late))
