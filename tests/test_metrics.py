"""Critical sample ratio (LASS), Gini, unrolled input gradients, loss-sensitivity and the history summaries."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from training import data as D
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
    ratio, critical = M.critical_sample_ratio(Threshold(2, 0.5, slope=0.0), x, steps=30, min_new=0)
    assert ratio.shape == (2,) and critical.shape == (2, 40)
    assert ratio.tolist() == [0.0, 0.0]


def test_csr_is_high_when_the_boundary_cuts_through_the_data():
    near = grey_points(np.linspace(-RADIUS / 2, RADIUS / 2, 40))     # within the LASS box of the boundary
    model = Threshold(3, 0.5)
    ratio, critical = M.critical_sample_ratio(model, near, steps=30, min_new=0, batch=16)
    assert critical.shape == (3, 40)
    assert (ratio > 0.5).all()
    far = grey_points(np.linspace(-0.2, 0.2, 40)[np.abs(np.linspace(-0.2, 0.2, 40)) > 10 * RADIUS])
    assert M.critical_sample_ratio(model, far, steps=30, min_new=0)[0].max() == 0.0


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


def tiny_net(seed: int = 0):
    """A 16-6-3 tanh network as a functional forward and float64 parameters."""
    g = torch.Generator().manual_seed(seed)
    params = {"w1": torch.randn(16, 6, generator=g, dtype=torch.float64) * 0.5,
              "b1": torch.zeros(6, dtype=torch.float64),
              "w2": torch.randn(6, 3, generator=g, dtype=torch.float64) * 0.5}

    def fwd(theta, x):
        return torch.tanh(x.flatten(1) @ theta["w1"] + theta["b1"]) @ theta["w2"]
    return fwd, params


def sgd_then_loss(fwd, params, window, x_now, y_now, lr):
    theta = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    for xj, yj in window:
        grads = torch.autograd.grad(F.cross_entropy(fwd(theta, xj), yj), list(theta.values()))
        theta = {k: (v - lr * g).detach().requires_grad_(True) for (k, v), g in zip(theta.items(), grads)}
    return F.cross_entropy(fwd(theta, x_now), y_now).item()


def test_unrolled_input_grads_match_finite_differences():
    fwd, params = tiny_net()
    g = torch.Generator().manual_seed(1)
    window = [(torch.rand(5, 1, 4, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (5,), generator=g))
              for _ in range(3)]
    x_now = torch.rand(4, 1, 4, 4, generator=g, dtype=torch.float64)
    y_now = torch.randint(0, 3, (4,), generator=g)
    lr, eps = 0.5, 1e-6
    grads = S.unrolled_input_grads(fwd, params, window, x_now, y_now, lr)
    assert [gr.shape for gr in grads] == [xj.shape for xj, _ in window]
    for j, pixel in [(0, (2, 0, 1, 3)), (1, (4, 0, 3, 0)), (2, (0, 0, 2, 2))]:
        estimate = []
        for sign in (1, -1):
            moved = [(xj.clone(), yj) for xj, yj in window]
            moved[j][0][pixel] += sign * eps
            estimate.append(sgd_then_loss(fwd, params, moved, x_now, y_now, lr))
        fd = (estimate[0] - estimate[1]) / (2 * eps)
        assert grads[j][pixel].item() == pytest.approx(fd, rel=1e-5, abs=1e-9)
        assert abs(fd) > 1e-6                                        # the check is not vacuous


def test_unrolled_input_grads_split_by_class_add_up():
    fwd, params = tiny_net(2)
    g = torch.Generator().manual_seed(3)
    window = [(torch.rand(5, 1, 4, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (5,), generator=g))
              for _ in range(2)]
    x_now, y_now = torch.rand(6, 1, 4, 4, generator=g, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    total = S.unrolled_input_grads(fwd, params, window, x_now, y_now, 0.3)
    split = S.unrolled_input_grads(fwd, params, window, x_now, y_now, 0.3, class_of_now=y_now, n_groups=3)
    for t, s in zip(total, split):
        assert s.shape == (3, *t.shape)
        assert torch.allclose(s.sum(0), t, atol=1e-12)
        assert (s.abs().flatten(1).sum(1) > 0).all()


def test_loss_sensitivity_returns_gini_table_sensitivities_and_matrix(mnist):
    train = D.downscale(D.stratified_subset(mnist[0], 60, 0), 14)
    table, per_example, matrix = S.loss_sensitivity(
        train.x, train.y, 10, width=16, depth=1, lr=0.05, batch_size=10, steps=6, window=2,
        checkpoints=[3, 6], seed=0, matrix_every=2)
    assert list(table["step"]) == [3, 6] and set(table.columns) >= {"step", "gini", "loss"}
    assert ((table["gini"] > 0) & (table["gini"] < 1)).all()
    assert per_example.shape == (60,) and (per_example >= 0).all() and (per_example > 0).sum() >= 10
    assert matrix.shape == (10, 10) and (matrix >= 0).all() and matrix.sum() > 0
    again = S.loss_sensitivity(train.x, train.y, 10, width=16, depth=1, lr=0.05, batch_size=10, steps=6,
                               window=2, checkpoints=[3, 6], seed=0)
    assert again[2] is None and np.allclose(again[1], per_example)


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
