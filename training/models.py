"""K independent networks stored as one batched model.

Every parameter has a leading model axis K: dense layers are batched matrix products
(torch.baddbmm), conv layers are grouped convolutions (groups=K), batch norm runs over the
K*channels axis. Model k only ever sees its own inputs, its own weights and its own random
draws, so training K runs together gives the same results as training each alone, just faster.

Inputs are pixels in [0, 1] of shape (K, B, C, H, W); the first thing a model does is
normalise them with the training data's per-channel mean and std (kept as buffers), so attacks
work in pixel space. Outputs are logits of shape (K, B, n_classes).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig


def _uniform_(t: torch.Tensor, fan_in: int, gens: Sequence[torch.Generator]) -> None:
    """PyTorch's default Linear/Conv init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), one generator per model."""
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        for k, g in enumerate(gens):
            t[k].uniform_(-bound, bound, generator=g)


def _draw(kind: str, rate: float, shape, g: torch.Generator, device) -> torch.Tensor:
    """One run's random draw: a keep mask (dropout) or standard Gaussian noise."""
    if kind == "dropout":
        return torch.rand(shape, generator=g, device=device) >= rate
    return torch.randn(shape, generator=g, device=device)


class Batched(nn.Module):
    """Shared machinery: normalisation, per-run regularizers and per-run random draws."""

    def __init__(self, cfgs: Sequence[ModelConfig], mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.k = len(cfgs)
        self.register_buffer("mean", mean.detach().clone().float().view(1, 1, -1, 1, 1))
        self.register_buffer("std", std.detach().clone().float().clamp_min(1e-6).view(1, 1, -1, 1, 1))
        # Per-run regularizer strengths, as Python floats so that a run with 0 draws nothing.
        self.rates = {name: [float(getattr(c, name)) for c in cfgs]
                      for name in ("dropout", "input_dropout", "input_noise", "hidden_noise")}
        self.gens: list[torch.Generator] | None = None  # the engine hands in one noise generator per run
        self._draws: list | None = None  # inside shared_draws(): the first training pass's draws, in call order
        self._passes = 0                 # training-mode forward passes started inside shared_draws()
        self._at = 0                     # next draw to replay in the current pass

    @contextmanager
    def shared_draws(self):
        """Forward passes inside share one set of random draws. The first training-mode pass draws its
        dropout masks and noise from the runs' generators and keeps them; every later training-mode pass
        reuses them in the same order (so it sees the same thinned network) and leaves the batch-norm
        running statistics as the first pass set them (a second loss term on the same batch is not more
        data). Eval-mode passes in between (LASS) draw nothing and do not count."""
        self._draws, self._passes, self._at = [], 0, 0
        try:
            yield
        finally:
            self._draws, self._passes, self._at = None, 0, 0

    @property
    def _replaying(self) -> bool:
        return self._draws is not None and self._passes > 1 and self.training

    def _per_run(self, h: torch.Tensor, name: str, kind: str) -> torch.Tensor:
        """Dropout or additive Gaussian noise with a strength per run, drawn from that run's generator
        (or replayed, inside shared_draws(), from the first pass)."""
        rates = self.rates[name]
        if not self.training or not any(rates):
            return h
        if self.gens is None:
            raise RuntimeError("training with noise or dropout needs per-run generators (model.gens)")
        if self._replaying:
            draws = self._draws[self._at]
            self._at += 1
            if any(d is not None and d.shape != h.shape[1:] for d in draws):
                raise RuntimeError("a replayed pass must have the shapes of the first pass (same batch size)")
        else:  # drawn in fp32 whatever h's dtype, so bf16 and fp32 runs drop the same units
            draws = [None if rate == 0 else _draw(kind, rate, h.shape[1:], g, h.device)
                     for rate, g in zip(rates, self.gens)]
            if self._draws is not None:
                self._draws.append(draws)
        parts = []
        for k, (rate, d) in enumerate(zip(rates, draws)):
            if rate == 0:
                parts.append(h[k])
            elif kind == "dropout":
                parts.append(h[k] * d / (1 - rate))
            else:
                parts.append(h[k] + (rate * d).to(h.dtype))
        return torch.stack(parts)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """The first step of every forward pass (so it also starts a pass for shared_draws())."""
        if self._draws is not None and self.training:
            self._passes += 1
            self._at = 0
        if x.shape[0] > 1 and x.stride(0) == 0:              # one input expanded to K runs: normalise it once
            h = ((x[:1] - self.mean) / self.std).expand_as(x)
        else:
            h = (x - self.mean) / self.std                   # (K, B, C, H, W)
        h = self._per_run(h, "input_noise", "noise")
        return self._per_run(h, "input_dropout", "dropout")


class BatchedMLP(Batched):
    """depth hidden ReLU layers of `width` units, then a linear read-out."""

    def __init__(self, cfgs, in_shape, n_classes, mean, std, seeds):
        super().__init__(cfgs, mean, std)
        c = cfgs[0]
        dims = [math.prod(in_shape)] + [c.width] * c.depth + [n_classes]
        self.weights = nn.ParameterList(nn.Parameter(torch.empty(self.k, i, o)) for i, o in zip(dims, dims[1:]))
        self.biases = nn.ParameterList(nn.Parameter(torch.empty(self.k, o)) for o in dims[1:])
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        for w, b in zip(self.weights, self.biases):
            _uniform_(w, w.shape[1], gens)
            _uniform_(b, w.shape[1], gens)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.normalise(x).flatten(2)                     # (K, B, D)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b.unsqueeze(1), h, w)          # (K, B, out)
            if i < last:
                h = self._per_run(F.relu(h), "hidden_noise", "noise")
                h = self._per_run(h, "dropout", "dropout")
        return h


class BatchedCNN(Batched):
    """The paper's small CIFAR CNN: crop, two conv(5x5)-BN-ReLU-maxpool(3x3, stride 2) blocks,
    dense-BN-ReLU layers (384, 192 in the paper) and a linear read-out. Filter count configurable."""

    def __init__(self, cfgs, in_shape, n_classes, mean, std, seeds):
        super().__init__(cfgs, mean, std)
        c = cfgs[0]
        self.crop, f, k = c.crop, c.filters, self.k
        ch, hgt, wid = in_shape
        side = hgt - 2 * c.crop
        for _ in range(2):
            side = (side - 1) // 2 + 1                       # maxpool 3x3, stride 2, padding 1
        self.conv1 = nn.Parameter(torch.empty(k * f, ch, 5, 5))
        self.conv2 = nn.Parameter(torch.empty(k * f, f, 5, 5))
        self.bn_conv = nn.ParameterList(nn.Parameter(torch.empty(k * f)) for _ in range(4))  # gamma1, beta1, gamma2, beta2
        dims = [f * side * side, *c.dense, n_classes]
        self.weights = nn.ParameterList(nn.Parameter(torch.empty(k, i, o)) for i, o in zip(dims, dims[1:]))
        self.biases = nn.ParameterList(nn.Parameter(torch.empty(k, o)) for o in dims[1:])
        self.bn_dense = nn.ParameterList(nn.Parameter(torch.empty(k * u)) for u in c.dense for _ in range(2))
        for i, units in enumerate([f, f, *c.dense]):
            self.register_buffer(f"run_mean{i}", torch.zeros(k * units))
            self.register_buffer(f"run_var{i}", torch.ones(k * units))
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        with torch.no_grad():
            for conv, fan in ((self.conv1, ch * 25), (self.conv2, f * 25)):
                _uniform_(conv.view(k, f, -1), fan, gens)
            for w, b in zip(self.weights, self.biases):
                _uniform_(w, w.shape[1], gens)
                _uniform_(b, w.shape[1], gens)
            for i, p in enumerate([*self.bn_conv, *self.bn_dense]):
                p.fill_(1.0 if i % 2 == 0 else 0.0)

    def _bn(self, h: torch.Tensor, i: int, gamma, beta) -> torch.Tensor:
        if self._replaying:  # batch statistics, running statistics left as the first pass set them
            return F.batch_norm(h, None, None, gamma, beta, training=True, momentum=0.1, eps=1e-5)
        return F.batch_norm(h, getattr(self, f"run_mean{i}"), getattr(self, f"run_var{i}"), gamma, beta,
                            training=self.training, momentum=0.1, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, b = x.shape[:2]
        h = self.normalise(x)
        if self.crop:
            h = h[..., self.crop:-self.crop, self.crop:-self.crop]
        h = h.transpose(0, 1).flatten(1, 2)                  # (B, K*C, H, W): model k owns channel group k
        # channels-last: oneDNN's grouped conv and max-pool are 3-10x faster in it on the CPU than in NCHW
        h = h.contiguous(memory_format=torch.channels_last)
        for i, conv in enumerate((self.conv1, self.conv2)):
            h = F.conv2d(h, conv, padding=2, groups=k)
            h = F.relu(self._bn(h, i, self.bn_conv[2 * i], self.bn_conv[2 * i + 1]), inplace=True)
            h = F.max_pool2d(h, 3, stride=2, padding=1)
        h = h.reshape(b, k, -1).transpose(0, 1)              # (K, B, F*side*side), in (F, side, side) order
        last = len(self.weights) - 1
        for i, (w, bias) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(bias.unsqueeze(1), h, w)       # (K, B, out)
            if i < last:
                units = h.shape[2]
                flat = h.transpose(0, 1).reshape(b, k * units)
                flat = self._bn(flat, 2 + i, self.bn_dense[2 * i], self.bn_dense[2 * i + 1])
                h = F.relu(flat.view(b, k, units).transpose(0, 1))
                h = self._per_run(h, "hidden_noise", "noise")
                h = self._per_run(h, "dropout", "dropout")
        return h


def build(cfgs: Sequence[ModelConfig], in_shape, n_classes: int, mean, std, seeds: Sequence[int]) -> Batched:
    """One batched model for len(cfgs) runs; cfgs must agree on everything but the per-run regularizers."""
    cls = {"mlp": BatchedMLP, "cnn": BatchedCNN}[cfgs[0].arch]
    return cls(list(cfgs), tuple(in_shape), n_classes, mean, std, list(seeds))


def run_state(model: Batched, k: int) -> dict[str, torch.Tensor]:
    """The weights of run k alone (leading axis of size 1), e.g. for a checkpoint."""
    out = {}
    for name, t in model.state_dict().items():
        if name in ("mean", "std"):
            out[name] = t.clone()
        elif t.shape[0] == model.k and name.startswith(("weights", "biases")):
            out[name] = t[k : k + 1].clone()
        else:  # conv and batch-norm tensors are stacked along their first axis in K groups
            out[name] = t.view(model.k, -1, *t.shape[1:])[k].clone()
    return out
