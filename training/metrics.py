"""What the paper measures: critical sample ratio (LASS), epochs to fit, and the best validation
epoch. Loss-sensitivity and its Gini coefficient (E2) live in sensitivity.py.

Pixel-scale constants follow the paper's 0-255 scale divided by 255, because every model here
takes pixels in [0, 1] and normalises internally.
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd
import torch
import torch.nn.functional as F

# The published search's step, noise std and box radius (/255: pixels here are in [0, 1]). The stages pass their
# own from params.yaml (e5.*.csr_radius/alpha/beta, e6.*.adv_radius/alpha/beta); these defaults serve the tests.
ALPHA, BETA, RADIUS = 0.25 / 255, 0.2 / 255, 0.3 / 255


def lass(model, x: torch.Tensor, *, gens: Sequence[torch.Generator], alpha: float = ALPHA, beta: float = BETA,
         radius: float = RADIUS, steps: int = 100, min_new: int = 0, lo: float = 0.0, hi: float = 1.0):
    """Langevin adversarial sample search for K runs at once.

    x: (K, B, ...) pixels. Each iteration moves every point up the gradient of the cross-entropy
    with respect to the model's *own* prediction at the start (sign step alpha plus Gaussian noise
    of std beta), then clips into the L-inf box of `radius` around x and into [lo, hi]. A point
    is critical once its predicted class differs from the original prediction. A run stops
    early when one iteration flips fewer than `min_new` new points.
    Returns (x_adv, flipped): the first critical sample found (else the last iterate), (K, B) bool.
    Always in fp32, even when called inside an autocast region: the box is below bf16's resolution.
    """
    with torch.autocast(x.device.type, enabled=False):
        return _lass(model, x.float(), gens, alpha, beta, radius, steps, min_new, lo, hi)


def _lass(model, x, gens, alpha, beta, radius, steps, min_new, lo, hi):
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


def critical_sample_ratio(model, x: torch.Tensor, *, seed: int, batch: int, steps: int,
                          min_new_share: float, **kw) -> tuple[torch.Tensor, torch.Tensor]:
    """CSR of each of the model's K runs on the points x: (N, C, H, W), searched in batches of `batch`.
    A run's search of a batch stops early once one iteration flips fewer than `min_new_share` of the
    batch's points (the published search: 20 of 500 = 0.04; 0 = never), so the rule means the same
    whatever the number of points searched. Returns (ratio (K,), critical (K, N) bool)."""
    k = model.k
    gens = [torch.Generator(device=x.device).manual_seed(seed + i) for i in range(k)]
    flags = []
    for s in range(0, len(x), batch):
        xb = x[s : s + batch].unsqueeze(0).expand(k, *x[s : s + batch].shape).contiguous()
        min_new = max(1, round(min_new_share * xb.shape[1])) if min_new_share > 0 else 0
        flags.append(lass(model, xb, gens=gens, steps=steps, min_new=min_new, **kw)[1])
    critical = torch.cat(flags, dim=1)
    return critical.float().mean(1), critical


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
