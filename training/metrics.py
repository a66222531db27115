"""What the paper measures: critical sample ratio (LASS), epochs to fit, and the best validation
epoch. Loss-sensitivity and its Gini coefficient (E2) live in sensitivity.py.

Pixel-scale constants follow the paper's 0-255 scale divided by 255, because every model here
takes pixels in [0, 1] and normalises internally.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pandas as pd
import torch
import torch.nn.functional as F

# Algorithm 1's step, noise std and box radius (/255: pixels here are in [0, 1]). The stages pass their own
# from params.yaml (e5.*.csr_radius/alpha/beta, e6.*.adv_radius/alpha/beta); these defaults serve the tests.
ALPHA, BETA, RADIUS = 0.25 / 255, 0.2 / 255, 0.3 / 255


@dataclass
class Search:
    """What one LASS search over N points found for each of K runs.
    first_flip: (K, N) the iteration at which each point's prediction first changed (0 = never);
    stop: (K,) the iteration at which the early-stop rule ended each run's search (the last iteration
    searched when the rule never fired); iterations: how many iterations were actually computed."""

    first_flip: torch.Tensor
    stop: torch.Tensor
    iterations: int

    @property
    def critical(self) -> torch.Tensor:
        """(K, N) bool: critical under the early-stop rule (flipped at or before the run's stop)."""
        return (self.first_flip > 0) & (self.first_flip <= self.stop.unsqueeze(1))

    @property
    def critical_all(self) -> torch.Tensor:
        """(K, N) bool: critical at any iteration searched (the early stop ignored)."""
        return self.first_flip > 0


def lass(model, x: torch.Tensor, *, gens: Sequence[torch.Generator], alpha: float = ALPHA, beta: float = BETA,
         radius: float = RADIUS, steps: int = 100, min_new: int = 0):
    """Langevin adversarial sample search (Algorithm 1) for K runs at once, on one batch.

    x: (K, B, ...) pixels. Each iteration moves every point up the gradient of the cross-entropy
    with respect to the model's *own* prediction at the start (sign step alpha plus Gaussian noise
    of std beta), then projects it into the L-inf box of `radius` around x. Nothing else bounds it:
    as in Algorithm 1, a searched image may leave the [0, 1] pixel range. A point is critical once
    its predicted class differs from the original prediction. A run stops when one iteration flips
    fewer than `min_new` new points of the batch (0 = never; the reference search's rule, whose set
    is whatever it is given: here the batch).
    Returns (x_adv, flipped): the first critical sample found (else the last iterate), (K, B) bool.
    Always in fp32, even when called inside an autocast region: the box is below bf16's resolution.
    """
    with torch.autocast(x.device.type, enabled=False):
        state = _Chunk(model, x.float(), radius)
        search = _search(model, [state], gens, alpha, beta, steps, min_new, full=False)
    flipped = search.critical
    x_adv = torch.where(flipped.view(*flipped.shape, *(1,) * (x.ndim - 2)), state.x_crit, state.x_t)
    return x_adv, flipped


class _Chunk:
    """The search state of one memory chunk of points: (K, B, ...) origin, iterate, first critical
    sample, the original prediction and the iteration at which each point first flipped."""

    def __init__(self, model, x, radius):
        self.x, self.radius = x, radius
        with torch.no_grad():
            self.pred0 = model(x).argmax(-1)                          # (K, B)
        self.x_t, self.x_crit = x.clone(), x.clone()
        self.first_flip = torch.zeros_like(self.pred0, dtype=torch.long)


def _search(model, chunks: list[_Chunk], gens, alpha, beta, steps, min_new, full: bool) -> Search:
    """Run LASS over every chunk, iteration by iteration. The early-stop rule counts a run's new flips
    over *all* chunks in an iteration (the chunks only bound memory) and records the iteration at which
    it fires; a point counts as critical for the run only if it flipped by then (Search.critical). Every
    run follows the same trajectory whether or not its rule has fired, so with full=True (all `steps`
    iterations) one search gives both the early-stopped and the all-iterations critical sets; with
    full=False it ends once every run's rule has fired."""
    was = model.training
    model.eval()
    k = chunks[0].pred0.shape[0]
    device = chunks[0].x.device
    stop = torch.full((k,), steps, dtype=torch.long, device=device)
    active = torch.ones(k, dtype=torch.bool, device=device)     # the early-stop rule has not fired yet
    done = 0
    for it in range(steps + 1):                                  # pass it: look at the iterate after `it` steps
        new = torch.zeros(k, dtype=torch.long, device=device)
        last = it == steps
        for c in chunks:
            x_t = c.x_t.detach().requires_grad_(not last)
            with torch.enable_grad() if not last else torch.no_grad():
                logits = model(x_t)
            if it > 0:
                with torch.no_grad():
                    now = (logits.argmax(-1) != c.pred0) & (c.first_flip == 0)
                    c.x_crit[now] = x_t.detach()[now]
                    c.first_flip[now] = it
                    new += now.sum(1)
            if last:
                continue
            with torch.enable_grad():
                loss = F.cross_entropy(logits.flatten(0, 1).float(), c.pred0.flatten(), reduction="sum")
                (grad,) = torch.autograd.grad(loss, x_t)
            with torch.no_grad():
                noise = torch.stack([torch.randn(c.x.shape[1:], generator=g, device=device) for g in gens])
                x_next = x_t.detach() + alpha * grad.sign() + beta * noise
                c.x_t = torch.minimum(torch.maximum(x_next, c.x - c.radius), c.x + c.radius)
        if it == 0:
            continue
        done = it
        if min_new:
            fired = active & (new < min_new)
            stop = torch.where(fired, torch.full_like(stop, it), stop)
            active &= ~fired
            if not full and not bool(active.any()):
                break
    model.train(was)
    return Search(torch.cat([c.first_flip for c in chunks], dim=1), stop, done)


def critical_sample_ratio(model, x: torch.Tensor, *, seed: int, batch: int, steps: int, min_new: int,
                          full: bool = False, **kw) -> Search:
    """LASS over the points x: (N, C, H, W) for each of the model's K runs, as one searched set: the
    early-stop rule counts new flips over all N points per iteration (the reference search's rule,
    `min_new` = its threshold of 20; 0 = never stop early); `batch` points are held in memory at a time.
    full=True searches every run for all `steps` iterations and records where the rule would have stopped
    it, so the result has both ratios: `.critical.float().mean(1)` (early stop, what the reference
    reports) and `.critical_all.float().mean(1)` (every iteration)."""
    k = model.k
    gens = [torch.Generator(device=x.device).manual_seed(seed + i) for i in range(k)]
    with torch.autocast(x.device.type, enabled=False):
        chunks = [_Chunk(model, x[s : s + batch].float().unsqueeze(0).expand(k, *x[s : s + batch].shape).contiguous(),
                         kw.get("radius", RADIUS)) for s in range(0, len(x), batch)]
        return _search(model, chunks, gens, kw.get("alpha", ALPHA), kw.get("beta", BETA), steps, min_new, full)


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
