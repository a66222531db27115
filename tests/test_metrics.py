"""Critical sample ratio (LASS), Gini and the history summaries (E2's unrolled gradients: test_stage_e2.py)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from training import metrics as M
from training import sensitivity as S
from training.metrics import RADIUS


class Threshold(nn.Module):
    """K copies of a two-class classifier on the mean pixel: class 1 iff mean(x) > level.
    With slope 0 it is a constant classifier (always class 1, whatever the input)."""

    def __init__(self, k: int, level: float, slope: float = 1000.0):
        super().__init__()
        self.k, self.level, self.slope = k, level, slope

    def forward(self, x):                                            # (K, B, C, H, W) -> (K, B, 2)
        s = self.slope * (x.flatten(2).mean(-1) - self.level) + (1.0 if self.slope == 0 else 0.0)
        return torch.stack([-s, s], dim=-1)


def grey_points(offsets) -> torch.Tensor:
    """Uniform grey 8x8 images whose mean pixel is 0.5 + offset."""
    return (0.5 + torch.as_tensor(offsets, dtype=torch.float32)).view(-1, 1, 1, 1).expand(-1, 1, 8, 8).contiguous()


def csr(model, x, **kw) -> torch.Tensor:
    """The early-stopped critical sample ratio of each run."""
    return M.critical_sample_ratio(model, x, **kw).critical.float().mean(1)


def test_csr_is_zero_for_a_constant_classifier():
    x = grey_points(np.linspace(-RADIUS / 2, RADIUS / 2, 40))
    found = M.critical_sample_ratio(Threshold(2, 0.5, slope=0.0), x, seed=0, batch=500, steps=30, min_new=0)
    assert found.critical.shape == (2, 40)
    assert found.critical.float().mean(1).tolist() == [0.0, 0.0]


def test_csr_is_high_when_the_boundary_cuts_through_the_data():
    near = grey_points(np.linspace(-RADIUS / 2, RADIUS / 2, 40))     # within the LASS box of the boundary
    model = Threshold(3, 0.5)
    assert (csr(model, near, seed=0, steps=30, min_new=0, batch=16) > 0.5).all()
    far = grey_points(np.linspace(-0.2, 0.2, 40)[np.abs(np.linspace(-0.2, 0.2, 40)) > 10 * RADIUS])
    assert csr(model, far, seed=0, batch=500, steps=30, min_new=0).max() == 0.0


def test_lass_is_not_clipped_to_the_pixel_range():
    """Algorithm 1 keeps the search inside the box around x and nowhere else. Black images (every pixel 0)
    whose boundary lies just below them (mean pixel -RADIUS/2) flip only if pixels may go negative: a
    search clipped to [0, 1] (what this project did before) finds no critical sample at all."""
    black = torch.zeros(30, 1, 8, 8)
    model = Threshold(2, -RADIUS / 2, slope=10.0)
    assert csr(model, black, seed=0, batch=500, steps=10, min_new=0).tolist() == [1.0, 1.0]
    x_adv, flipped = M.lass(model, black.unsqueeze(0).expand(2, -1, -1, -1, -1), gens=[torch.Generator().manual_seed(i)
                            for i in range(2)], steps=10, beta=0.0)
    assert flipped.all() and x_adv.min() < 0 and (x_adv - 0).abs().max() <= RADIUS + 1e-7


def slow_flippers(levels: int, per_level: int, alpha: float) -> torch.Tensor:
    """Grey points below a Threshold(level 0.5) boundary: per_level of them need exactly j + 1 LASS
    steps of size alpha to cross it, for j = 0 .. levels - 1, so each iteration flips per_level points."""
    offsets = [-(j + 0.5) * alpha for j in range(levels) for _ in range(per_level)]
    return grey_points(offsets)


def test_early_stop_counts_new_flips_over_the_whole_searched_set():
    """200 points searched in two memory chunks of 100; every iteration flips 20 new points, 10 in each chunk.
    The reference rule (stop when an iteration flips fewer than 20 new points of the set it searches) goes on
    to the end: CSR 1.0. Counting per chunk, as this project did before, stopped both chunks after one
    iteration (10 < 20 each): CSR 0.1, a CSR set by the memory layout."""
    alpha = 0.01
    x = slow_flippers(levels=10, per_level=20, alpha=alpha)
    x = torch.cat([x[0::2], x[1::2]])                                # each level half in each chunk
    gentle = Threshold(1, 0.5, slope=10.0)                           # steep slopes underflow the gradient far away
    kw = dict(seed=0, steps=40, alpha=alpha, beta=0.0, radius=1.0, min_new=20)
    found = M.critical_sample_ratio(gentle, x, batch=100, **kw)
    assert found.critical.float().mean().item() == 1.0
    assert found.stop.tolist() == [11]                               # iteration 11 flips none: the rule fires there
    assert M.critical_sample_ratio(gentle, x, batch=500, **kw).critical.equal(found.critical)  # chunks: memory only
    # and the rule still stops a search whose flips dry up: 4 of 200 per iteration
    few = torch.cat([slow_flippers(levels=20, per_level=4, alpha=alpha), grey_points([-0.45] * 120)])
    assert csr(gentle, few, batch=100, **kw).tolist() == [pytest.approx(4 / 200)]


def test_a_full_search_records_both_ratios():
    """full=True searches every iteration and keeps where the rule would have stopped: the early-stopped
    critical set is what an early-stopped search finds, and a subset of the all-iterations one."""
    alpha = 0.01
    few = torch.cat([slow_flippers(levels=20, per_level=4, alpha=alpha), grey_points([-0.45] * 120)])
    gentle = Threshold(1, 0.5, slope=10.0)
    kw = dict(seed=0, steps=40, alpha=alpha, beta=0.0, radius=1.0, min_new=20, batch=100)
    early = M.critical_sample_ratio(gentle, few, **kw)
    full = M.critical_sample_ratio(gentle, few, full=True, **kw)
    assert early.iterations == 1 and full.iterations == 40 and full.stop.tolist() == [1]
    assert full.critical.equal(early.critical)
    assert full.critical_all.float().mean().item() == pytest.approx(80 / 200)  # all 20 levels reached in 40 steps
    assert (full.critical_all | ~full.critical).all()


def test_lass_stays_in_the_box_and_restores_train_mode():
    model = Threshold(1, 0.5).train()
    x = grey_points([RADIUS / 4, -RADIUS / 4, 0.1]).unsqueeze(0)     # (1, 3, 1, 8, 8)
    gens = [torch.Generator().manual_seed(0)]
    x_adv, flipped = M.lass(model, x, gens=gens, steps=30)
    assert model.training
    assert flipped.tolist() == [[True, True, False]]
    assert (x_adv - x).abs().max() <= RADIUS + 1e-7
    pred0, pred1 = model(x).argmax(-1), model(x_adv).argmax(-1)
    assert torch.equal(pred1 != pred0, flipped)                      # a critical sample changes the class


def test_gini_of_known_vectors():
    assert S.gini([3, 3, 3, 3]) == pytest.approx(0.0, abs=1e-12)
    assert S.gini([0, 0, 0, 0, 7]) == pytest.approx(4 / 5)
    # by hand: mean absolute difference over all ordered pairs / (2 * mean); values 1, 2, 3, 4
    # sum |xi - xj| over i, j = 2 * (1+2+3+1+2+1) = 20; 20 / (2 * 16 * 2.5) = 0.25
    assert S.gini([4, 1, 3, 2]) == pytest.approx(0.25)
    assert S.gini([]) == 0.0 and S.gini([0, 0]) == 0.0


# The unrolled input gradients and loss_sensitivity (E2) are tested in test_stage_e2.py.


def frame(rows):
    return pd.DataFrame(rows, columns=["run", "epoch", "train_acc", "val_acc"])


def test_epochs_to_fit_and_best_val_on_hand_made_frames():
    f = frame([(0, 0, 0.1, 0.1), (0, 1, 0.6, 0.5), (0, 2, 1.0, 0.7), (0, 3, 1.0, 0.7),
               (1, 0, 0.1, 0.1), (1, 1, 0.9, 0.8), (1, 2, 0.95, 0.6), (1, 3, 0.99, 0.8)])
    fit = M.epochs_to_fit(f)
    assert fit.loc[0] == 2 and math.isnan(fit.loc[1])
    assert M.epochs_to_fit(f, target=0.9).tolist() == [2.0, 1.0]
    best = M.best_val(f.sample(frac=1, random_state=0))              # row order must not matter
    assert best.loc[0, "best_epoch"] == 2 and best.loc[0, "best_val_acc"] == 0.7   # first of the tie
    assert best.loc[1, "best_epoch"] == 1 and best.loc[1, "best_val_acc"] == 0.8
