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


def test_csr_is_zero_for_a_constant_classifier():
    x = grey_points(np.linspace(-RADIUS / 2, RADIUS / 2, 40))
    ratio, critical = M.critical_sample_ratio(Threshold(2, 0.5, slope=0.0), x, seed=0, batch=500, steps=30,
                                                min_new_share=0)
    assert ratio.shape == (2,) and critical.shape == (2, 40)
    assert ratio.tolist() == [0.0, 0.0]


def test_csr_is_high_when_the_boundary_cuts_through_the_data():
    near = grey_points(np.linspace(-RADIUS / 2, RADIUS / 2, 40))     # within the LASS box of the boundary
    model = Threshold(3, 0.5)
    ratio, critical = M.critical_sample_ratio(model, near, seed=0, steps=30, min_new_share=0, batch=16)
    assert critical.shape == (3, 40)
    assert (ratio > 0.5).all()
    far = grey_points(np.linspace(-0.2, 0.2, 40)[np.abs(np.linspace(-0.2, 0.2, 40)) > 10 * RADIUS])
    assert M.critical_sample_ratio(model, far, seed=0, batch=500, steps=30, min_new_share=0)[0].max() == 0.0


def slow_flippers(levels: int, per_level: int, alpha: float) -> torch.Tensor:
    """Grey points below a Threshold(level 0.5) boundary: per_level of them need exactly j + 1 LASS
    steps of size alpha to cross it, for j = 0 .. levels - 1, so each iteration flips per_level points."""
    offsets = [-(j + 0.5) * alpha for j in range(levels) for _ in range(per_level)]
    return grey_points(offsets)


def test_csr_early_stop_is_a_share_of_the_points_searched():
    """200 points, 10 flipping per LASS iteration (5 %). The old rule (stop when an iteration flips fewer
    than 20 points, whatever the batch) stopped after the first iteration: CSR 0.05. As a share of the
    points searched (the published search: 20 of 500 = 4 % = 8 of 200) the search goes on: CSR 1.0."""
    alpha = 0.01
    x = slow_flippers(levels=20, per_level=10, alpha=alpha)
    kw = dict(seed=0, steps=40, alpha=alpha, beta=0.0, radius=1.0)
    gentle = Threshold(1, 0.5, slope=10.0)                           # steep slopes underflow the gradient far away
    shared, _ = M.critical_sample_ratio(gentle, x, batch=500, min_new_share=0.04, **kw)
    assert shared.tolist() == [1.0]
    never, _ = M.critical_sample_ratio(gentle, x, batch=500, min_new_share=0.0, **kw)
    assert never.tolist() == [1.0]
    # the absolute threshold of 20 flips that the stage used to apply to 200 points: censored after one step
    x1 = x.unsqueeze(0)
    _, flipped = M.lass(gentle, x1, gens=[torch.Generator().manual_seed(0)], steps=40, min_new=20,
                        alpha=alpha, beta=0.0, radius=1.0)
    assert flipped.float().mean().item() == pytest.approx(0.05)
    # and the share still stops a search whose flips dry up: only 4 of 200 (2 %) flip per iteration
    few = slow_flippers(levels=20, per_level=4, alpha=alpha)
    few = torch.cat([few, grey_points([-0.45] * 120)])               # 120 points out of reach in 40 steps
    early, _ = M.critical_sample_ratio(gentle, few, batch=500, min_new_share=0.04, **kw)
    assert early.tolist() == [pytest.approx(4 / 200)]


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
