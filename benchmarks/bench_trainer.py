"""How fast the trainer is on this machine, as ratios measured in one run (by hand; not a test).

    python benchmarks/bench_trainer.py                          # every core, wall clock (idle machine)
    python benchmarks/bench_trainer.py --threads 1 --clock cpu  # one core, CPU seconds (busy shared machine)
    python benchmarks/bench_trainer.py --quick                  # one round, one epoch: a rough look
    python benchmarks/bench_trainer.py --profile                # torch.profiler's top ops of one MLP epoch

Measurements run in rounds (--reps); each round measures everything once, so the peak and the
loops see the same share of the machine, and each keeps its best round. What is measured
(benchmarks/README.md says how to read it):
  peak     fp32 matmul GFLOP/s of square products (2 n^3 flops; best over n = 256..2048)
  mlp      training samples/s of MLP 784-512-512-10 on the real MNIST sample (8,000 digits), by the
           trainer (training.engine.fit) and by a plain PyTorch loop (DataLoader over a TensorDataset,
           nn.Sequential, the same SGD), and achieved GFLOP/s = 6 x parameters x samples/s vs the peak;
           "matmuls alone" times only the step's 8 matrix products: the ceiling for any training loop
  k8       8 runs as one batched model vs the same 8 runs one after another (samples/s of all runs)
  cnn      training samples/s of the CNN (filters 16 and 32, dense 384-192) on 2,000 CIFAR-10 images
The trainer's per-epoch evaluation is swapped for a no-op stub while timing, and the clock starts
at the epoch-0 callback, so only training steps (shuffle, gather, forward, backward, update) count,
not model building or evaluation. Results go to benchmarks/out/bench_trainer-<threads>t-<clock>.csv.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training import data as D  # noqa: E402
from training import engine as E  # noqa: E402
from training.config import ModelConfig, RunSpec, TrainConfig  # noqa: E402
from training.models import build  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
MLP = ModelConfig(arch="mlp", width=512, depth=2)            # 784-512-512-10, 669,706 parameters
LR, MOMENTUM = 0.01, 0.9                                     # plain SGD with momentum, as in the paper
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}  # --clock: wall time, or this process's CPU time
clock = time.perf_counter


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---------------------------------------------------------------------------------------------
# The machine's peak


def matmul_peak(sizes=(256, 512, 1024, 2048), reps: int = 5, dtype=torch.float32) -> tuple[float, int]:
    """Best GFLOP/s (2 n^3 per product) of square products in `dtype` over sizes, and the size that gave it."""
    best, at = 0.0, 0
    g = torch.Generator().manual_seed(0)
    for n in sizes:
        a, b = torch.randn(n, n, generator=g).to(dtype), torch.randn(n, n, generator=g).to(dtype)
        out = torch.empty(n, n, dtype=dtype)
        inner = max(1, int(2e9 // (2 * n**3)))                # about 2 GFLOP per timed block
        torch.mm(a, b, out=out)
        for _ in range(reps):
            t0 = clock()
            for _ in range(inner):
                torch.mm(a, b, out=out)
            rate = 2 * n**3 * inner / (clock() - t0) / 1e9
            if rate > best:
                best, at = rate, n
    return best, at


# ---------------------------------------------------------------------------------------------
# The trainer, steps only


def _no_eval(model, data, val, precision="fp32"):
    """Stands in for engine.evaluate while timing: same return shape, no work."""
    return {"train_acc": torch.zeros(data.k)}, torch.zeros(data.k, data.n, dtype=torch.long)


@contextlib.contextmanager
def steps_only():
    real = E.evaluate
    E.evaluate = _no_eval
    try:
        yield
    finally:
        E.evaluate = real


def trainer_rate(specs, trainset, val, reps: int) -> float:
    """Training samples per second of engine.fit (all K runs counted), best of reps."""
    epochs, best = specs[0].train.epochs, 0.0
    for _ in range(reps):
        start = {}

        def on_epoch(report):
            if report["epoch"] == 0:
                start["t"] = clock()
        with steps_only():
            E.fit(specs, trainset, val, on_epoch=on_epoch)
        seconds = clock() - start["t"]
        best = max(best, trainset.k * trainset.n * epochs / seconds)
    return best


def mlp_spec(seed: int, batch: int, epochs: int, precision: str = "fp32") -> RunSpec:
    return RunSpec(seed=seed, model=MLP, train=TrainConfig(optimizer="sgd", lr=LR, momentum=MOMENTUM,
                                                           batch_size=batch, epochs=epochs, precision=precision))


# ---------------------------------------------------------------------------------------------
# The usual way: a DataLoader over a TensorDataset and an nn.Sequential


def plain_rate(train: D.Images, batch: int, epochs: int, reps: int) -> float:
    mean, std = train.pixel_stats()
    x = ((train.x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)).flatten(1)  # (N, 784), normalised once
    loader = DataLoader(TensorDataset(x, train.y), batch_size=batch, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    best = 0.0
    for rep in range(reps):
        torch.manual_seed(rep)
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        t0 = clock()
        for _ in range(epochs):
            for xb, yb in loader:
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        best = max(best, len(train) * epochs / (clock() - t0))
    return best


def matmul_only_rate(batch: int, reps: int = 5) -> float:
    """Samples/s if a training step of the MLP were nothing but its 8 batched matrix products
    (3 forward, 5 backward: the trainer's own baddbmm/bmm calls at K = 1): the ceiling for any loop."""
    g = torch.Generator().manual_seed(0)
    dims = [784, 512, 512, 10]
    w = [torch.randn(1, i, o, generator=g) for i, o in zip(dims, dims[1:])]
    b = [torch.randn(1, 1, o, generator=g) for o in dims[1:]]
    h = [torch.randn(1, batch, d, generator=g) for d in dims]   # each layer's input and the output
    gr = [torch.randn(1, batch, d, generator=g) for d in dims[1:]]

    def step():
        for i in range(3):
            torch.baddbmm(b[i], h[i], w[i])                        # forward
            torch.bmm(h[i].transpose(1, 2), gr[i])                 # weight gradient
            if i:
                torch.bmm(gr[i], w[i].transpose(1, 2))             # input gradient (none for the pixels)
    step()
    best = 0.0
    for _ in range(reps):
        t0 = clock()
        for _ in range(10):
            step()
        best = max(best, 10 * batch / (clock() - t0))
    return best


def step_flops(spec: RunSpec, trainset) -> float:
    """Forward + backward FLOPs of one training example, counted by torch's FlopCounterMode."""
    mean, std = trainset.x.mean(dim=(0, 2, 3)), trainset.x.std(dim=(0, 2, 3))
    model = build([spec.model], trainset.x.shape[-3:], 10, mean, std, [0]).train()
    b = 64
    xb, yb = trainset.x[:b].unsqueeze(0), trainset.y[:1, :b]
    counter = FlopCounterMode(display=False)
    with counter:
        E._ce(model(xb), yb).sum().backward()
    return counter.get_total_flops() / b


def profile_epoch(trainset, val, batch: int = 256) -> None:
    """Where one MLP training epoch spends its time, op by op (evaluation stubbed out as above)."""
    from torch.profiler import ProfilerActivity, profile

    spec = mlp_spec(0, batch, 1)
    with steps_only():
        E.fit([spec], trainset, val)                          # warm-up
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            E.fit([spec], trainset, val)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))


