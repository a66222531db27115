"""The planner: what a profile's stages cost in training FLOPs, and roughly how long they take.

    python -m training.plan --profile gpu --peak-tflops 790     # one H200
    python -m training.plan --profile cpu                       # this machine (its matmul peak, measured now)

Per stage it resolves the profile's settings exactly as the stage does (params.yaml, the profile's
overrides, the same validation), asks the stage module for its `workload(cfg)` (the groups of runs its
`run` trains) and counts, with torch's FlopCounterMode on the stage's own model, one example's
forward pass. From that:

  training  3 forwards per example per epoch (forward + backward), in the stage's training precision;
  eval      1 forward over the training and validation sets after every epoch (and before the first);
  LASS      3 forwards per point per iteration, in fp32: the CSR searches (up to their step cap; the
            early stop usually ends them sooner) and, for adversarial runs, adv_steps iterations per
            batch plus the adversarial pass;
  minutes   bf16 FLOPs / (peak x efficiency) + fp32 FLOPs / (fp32 peak x efficiency)
            + optimiser steps x a fixed cost per step (kernel launches, casts, the optimiser update:
            what dominates the tiny models, where FLOPs say little).

The assumptions are flags and are printed with the table. A stage marked `≤` is an upper bound: E4
stops each group once its runs fit, and LASS searches stop early, so measured times come in lower.
The lines `measured` show a stage's recorded seconds when the artifacts folder holds a run of the
same profile, so an estimate can be checked against the machine that made them.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import math
import re
import sys
import time
from pathlib import Path

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from .config import ROOT, ConfigError, RunSpec, load_params, stage_section
from .models import build
from .stages import common
from .stages.common import Work, batches

DVC_YAML = ROOT / "dvc.yaml"
H200_FP32_SHARE = 67 / 790  # an H200's plain-fp32 (no TF32) peak / its dense bf16 peak, from the data sheet


@dataclasses.dataclass(frozen=True)
class Device:
    name: str
    bf16_tflops: float          # dense bf16 matmul peak
    fp32_tflops: float          # fp32 matmul peak (no TF32)
    efficiency: float = 0.5     # share of the peak the training steps reach
    step_ms: float = 1.5        # fixed cost of one optimiser step / LASS iteration of a batched model

    def minutes(self, flops_bf16: float, flops_fp32: float, steps: float) -> float:
        seconds = (flops_bf16 / (self.bf16_tflops * 1e12 * self.efficiency)
                   + flops_fp32 / (self.fp32_tflops * 1e12 * self.efficiency) + steps * self.step_ms / 1e3)
        return seconds / 60


@dataclasses.dataclass(frozen=True)
class Stage:
    name: str        # as DVC names it: e5@mnist, e2, claims
    section: str     # params section: e5.mnist
    module: str      # training.stages.e5_partial_noise
    item: str | None
    cmd: str         # the command dvc.yaml runs (paths as written there)


def pipeline(dvc_yaml: Path = DVC_YAML) -> list[Stage]:
    """Every stage of dvc.yaml, foreach items expanded, in file order."""
    spec = yaml.safe_load(dvc_yaml.read_text())["stages"]
    out = []
    for name, body in spec.items():
        items = body.get("foreach") or [None]
        do = body.get("do", body)
        for item in items:
            cmd = " ".join(do["cmd"].split()).replace("${item}", str(item))
            module = re.search(r"python -m (\S+)", cmd).group(1)
            out.append(Stage(f"{name}@{item}" if item else name, f"{name}.{item}" if item else name, module, item, cmd))
    return out


def stage_config(stage: Stage, params: dict):
    """The stage's validated Config for the params' active profile (None for a stage without one)."""
    mod = importlib.import_module(stage.module)
    if not hasattr(mod, "workload"):
        return mod, None
    return mod, common.stage_config(params, stage.section.split(".")[0], stage.item, mod.Config)[1]


_FWD: dict = {}


def forward_flops(model, in_shape, n_classes: int) -> float:
    """FLOPs of one example's forward pass through the stage's own network (eval mode)."""
    key = (model, tuple(in_shape), n_classes)
    if key not in _FWD:
        net = build([model], in_shape, n_classes, torch.zeros(in_shape[0]), torch.ones(in_shape[0]), [0]).eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            net(torch.zeros(1, 2, *in_shape))
        _FWD[key] = counter.get_total_flops() / 2
    return _FWD[key]


def count(work: Work, bf16: bool) -> dict:
    """FLOPs by precision and the number of optimiser steps / LASS iterations of one Work."""
    if not work.specs:  # a stage with its own loop counted itself (fp32)
        return {"bf16": 0.0, "fp32": work.flops, "steps": work.steps}
    out = {"bf16": 0.0, "fp32": 0.0, "steps": 0}
    for chunk in batches(work.specs):
        spec: RunSpec = work.specs[chunk[0]]
        k, tc = len(chunk), spec.train
        fwd = forward_flops(spec.model, work.in_shape, work.n_classes)
        per_epoch = math.ceil(work.n_train / tc.batch_size)
        train = k * work.epochs * work.n_train * 3 * fwd
        evals = k * (work.epochs + 1) * (work.n_train + work.n_val) * fwd
        out["bf16" if bf16 and tc.precision == "bf16" else "fp32"] += train + evals
        out["steps"] += work.epochs * per_epoch
        if any(work.specs[i].train.adv_weight > 0 for i in chunk):  # every run of the batch is searched
            out["fp32"] += k * work.epochs * work.n_train * ((tc.adv_steps + 1) * 3 + 3) * fwd
            out["steps"] += work.epochs * per_epoch * (tc.adv_steps + 2)
        if work.lass_points and work.lass_every:
            measured = len(set(range(0, work.epochs + 1, work.lass_every)) | {work.epochs})
            out["fp32"] += k * measured * work.lass_points * (work.lass_steps + 1) * 3 * fwd
            out["steps"] += measured * math.ceil(work.lass_points / work.lass_batch) * (work.lass_steps + 1)
    return out


def plan(params: dict, device: Device, bf16: bool = True) -> list[dict]:
    """One row per stage: runs, TFLOP (bf16, fp32), steps, estimated minutes, upper bound or not."""
    rows = []
    for stage in pipeline():
        mod, cfg = stage_config(stage, params)
        if cfg is None:
            rows.append({"stage": stage.name, "runs": 0, "tflop": 0.0, "minutes": 0.0, "bound": False, "what": "tables only"})
            continue
        works = mod.workload(cfg)
        tot = {"bf16": 0.0, "fp32": 0.0, "steps": 0}
        for w in works:
            for key, v in count(w, bf16).items():
                tot[key] += v
        bound = any(w.capped for w in works) or any(w.lass_points or
                                                    any(s.train.adv_weight > 0 for s in w.specs) for w in works)
        rows.append({"stage": stage.name, "runs": sum(len(w.specs) for w in works),
                     "tflop": (tot["bf16"] + tot["fp32"]) / 1e12, "tflop_fp32": tot["fp32"] / 1e12,
                     "steps": tot["steps"], "minutes": device.minutes(tot["bf16"], tot["fp32"], tot["steps"]),
                     "bound": bound, "what": "; ".join(w.what for w in works[:3]) + (" …" if len(works) > 3 else "")})
    return rows


def measured_peaks(seconds: float = 0.5) -> tuple[float, float]:
    """This machine's best bf16 and fp32 matmul rates (TFLOP/s), square matrices of 512-2048."""
    best = {}
    for dtype in (torch.bfloat16, torch.float32):
        rate = 0.0
        for n in (512, 1024, 2048):
            a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
            a @ b
            reps, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds / 3:
                a @ b
                reps += 1
            rate = max(rate, 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e12)
        best[dtype] = rate
    return best[torch.bfloat16], best[torch.float32]


