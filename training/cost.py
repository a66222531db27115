"""What a piece of a stage's work costs: counted on the stage's own code, then priced on a device.

The planner (plan.py) needs, for every group of batched runs, the cost of one optimiser step, one
evaluation pass, one LASS iteration and building the model. Each is *counted*, not guessed: the piece
runs once at a tiny size (1 and 2 runs, 2 and 4 examples) under `Counter`, a torch dispatch mode that
sees every operator and tallies

  mm, conv   FLOPs of matrix products and convolutions (torch's own FLOP formulas), by dtype;
  bytes      bytes every operator reads and writes (its tensor arguments and fresh results; views move
             nothing): weights, gradients and optimiser state once per step, activations, casts;
  ops        operators dispatched (each costs a fixed time on the host: Python, dispatch, a launch);
  rng        random numbers drawn (dropout masks, noise, LASS's Langevin noise, the weight init).

Every count is exactly linear in the number of runs K and in the examples per pass B (the batched
model's per-run loops are per run, weights are per run, activations per run and example), so four
tiny traces give the piece at any K and B. `Device.seconds` prices a tally:

  FLOPs / (peak x efficiency) + bytes / bandwidth + ops x op time + random numbers x their time,

a sum, not a max: a CPU runs one operator at a time, and a GPU step here waits on the host every step
(no overlap to count on). The device's numbers live in params.yaml `plan: devices:`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from .config import RunSpec
from .models import build

_RNG = {"rand", "randn", "normal", "uniform", "bernoulli", "randint", "randperm", "exponential", "random",
        "rand_like", "randn_like", "normal_", "uniform_", "bernoulli_", "exponential_", "random_"}


@dataclass
class Tally:
    mm: dict = field(default_factory=dict)     # dtype name -> matrix-product FLOPs
    conv: dict = field(default_factory=dict)   # dtype name -> convolution FLOPs
    bytes: float = 0.0
    ops: float = 0.0
    rng: float = 0.0
    ws: dict = field(default_factory=dict)     # working set (MB) -> bytes moved by pieces of that working set

    def __add__(self, o: "Tally") -> "Tally":
        add = lambda a, b: {k: a.get(k, 0) + b.get(k, 0) for k in {*a, *b}}  # noqa: E731
        return Tally(add(self.mm, o.mm), add(self.conv, o.conv), self.bytes + o.bytes, self.ops + o.ops,
                     self.rng + o.rng, add(self.ws, o.ws))

    def __mul__(self, s: float) -> "Tally":
        return Tally({k: v * s for k, v in self.mm.items()}, {k: v * s for k, v in self.conv.items()},
                     self.bytes * s, self.ops * s, self.rng * s, {k: v * s for k, v in self.ws.items()})

    def within(self, mb: float) -> "Tally":
        """The same work with every byte moved inside a working set of `mb` MB (what decides the cache
        level it streams from)."""
        key = float(2 ** math.ceil(math.log2(max(mb, 1 / 16))))
        return dataclasses.replace(self, ws={key: self.bytes})

    __rmul__ = __mul__

    def __sub__(self, o: "Tally") -> "Tally":
        return self + o * -1.0

    def flops(self, dtype: str | None = None) -> float:
        return sum(v for d in (self.mm, self.conv) for k, v in d.items() if dtype is None or k == dtype)


def _nbytes(t: torch.Tensor) -> int:
    """Bytes a tensor really spans (an expanded one: its storage, not its logical size)."""
    logical = t.numel() * t.element_size()
    try:
        return min(logical, t.untyped_storage().nbytes())
    except (RuntimeError, NotImplementedError):
        return logical


class Counter(TorchDispatchMode):
    """Tallies every operator run inside it (see the module docstring)."""

    def __init__(self):
        super().__init__()
        self.tally = Tally()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        t = self.tally
        t.ops += 1
        schema = func._schema
        if any(r.alias_info is not None and not r.alias_info.is_write for r in schema.returns):
            return out  # a view: nothing moves
        packet = func._overloadpacket
        name = packet.__name__
        if packet in flop_registry:
            flops = flop_registry[packet](*args, **kwargs, out_val=out)
            first = next(a for a in _tensors(args))
            kind = t.conv if "conv" in name else t.mm
            dtype = _DTYPES.get(first.dtype, str(first.dtype))
            kind[dtype] = kind.get(dtype, 0) + flops
        if name in _GATHER:  # reads only the rows it gathers / writes only the rows it scatters
            moved = sum(_nbytes(x) for x in _tensors((out,) if name in _GATHER_OUT else args[2:]))
            t.bytes += 2 * moved + sum(_nbytes(x) for x in _tensors(args[1:2] if name != "index_select" else args[2:3]))
            return out
        written = 0
        for arg, value in zip(schema.arguments, args):
            if arg.alias_info is not None and arg.alias_info.is_write:
                written += sum(_nbytes(x) for x in _tensors((value,)))
        read = sum(_nbytes(x) for x in _tensors(args)) + sum(_nbytes(x) for x in _tensors(kwargs.values()))
        fresh = 0 if written else sum(_nbytes(x) for x in _tensors((out,)))
        t.bytes += read + written + fresh
        if name in _RNG or name.rstrip("_") in _RNG:
            t.rng += sum(x.numel() for x in _tensors((args[0],) if written else (out,)))
        return out


_GATHER_OUT = {"index_select", "gather", "index", "take", "embedding"}
_GATHER = _GATHER_OUT | {"index_add", "index_add_", "index_put", "index_put_", "scatter", "scatter_", "scatter_add",
                         "scatter_add_", "index_copy", "index_copy_"}
_DTYPES = {torch.float32: "fp32", torch.bfloat16: "bf16"}


def _tensors(values):
    """The tensors among values, one level of lists/tuples deep (what an operator's arguments hold)."""
    for v in values:
        if isinstance(v, torch.Tensor):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from (x for x in v if isinstance(x, torch.Tensor))


def count(fn, *args, **kwargs) -> Tally:
    """What fn(*args, **kwargs) does, on one thread (the counts do not depend on threads; tiny traces on
    two threads of a busy machine wait on each other)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with Counter() as c:
            fn(*args, **kwargs)
    finally:
        torch.set_num_threads(threads)
    return c.tally


@dataclass(frozen=True)
class Linear:
    """A tally as a + b·K + c·B + d·K·B (K runs, B examples per pass), from four tiny traces (2 and 3 runs:
    a single run takes a few other branches, e.g. an input shared by K runs is normalised once)."""
    a: Tally
    b: Tally
    c: Tally
    d: Tally

    def terms(self) -> tuple:
        return self.a, self.b, self.c, self.d

    def at(self, k: float, n: float) -> Tally:
        return self.a + self.b * k + self.c * n + self.d * (k * n)

    @classmethod
    def fit(cls, trace, ks=(2, 3), ns=(2, 4)) -> "Linear":
        (k1, k2), (n1, n2) = ks, ns
        t11, t12, t21, t22 = trace(k1, n1), trace(k1, n2), trace(k2, n1), trace(k2, n2)
        d = (t22 - t21 - t12 + t11) * (1 / ((k2 - k1) * (n2 - n1)))
        b = (t21 - t11) * (1 / (k2 - k1)) - d * n1
        c = (t12 - t11) * (1 / (n2 - n1)) - d * k1
        a = t11 - b * k1 - c * n1 - d * (k1 * n1)
        # operators are counted per pass, never per example: fitted on the first size alone, so that a
        # data-dependent branch (a LASS flip bookkeeping op) cannot leak into the per-example terms
        per_run = (t21.ops - t11.ops) / (k2 - k1)
        a.ops, b.ops, c.ops, d.ops = t11.ops - per_run * k1, per_run, 0, 0
        return cls(a, b, c, d)


# ---------------------------------------------------------------------------------------------
# The pieces of a run, each traced on the engine's and the metrics' own code


def _specs(spec: RunSpec, last: RunSpec, k: int) -> list[RunSpec]:
    """k runs for a trace: the group's first run, then its last (the most regularized, usually)."""
    return [spec] if k == 1 else [spec] + [last] * (k - 1)


def _model(specs, in_shape, n_classes):
    c = in_shape[0]
    return build([s.model for s in specs], in_shape, n_classes, torch.full((c,), 0.5), torch.full((c,), 0.25),
                 list(range(len(specs))))


@dataclass(frozen=True)
class Pieces:
    """One batched group's pieces, each a Linear in (runs, examples)."""
    build: Linear     # building the model (examples: unused)
    step: Linear      # one optimiser step on a batch of B examples per run
    predict: Linear   # one evaluation forward pass of B examples (engine.predict, one chunk)
    lass: Linear      # one LASS iteration over B points per run (fp32, eval mode)
    lass_start: Linear  # a LASS search's set-up: the original prediction of B points
    state: float = 0.0    # bytes of one run's weights, gradients and optimiser state (what a step streams)
    weights: float = 0.0  # bytes of one run's weights (what an evaluation pass streams)

    def working_set(self, k: int, n: int, training: bool = True) -> float:
        """MB a pass over n examples of k runs keeps hot: the runs' state (weights alone when not
        training) and the activations (the forward's bytes per example)."""
        weights = self.state if training else self.weights
        return k * (weights + n * self.predict.d.bytes) / 1e6


_PIECES: dict = {}


def _canonical(spec: RunSpec) -> RunSpec:
    """The spec with what does not change the counts set aside (seed; a regularizer's strength, only
    whether it is on), so that a sweep's groups share one trace."""
    on = lambda v: 0.5 if v else 0.0  # noqa: E731
    m, t = spec.model, spec.train
    model = dataclasses.replace(m, **{f: on(getattr(m, f)) for f in ("dropout", "input_dropout", "input_noise",
                                                                      "hidden_noise") if hasattr(m, f)})
    return dataclasses.replace(spec, seed=0, model=model, train=dataclasses.replace(
        t, weight_decay=on(t.weight_decay), adv_weight=on(t.adv_weight), lr=0.01))


def pieces(spec: RunSpec, last: RunSpec, in_shape: tuple, n_classes: int, precision: str) -> Pieces:
    """The pieces of the group whose first run is `spec` and last `last`, with training in `precision`
    (already resolved for the device: 'bf16' or 'fp32'). Memoised: a profile has few distinct groups."""
    key = (_canonical(spec), _canonical(last), tuple(in_shape), n_classes, precision)
    if key not in _PIECES:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # the traces' inputs: the same counts every time (a LASS flip moves a few bytes)
            _PIECES[key] = _trace(*key)
    return _PIECES[key]


def _trace(spec, last, in_shape, n_classes, precision) -> Pieces:
    from . import engine
    from .metrics import lass

    tc = spec.train
    autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")  # noqa: E731
    built = {}

    def made(k):  # one model (and optimiser, after one step) per number of runs, shared by every trace
        if k not in built:
            specs = _specs(spec, last, k)
            tally = count(_model, specs, in_shape, n_classes)
            model = _model(specs, in_shape, n_classes)
            model.gens = [torch.Generator().manual_seed(i) for i in range(k)]
            opt = (torch.optim.SGD(model.parameters(), lr=tc.lr, momentum=tc.momentum, fused=True)
                   if tc.optimizer == "sgd" else torch.optim.Adam(model.parameters(), lr=tc.lr, fused=True))
            args = (torch.tensor([s.train.weight_decay for s in specs]),
                    torch.tensor([s.train.adv_weight for s in specs]),
                    [torch.Generator().manual_seed(i) for i in range(k)], any(s.train.augment.active for s in specs))
            built[k] = specs, model, opt, args, tally
            step_trace(k, 2)  # the optimiser's state exists from the first step on
        return built[k]

    def step_trace(k, n):
        specs, model, opt, args, _ = made(k)
        x, y = torch.rand(2 * n, *in_shape), torch.randint(0, n_classes, (k, 2 * n))
        model.train()
        return count(step, model, opt, x, y, n, specs, *args, autocast)

    def predict_trace(k, n):
        model = made(k)[1]
        return count(engine.predict, model, torch.rand(n, *in_shape), k, chunk=n, precision=precision)

    def lass_trace(steps):
        def trace(k, n):
            model = made(k)[1]
            gens = [torch.Generator().manual_seed(i) for i in range(k)]
            return count(lass, model, torch.rand(k, n, *in_shape), gens=gens, steps=steps)
        return trace

    one, two = Linear.fit(lass_trace(1)), Linear.fit(lass_trace(2))
    per_iter = Linear(*(t2 - t1 for t1, t2 in zip(one.terms(), two.terms())))
    start = Linear(*(t1 - t for t1, t in zip(one.terms(), per_iter.terms())))
    weights = sum(p.numel() * p.element_size() for p in made(2)[1].parameters()) / 2
    states = 2 + {"adam": 2, "sgd": int(tc.momentum > 0)}[tc.optimizer]  # weights, gradients, optimiser state
    return Pieces(Linear.fit(lambda k, n: made(k)[4]), Linear.fit(step_trace), Linear.fit(predict_trace),
                  per_iter, start, float(weights * states), float(weights))


def step(model, opt, x, y, n, specs, wd, adv, gens, augment, autocast) -> None:
    """One training step as engine.fit takes it (its loop body): gather, augment, forward (plus LASS and
    the adversarial pass for adversarial runs, counted as if a point always flipped: an upper bound),
    backward, weight decay, optimiser step."""
    from . import engine
    from .metrics import lass

    k = len(specs)
    idx = torch.stack([torch.randperm(2 * n)[:n] for _ in range(k)])   # (K, B)
    xb = x.index_select(0, idx.flatten()).view(*idx.shape, *x.shape[1:])
    yb = y.gather(1, idx)
    if augment:
        xb = engine.augment_batch(xb, specs, gens)
    if adv.any():
        with model.shared_draws():
            with autocast():
                ce = engine._ce_each(model(xb), yb)
            x_adv, flipped = lass(model, xb, gens=gens, steps=specs[0].train.adv_steps)
            ce_adv = engine._ce_each(model(x_adv), yb)
            w = adv.unsqueeze(1)
            loss = torch.where(flipped | (w > 0), (1 - w) * ce + w * ce_adv, ce).mean(1)
    else:
        with autocast():
            loss = engine._ce(model(xb), yb)
    opt.zero_grad(set_to_none=True)
    loss.sum().backward()
    if wd.any():
        for p in model.parameters():
            p.grad.view(k, -1).add_(p.detach().view(k, -1) * wd.unsqueeze(1))
    opt.step()


def predict_chunk(arch: str, k: int) -> int:
    """Examples per evaluation forward pass (engine.predict's default)."""
    return max(32, (2048 if arch == "cnn" else 65536) // k)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)
