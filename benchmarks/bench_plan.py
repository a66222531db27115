"""The planner's numbers for this machine (params.yaml `plan: devices: laptop`), measured.

    python benchmarks/bench_plan.py                 # every core, wall clock: for an idle machine
    python benchmarks/bench_plan.py --threads 1 --clock cpu   # one core, CPU seconds: a busy machine
    python benchmarks/bench_plan.py --fit 93c342c            # a quiet run's machine, from its stage seconds

Times small pieces of real training work whose counts training/cost.py gives (FLOPs by dtype, bytes,
operators, random numbers), each its best of --reps rounds, and fits the device's numbers to them by
non-negative least squares on relative error:

  seconds = mm FLOPs / (peak x efficiency) + conv FLOPs / (peak x conv efficiency) + bytes / bandwidth
            + operators x op time + random numbers x their time

Pieces: a tiny MLP step (operator-bound), wide MLP steps at a large batch in fp32 and bf16 (FLOP-bound),
many-run Adam steps at a small batch (bytes), CNN steps (convolutions), LASS iterations (its noise), a
copy (bandwidth) and the matmul peaks. Also the process start (Python + torch + a stage's imports).
Prints the fitted numbers, each piece's measured and modelled time, and writes benchmarks/out/plan.csv.

--fit REV instead fits a machine that is gone from a quiet run it left: the artifacts/ committed at git
revision REV (stage seconds, settings, E4's epochs, the CSR table), with that machine's matmul peaks as
given (--peaks BF16,FP32 in TFLOP/s): matrix products at one efficiency of those peaks, convolutions at one
rate, one bandwidth, op time and random-number time, by the same least squares over the stages.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training import cost  # noqa: E402
from training.config import ModelConfig, RunSpec, TrainConfig  # noqa: E402
from training.metrics import lass  # noqa: E402


def clock(kind: str):
    return time.process_time if kind == "cpu" else time.perf_counter


def best(fn, reps: int, tick, min_s: float = 0.05) -> float:
    """Best time of one call over `reps` rounds (each round repeats until min_s has passed)."""
    fn()
    out = float("inf")
    for _ in range(reps):
        n, t0 = 0, tick()
        while True:
            fn()
            n += 1
            if tick() - t0 >= min_s:
                break
        out = min(out, (tick() - t0) / n)
    return out


def peaks(reps: int, tick) -> dict[str, float]:
    out = {}
    for dtype, name in ((torch.bfloat16, "bf16"), (torch.float32, "fp32")):
        rate = 0.0
        for n in (512, 1024, 2048):
            a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
            rate = max(rate, 2 * n ** 3 / best(lambda: a @ b, reps, tick))
        out[name] = rate / 1e12
    return out


def pieces() -> list[tuple[str, callable]]:
    """(name, make) where make() returns (fn, its Tally): a piece of real training work, set up once."""
    def train_step(width, k, b, precision, optimizer="adam", arch="mlp", filters=16, dropout=0.0, side=28):
        model = (ModelConfig(width=width, depth=2, dropout=dropout) if arch == "mlp"
                 else ModelConfig(arch="cnn", filters=filters, dense=(128, 64), crop=2, dropout=dropout))
        spec = RunSpec(model=model, train=TrainConfig(optimizer=optimizer, momentum=0.9 if optimizer == "sgd" else 0,
                                                      batch_size=b, precision=precision))
        shape = (1, side, side) if arch == "mlp" else (3, 32, 32)

        def make():
            specs = [spec] * k
            m = cost._model(specs, shape, 10)
            m.gens = [torch.Generator().manual_seed(i) for i in range(k)]
            opt = (torch.optim.Adam(m.parameters(), 1e-3, fused=True) if optimizer == "adam"
                   else torch.optim.SGD(m.parameters(), 1e-2, momentum=0.9, fused=True))
            x, y = torch.rand(2 * b, *shape), torch.randint(0, 10, (k, 2 * b))
            wd, adv = torch.zeros(k), torch.zeros(k)
            gens = [torch.Generator().manual_seed(i) for i in range(k)]
            ac = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")  # noqa: E731
            m.train()
            args = (m, opt, x, y, b, specs, wd, adv, gens, False, ac)
            cost.step(*args)
            return (lambda: cost.step(*args)), cost.count(cost.step, *args)
        return make

    def lass_iters(width, k, n, arch="mlp"):
        def make():
            model = ModelConfig(width=width, depth=2) if arch == "mlp" else ModelConfig(arch="cnn", filters=16,
                                                                                        dense=(128, 64), crop=2)
            shape = (1, 28, 28) if arch == "mlp" else (3, 32, 32)
            m = cost._model([RunSpec(model=model)] * k, shape, 10)
            x = torch.rand(k, n, *shape)
            gens = [torch.Generator().manual_seed(i) for i in range(k)]
            fn = lambda: lass(m, x, gens=gens, steps=4)  # noqa: E731
            return fn, cost.count(fn)
        return make

    def copy(mb):
        def make():
            a, b = torch.empty(mb << 18), torch.empty(mb << 18)
            a.fill_(1.0)
            fn = lambda: b.copy_(a)  # noqa: E731
            return fn, cost.count(fn)
        return make

    return [
        ("tiny mlp step (w16, K1, B2)", train_step(16, 1, 2, "fp32")),
        ("tiny mlp step, dropout, K8", train_step(16, 8, 2, "fp32", dropout=0.3)),
        ("mlp step fp32 (w1024, K2, B512)", train_step(1024, 2, 512, "fp32", "sgd")),
        ("mlp step bf16 (w1024, K2, B512)", train_step(1024, 2, 512, "bf16", "sgd")),
        ("mlp step adam fp32 (w512, K16, B32)", train_step(512, 16, 32, "fp32")),
        ("mlp step sgd bf16 (w256, K25, B64)", train_step(256, 25, 64, "bf16", "sgd")),
        ("mlp step adam bf16 (w512, K16, B128)", train_step(512, 16, 128, "bf16")),
        ("e4 size-like step (w128, K3, B64, 14 px)", train_step(128, 3, 64, "bf16", "sgd", side=14)),
        ("e4 width-like step (w512, K3, B64)", train_step(512, 3, 64, "bf16", "sgd")),
        ("e5-like step adam fp32 (w512, K17, B128)", train_step(512, 17, 128, "fp32")),
        ("cnn step fp32 (f16, K4, B64)", train_step(0, 4, 64, "fp32", "sgd", arch="cnn")),
        ("cnn step bf16 (f16, K4, B64)", train_step(0, 4, 64, "bf16", "sgd", arch="cnn")),
        ("cnn step fp32 (f32, K2, B128)", train_step(0, 2, 128, "fp32", "sgd", arch="cnn", filters=32)),
        ("cnn step bf16 (f32, K2, B128)", train_step(0, 2, 128, "bf16", "sgd", arch="cnn", filters=32)),
        ("lass 4 iterations (w512, K16, 250 points)", lass_iters(512, 16, 250)),
        ("lass 4 iterations (cnn f16, K4, 100 points)", lass_iters(0, 4, 100, arch="cnn")),
        ("copy 256 MB", copy(256)),
    ]


def copy_curve(reps: int, tick) -> list[tuple[float, float]]:
    """GB/s (bytes read + written) of a copy whose working set is a few sizes: where the caches end."""
    out = []
    for mb in (0.25, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512):
        a, b = torch.ones(int(mb * (1 << 18))), torch.empty(int(mb * (1 << 18)))
        out.append((mb, 2 * a.numel() * 4 / best(lambda: b.copy_(a), reps, tick) / 1e9))
    return out


def start_seconds(reps: int) -> float:
    """Wall seconds of a process that imports what a stage imports, best of reps."""
    cmd = [sys.executable, "-c", "import torch, pandas, training.stages.common, training.engine"]
    out = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True)
        out = min(out, time.perf_counter() - t0)
    return out


def nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """min |a x - b| with x >= 0: least squares, dropping the most negative coefficient until none is."""
    free = list(range(a.shape[1]))
    while True:
        x = np.zeros(a.shape[1])
        x[free] = np.linalg.lstsq(a[:, free], b, rcond=None)[0]
        if (x >= 0).all():
            return x
        free.remove(int(np.argmin(x)))


def fit(rows: list[dict], peak: dict) -> dict:
    """Non-negative least squares on relative error: 1/rates (mm at efficiency, conv), 1/bandwidth,
    op time, rng time."""
    cols = []
    for r in rows:
        t = r["tally"]
        mm = sum(v / (peak.get(d, peak["fp32"]) * 1e12) for d, v in t.mm.items())
        conv = t.conv.get("fp32", 0) / (peak["fp32"] * 1e12)
        conv16 = t.conv.get("bf16", 0) / (peak["bf16"] * 1e12)
        cols.append([mm, conv, conv16, t.bytes / 1e9, t.ops / 1e6, t.rng / 1e9])
    a = np.array(cols) / np.array([[r["seconds"]] for r in rows])
    x = nnls(a, np.ones(len(rows)))
    inv = lambda v: 1 / v if v else float("inf")  # noqa: E731
    return {"efficiency": inv(x[0]), "conv_efficiency": inv(x[1]), "conv_bf16_efficiency": inv(x[2]),
            "mem_gbps": inv(x[3]), "op_us": x[4], "rng_ns": x[5], "_x": x, "_a": np.array(cols)}


def quiet_run(rev: str, into: Path) -> Path:
    """The manifests, E4's curves and E5's CSR tables of artifacts/ at git revision rev, in today's folder
    names (items once called mnist10k are mnist now)."""
    names = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "artifacts"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    for name in names:
        if name.endswith("manifest.json") or name.endswith(("e4/width/curves.csv", "e4/size/curves.csv")) \
                or (name.startswith("artifacts/e5/") and name.endswith("csr.csv")):
            out = into / name.replace("mnist10k", "mnist").split("/", 1)[1]
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True,
                                           capture_output=True).stdout)
    return into


def fit_run(rev: str, peaks: tuple[float, float]) -> None:
    """Fit a quiet run's machine from its stage seconds (see the module docstring). Bytes are priced by the
    cache level of their working set with this machine's copy curve (params laptop: caches vs mem_gbps),
    scaled by one fitted bandwidth; E2 is its longest panel on one of the two cores (found again after a fit)."""
    import tempfile

    from training import plan as PL
    from training.config import load_params

    params = load_params(ROOT / "params.yaml")
    here = PL.device("laptop", params)
    folder = quiet_run(rev, Path(tempfile.mkdtemp()))
    seen = PL.measured(folder, "cpu")
    bf16, fp32 = peaks

    def row(t: cost.Tally, one: float) -> list[float]:
        def slow(mb):  # how much faster than memory this machine streams a working set of mb
            return here.mem_gbps / next((g for size, g in here.caches if mb <= size), here.mem_gbps)
        dram = t.bytes - sum(t.ws.values()) + sum(b * slow(mb) for mb, b in t.ws.items())
        return [one * (t.mm.get("fp32", 0) / fp32 + t.mm.get("bf16", 0) / bf16) / 1e12,
                one * (t.flops() - sum(t.mm.values())) / 1e12, one * dram / 1e9, t.ops / 1e6, t.rng / 1e9]

    names, tallies, meas = [], [], []
    for stage in PL.pipeline():
        mod, now = PL.stage_config(stage, params)
        if now is None or stage.name not in seen:
            continue
        cfg = PL.as_run_config(stage, folder, now) or now
        if stage.name == "e2":   # its panels run side by side, one core each
            tallies.append([p for p, _ in PL.e2_panels(cfg)])
        else:
            works, t = mod.workload(cfg), cost.Tally()
            as_run = PL._as_run(stage, works, folder)
            for i, w in enumerate(works):
                t = t + PL.tally(w, True, as_run.get(i, {}).get("epochs"), as_run.get(i, {}).get("lass"))[0]
            tallies.append([t])
        names.append(stage.name)
        meas.append(seen[stage.name]["seconds"])
    m, x = np.array(meas), None
    for _ in range(3):   # E2's longest panel depends on the numbers fitted
        a = np.array([max((row(p, 2 if len(ts) > 1 else 1) for p in ts),
                          key=lambda r: 0 if x is None else np.dot(r, x)) for ts in tallies])
        x = nnls(a / m[:, None], np.ones(len(m)))
    inv = lambda v: 1 / v if v else float("inf")  # noqa: E731
    scale = inv(x[2]) / here.mem_gbps
    print(f"{rev}: efficiency {inv(x[0]):.3f} (of bf16 {bf16}, fp32 {fp32} TFLOP/s), convolutions "
          f"{inv(x[1]) * 1e3:.0f} GFLOP/s (conv_efficiency {inv(x[1]) / fp32:.3f}, conv_bf16_efficiency "
          f"{inv(x[1]) / bf16:.3f}), mem_gbps {inv(x[2]):.1f}, caches "
          f"{[[size, round(float(g * scale), 1)] for size, g in here.caches]}, op_us {x[3]:.1f}, rng_ns {x[4]:.1f}")
    for name, e, got in zip(names, a @ x, m):
        print(f"  {name:24} {got:7.1f} s measured, {e:7.1f} s modelled ({e / got - 1:+.0%})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", default=None, help="a git revision whose artifacts/ are a quiet run: fit its machine")
    ap.add_argument("--peaks", default="0.4149,0.1994",
                    help="with --fit: that machine's bf16,fp32 matmul peaks, TFLOP/s")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = every core)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    if args.fit:
        fit_run(args.fit, tuple(float(v) for v in args.peaks.split(",")))
        return
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    tick = clock(args.clock)
    load0 = os.getloadavg()[0]
    peak = peaks(args.reps, tick)
    rows = []
    for name, make in pieces():
        fn, tally = make()
        rows.append({"piece": name, "seconds": best(fn, args.reps, tick), "tally": tally})
    start = start_seconds(args.reps)
    curve = copy_curve(args.reps, tick)
    got = fit(rows, peak)
    print(f"{threads} threads, {args.clock} clock, load average {load0:.2f} -> {os.getloadavg()[0]:.2f}; "
          f"{os.uname().nodename}")
    print(f"peaks: bf16 {peak['bf16']:.4f} TFLOP/s, fp32 {peak['fp32']:.4f} TFLOP/s")
    print(f"fitted: efficiency {got['efficiency']:.3f}, conv_efficiency {got['conv_efficiency']:.3f}, "
          f"conv_bf16_efficiency {got['conv_bf16_efficiency']:.3f}, mem_gbps {got['mem_gbps']:.1f}, "
          f"op_us {got['op_us']:.2f}, rng_ns {got['rng_ns']:.2f}; start_s {start:.2f}")
    print("copy, GB/s by MB copied (the working set is twice that): "
          + ", ".join(f"{mb:g}: {gbps:.1f}" for mb, gbps in curve))
    model = got["_a"] @ got["_x"]
    out = []
    print(f"{'piece':44} {'measured ms':>12} {'model ms':>9} {'error':>7}")
    for r, m in zip(rows, model):
        print(f"{r['piece']:44} {r['seconds'] * 1e3:12.3f} {m * 1e3:9.3f} {m / r['seconds'] - 1:+7.0%}")
        out.append({"piece": r["piece"], "measured_ms": r["seconds"] * 1e3, "model_ms": m * 1e3})
    (ROOT / "benchmarks" / "out").mkdir(exist_ok=True)
    import pandas as pd

    pd.DataFrame(out).to_csv(ROOT / "benchmarks" / "out" / "plan.csv", index=False)


if __name__ == "__main__":
    main()