def measured_seconds(stage: Stage, profile: str, artifacts: Path) -> float | None:
    """The stage's recorded seconds, if `artifacts` holds its run of this profile."""
    out = re.search(r"--(?:out|write) (\S+)", stage.cmd).group(1).split("/", 1)[1]
    path = artifacts / out / "manifest.json"
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text())
    return manifest.get("seconds") if manifest.get("profile") == profile else None


def write(params: dict, out: Path) -> None:
    """The plan stage: every profile of params `plan.profiles` on every device of `plan.devices`, as one
    table (artifacts/plan/plan.csv) the app reads; deterministic (no timing), so it reproduces exactly."""
    import pandas as pd

    from .stages.common import git_revision, write_csv, write_json

    t0 = time.monotonic()
    spec = params.get("plan") or {}
    devices = [Device(name, float(d["bf16_tflops"]), float(d["fp32_tflops"]), float(spec.get("efficiency", 0.5)),
                      float(d["step_ms"])) for name, d in (spec.get("devices") or {}).items()]
    rows = []
    for profile in spec.get("profiles") or ["cpu"]:
        for device in devices:
            for row in plan({**params, "profile": profile}, device):
                rows.append({"profile": profile, "device": device.name, "stage": row["stage"], "runs": row["runs"],
                             "tflop": round(row["tflop"], 4), "tflop_fp32": round(row.get("tflop_fp32", 0.0), 4),
                             "steps": row.get("steps", 0), "minutes": round(row["minutes"], 3),
                             "upper_bound": row["bound"]})
    table = pd.DataFrame(rows)
    write_csv(table, out / "plan.csv")
    total = table.groupby(["profile", "device"])["minutes"].sum().round(1)
    write_json({f"{p}-{d}-min": float(v) for (p, d), v in total.items()}, out / "metrics.json")
    write_json({"stage": "plan", "profile": params.get("profile", "cpu"), "device": "cpu", "datasets": {},
                "config": spec, "seconds": round(time.monotonic() - t0, 2), "torch": torch.__version__,
                "git_revision": git_revision(), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "tables": {"plan": list(table.columns)}}, out / "manifest.json")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="FLOPs and estimated minutes of a profile's stages")
    ap.add_argument("--profile", default="cpu", help="cpu | smoke | paper | gpu (params.yaml `profiles:`)")
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--peak-tflops", type=float, default=None,
                    help="the device's dense bf16 matmul peak (default: this machine's, measured now)")
    ap.add_argument("--fp32-share", type=float, default=None,
                    help="fp32 peak / bf16 peak (default: measured here; with --peak-tflops, an H200's "
                         f"plain fp32 share {H200_FP32_SHARE:.3f})")
    ap.add_argument("--efficiency", type=float, default=0.5, help="share of the peak the steps reach (default 0.5)")
    ap.add_argument("--step-ms", type=float, default=None,
                    help="fixed ms per optimiser step / LASS iteration (default: 1.5 here, 0.3 with --peak-tflops)")
    ap.add_argument("--artifacts", default=str(ROOT / "artifacts"), help="where to look for measured stage times")
    ap.add_argument("--write", default=None, help="the plan stage: write every profile x device of params `plan` "
                                                  "to this folder (plan.csv) instead of printing one")
    args = ap.parse_args(argv)
    if args.write:
        try:
            write(load_params(args.params), Path(args.write))
        except ConfigError as err:
            sys.exit(f"params.yaml: {err}")
        return
    try:
        params = load_params(args.params)
        params["profile"] = args.profile
        stage_section(params, "e5")  # an unknown profile stops here, naming the allowed ones
    except ConfigError as err:
        sys.exit(f"params.yaml: {err}")
    if args.peak_tflops is None:
        bf16, fp32 = measured_peaks()
        where = f"this machine ({torch.get_num_threads()} threads, measured now)"
        fp32 = bf16 * args.fp32_share if args.fp32_share else fp32
        step_ms = 1.5 if args.step_ms is None else args.step_ms
    else:
        bf16, where = args.peak_tflops, f"a device of {args.peak_tflops:g} bf16 TFLOP/s"
        fp32 = bf16 * (args.fp32_share or H200_FP32_SHARE)
        step_ms = 0.3 if args.step_ms is None else args.step_ms
    device = Device(where, bf16, fp32, args.efficiency, step_ms)
    try:
        rows = plan(params, device)
    except ConfigError as err:
        sys.exit(f"params.yaml: {err}")
    print(f"profile {args.profile} on {where}")
    print(f"assumed: bf16 peak {bf16 * 1e3:.1f} GFLOP/s, fp32 peak {fp32 * 1e3:.1f} GFLOP/s, "
          f"efficiency {args.efficiency:.0%}, {step_ms:g} ms per step; ≤ = upper bound (early stops)")
    print(f"{'stage':26} {'runs':>5} {'TFLOP':>10} {'of it fp32':>10} {'est. min':>9}  {'measured':>9}")
    for row, stage in zip(rows, pipeline()):
        seen = measured_seconds(stage, args.profile, Path(args.artifacts))
        print(f"{row['stage']:26} {row['runs']:5d} {row['tflop']:10.2f} {row.get('tflop_fp32', 0):10.2f} "
              f"{'≤' if row['bound'] else ' '}{row['minutes']:8.1f}  "
              + (f"{seen / 60:8.1f}m" if seen is not None else f"{'':9}") + f"  {row['what']}")
    print(f"total: {sum(r['minutes'] for r in rows):.1f} min")


if __name__ == "__main__":
    main()