# ---------------------------------------------------------------------------------------------


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat, one epoch: a rough look")
    ap.add_argument("--reps", type=int, default=3, help="rounds of every measurement (the best is kept)")
    ap.add_argument("--epochs", type=int, default=2, help="epochs per MLP measurement (8,000 digits each)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads")
    ap.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                    help="wall: seconds on the clock (the real speed on an idle machine); cpu: this process's "
                         "CPU seconds, which a busy shared machine disturbs less (use with --threads 1)")
    ap.add_argument("--profile", action="store_true", help="only print torch.profiler's top ops of one MLP epoch")
    args = ap.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    reps, epochs = (1, 1) if args.quick else (args.reps, args.epochs)
    torch.set_num_threads(args.threads)  # explicit, here only: the benchmark owns the whole machine
    train, val = D.mnist10k()
    val = val.take(torch.arange(100))
    clean = E.make_train_set(train, [D.Corruption()])
    if args.profile:
        profile_epoch(clean, val)
        return
    eight = E.make_train_set(train, [D.Corruption()] * 8)
    mlp_flops = 6 * sum(i * o + o for i, o in ((784, 512), (512, 512), (512, 10)))  # 6 x 669,706 per sample
    cnn = []
    try:
        ctrain, cval = D.load("cifar10")
        ctrain, cval = D.stratified_subset(ctrain, 2000, 0), cval.take(torch.arange(100))
        cdata = E.make_train_set(ctrain, [D.Corruption()])
        for filters in (16, 32):
            spec = RunSpec(seed=0, model=ModelConfig(arch="cnn", filters=filters),
                           train=TrainConfig(optimizer="sgd", lr=LR, momentum=MOMENTUM, batch_size=128, epochs=1))
            cnn.append((f"cnn filters {filters}", spec, step_flops(spec, cdata)))
    except D.DatasetMissing as err:
        print(f"CNN skipped: {err}")

    # Round-robin: every round measures everything once, so the peak and the loops see the same
    # share of a busy machine; each measurement keeps its best round.
    load0 = os.getloadavg()[0]
    print(f"{cpu_name()}, {args.threads} threads, {args.clock} clock, torch {torch.__version__}, "
          f"load average {load0:.1f}", flush=True)
    best: dict[tuple, float] = {}

    def keep(key, value):
        best[key] = max(best.get(key, 0.0), value)
        print(f"  round {r + 1}: {key[0]:<26} batch {key[1]:>4}  {value:>9,.0f}", flush=True)

    bf16 = E.resolve_precision("bf16", "cpu")[0] == "bf16"
    if not bf16:
        print("  this CPU has no native bf16: the bf16 rows are skipped")
    for r in range(reps):
        keep(("peak GFLOP/s", 0), matmul_peak()[0])
        if bf16:
            keep(("bf16 peak GFLOP/s", 0), matmul_peak(dtype=torch.bfloat16)[0])
        for batch in (256, 512):
            keep(("mlp trainer", batch), trainer_rate([mlp_spec(0, batch, epochs)], clean, val, 1))
            if bf16:
                keep(("mlp trainer bf16", batch), trainer_rate([mlp_spec(0, batch, epochs, "bf16")], clean, val, 1))
            keep(("mlp plain DataLoader loop", batch), plain_rate(train, batch, epochs, 1))
            keep(("mlp matmuls alone", batch), matmul_only_rate(batch))
        keep(("mlp 8 runs batched", 256), trainer_rate([mlp_spec(s, 256, 1) for s in range(8)], eight, val, 1))
        keep(("mlp 8 runs one by one", 256),
             8 / sum(1 / trainer_rate([mlp_spec(s, 256, 1)], clean, val, 1) for s in range(8)))
        for name, spec, _ in cnn:
            keep((name, 128), trainer_rate([spec], cdata, cval, 1))
    load1 = os.getloadavg()[0]

    peak = best.pop(("peak GFLOP/s", 0))
    peak16 = best.pop(("bf16 peak GFLOP/s", 0), float("nan"))
    flops = {"mlp": mlp_flops, **{name: fl for name, _, fl in cnn}}
    rows = []
    for (what, batch), rate in best.items():
        per_sample = flops[what] if what.startswith("cnn") else flops["mlp"]
        own_peak = peak16 if what.endswith("bf16") else peak   # each precision against its own matmul peak
        rows.append({"what": what, "batch": batch, "k": 8 if "batched" in what else 1, "samples_s": rate,
                     "gflop_s": rate * per_sample / 1e9, "pct_peak": 100 * rate * per_sample / 1e9 / own_peak,
                     "mflop_per_sample": per_sample / 1e6})
    df = pd.DataFrame(rows)
    df["peak_gflop_s"] = [peak16 if w.endswith("bf16") else peak for w in df["what"]]
    df["threads"], df["clock"], df["cpu"] = args.threads, args.clock, cpu_name()
    df["load_before"], df["load_after"], df["date"] = load0, load1, time.strftime("%Y-%m-%d %H:%M")
    rate = {(r_.what, r_.batch): r_.samples_s for r_ in df.itertuples()}
    pct = {(r_.what, r_.batch): r_.pct_peak for r_ in df.itertuples()}
    print(f"\nmatmul peak fp32 {peak:.1f} GFLOP/s, bf16 {peak16:.1f} GFLOP/s; best of {reps} round(s); "
          f"load average {load0:.1f} -> {load1:.1f}"
          + ("\n  busy machine: other processes share the cores, so wall-clock numbers are low and noisy;"
             " compare with --threads 1 --clock cpu" if max(load0, load1) > args.threads and args.clock == "wall" else ""))
    print(df[["what", "batch", "k", "samples_s", "gflop_s", "pct_peak", "mflop_per_sample"]]
          .round(1).to_string(index=False))
    print("\nratios (target: trainer >= 85 % of peak and >= 1.5x the plain loop at batch >= 256):")
    for batch in (256, 512):
        t, p = rate[("mlp trainer", batch)], rate[("mlp plain DataLoader loop", batch)]
        print(f"  batch {batch}: trainer {pct[('mlp trainer', batch)]:.0f} % of peak, {t / p:.2f}x the plain loop")
    print(f"  8 runs as one batched model: {rate[('mlp 8 runs batched', 256)] / rate[('mlp 8 runs one by one', 256)]:.2f}x"
          " the throughput of the same runs one by one")
    if bf16:  # the engine-speed targets: >= 1.50x and >= 70 % (MLP 784-512-512-10, batch 256)
        print(f"trainer bf16 vs plain fp32 loop: "
              f"{rate[('mlp trainer bf16', 256)] / rate[('mlp plain DataLoader loop', 256)]:.2f}x")
        print(f"trainer bf16 share of bf16 matmul peak: {pct[('mlp trainer bf16', 256)]:.0f}%")
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"bench_trainer-{args.threads}t-{args.clock}.csv"
    df.to_csv(path, index=False, float_format="%.4g")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
