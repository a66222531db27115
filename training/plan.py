"""The planner: what a profile's stages cost, and how long they take on a device.

    python -m training.plan --profile cpu                       # this 2-core CPU (params.yaml plan.devices.laptop)
    python -m training.plan --profile gpu --device h200         # one H200 (its data sheet)
    python -m training.plan --profile gpu --peak-tflops 790     # the h200 entry at that bf16 peak
    python -m training.plan --profile cpu --measured artifacts  # beside the seconds a result set recorded

Per stage it resolves the profile's settings exactly as the stage does, asks the stage module for its
`workload(cfg)` (the groups of runs its `run` trains) and prices every batched group with cost.py, which
counts one optimiser step, one evaluation pass, one LASS iteration and the model's build on the
engine's own code (FLOPs by dtype, bytes moved, operators dispatched, random numbers drawn). A group costs

  build + epochs x steps/epoch x step                       (a step: forward, backward, optimiser; for
                                                              adversarial runs adv_steps LASS iterations
                                                              and the adversarial pass, every batch)
  + (epochs + 1) x evaluation of the train and val sets     (engine.evaluate after every epoch and before)
  + CSR: every measurement's LASS search over csr_points    (in-training searches up to csr_steps
                                                              iterations, an upper bound: they stop early;
                                                              the final one always csr_steps)

E2 runs its own loop (training/sensitivity.py) on the CPU whatever the device, one single-threaded
panel per worker process: its steps are counted on that loop and priced on the device's host core.
Every stage pays a process start (Python, torch, the stage's imports; on a GPU also the CUDA context),
which a manifest's `seconds` leave out. Stages marked `≤` are upper bounds (E4 stops once its runs fit,
LASS searches stop early); with --measured the bound is replaced by what the result set recorded where
it says (E4's epochs per batch from curves.csv, E5's LASS iterations from its manifest, or for an older
set the bound its CSR table allows).
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import re
import sys
import time
from pathlib import Path

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from . import cost
from .config import ROOT, ConfigError, load_params, stage_section
from .plan_asrun import _manifest, as_run_config
from .plan_asrun import as_run as _as_run
from .models import build
from .stages import common
from .stages.common import Work, batches

DVC_YAML = ROOT / "dvc.yaml"


@dataclasses.dataclass(frozen=True)
class Device:
    """A device's numbers (params.yaml `plan: devices:` gives their sources)."""
    name: str
    bf16_tflops: float           # dense bf16 matmul peak
    fp32_tflops: float           # fp32 matmul peak (no TF32)
    efficiency: float = 0.5      # share of the peak matrix products reach in training
    step_ms: float = 0.0         # extra fixed cost per optimiser step (host syncs) beyond its operators
    conv_efficiency: float = 0.5  # share of the fp32 peak fp32 convolutions reach
    conv_bf16_efficiency: float = 0.5  # share of the bf16 peak bf16 convolutions reach
    mem_gbps: float = 10.0       # memory bandwidth reached, GB/s
    caches: tuple = ()           # ((MB, GB/s), ...): a piece whose working set fits streams at that rate
    op_us: float = 10.0          # host time per operator dispatched (Python, dispatch, launch), µs
    rng_ns: float = 1.0          # time per random number drawn (per-run generators), ns
    start_s: float = 2.5         # process start: Python, torch and the stage's imports (+ CUDA context), s
    cores: int = 2               # host cores (E2's panels run one per core)
    host: "Device | None" = None  # where CPU-only loops run (E2); None = this device itself
    bf16: bool = True            # native bf16: bf16 training runs in bf16 (else fp32)

    def seconds(self, t: cost.Tally, steps: float = 0.0, threads: int | None = None) -> float:
        """A tally's time: FLOPs at the reached rate + bytes at the bandwidth + operators + random numbers
        (+ step_ms per optimiser step). threads: on fewer cores than the device has (E2's one-thread panels)."""
        share = 1.0 if threads is None else min(1.0, threads / self.cores)
        peak = {"bf16": self.bf16_tflops, "fp32": self.fp32_tflops}
        s = sum(v / (peak.get(d, self.fp32_tflops) * 1e12 * self.efficiency * share) for d, v in t.mm.items())
        conv = {"bf16": self.bf16_tflops * self.conv_bf16_efficiency}
        s += sum(v / (conv.get(d, self.fp32_tflops * self.conv_efficiency) * 1e12 * share) for d, v in t.conv.items())
        rate = lambda mb: next((gbps for size, gbps in self.caches if mb <= size), self.mem_gbps)  # noqa: E731
        s += sum(b / (rate(mb) * 1e9 * share) for mb, b in t.ws.items())
        s += (t.bytes - sum(t.ws.values())) / (self.mem_gbps * 1e9 * share)
        return s + t.ops * self.op_us / 1e6 + t.rng * self.rng_ns / 1e9 + steps * self.step_ms / 1e3

    def minutes(self, flops_bf16: float, flops_fp32: float, steps: float) -> float:
        """FLOPs and steps alone (the old planner's view), for a rough look without a trace."""
        return self.seconds(cost.Tally({"bf16": flops_bf16, "fp32": flops_fp32}), steps) / 60


def devices(params: dict) -> dict[str, Device]:
    """Every device of params `plan: devices:`, each with its host (`host:` names another entry)."""
    spec = (params.get("plan") or {}).get("devices") or {}
    fields = {f.name for f in dataclasses.fields(Device)} - {"name", "host"}
    plain = {n: Device(n, **{k: tuple(map(tuple, v)) if k == "caches" else v for k, v in d.items() if k in fields})
             for n, d in spec.items()}
    return {n: dataclasses.replace(dev, host=plain.get(spec[n].get("host"))) for n, dev in plain.items()}


def checked(params: dict) -> tuple[Device, str]:
    """The machine of the quiet run the planner is checked against (params plan.checked), and its git revision."""
    spec = (params.get("plan") or {})["checked"]
    return devices({"plan": {"devices": {"checked": spec["device"]}}})["checked"], str(spec["revision"])


def device(name: str, params: dict, peak_tflops: float | None = None) -> Device:
    """The device `name` of params `plan: devices:`; with peak_tflops, the same device at that bf16 peak
    (its fp32 peak scaled alike)."""
    found = devices(params)
    if name not in found:
        raise ConfigError(f"plan.devices has no {name!r}; allowed: {', '.join(map(repr, found))}")
    dev = found[name]
    if peak_tflops:
        dev = dataclasses.replace(dev, name=f"{name} at {peak_tflops:g} TFLOP/s", bf16_tflops=peak_tflops,
                                  fp32_tflops=dev.fp32_tflops * peak_tflops / dev.bf16_tflops)
    return dev


@dataclasses.dataclass(frozen=True)
class Stage:
    name: str        # as DVC names it: e5@mnist, e2, claims
    section: str     # params section: e5.mnist
    module: str      # training.stages.e5_partial_noise
    item: str | None
    cmd: str         # the command dvc.yaml runs (paths as written there)

    @property
    def out(self) -> str:
        """The stage's folder under a result set (artifacts/e5/mnist -> e5/mnist)."""
        return re.search(r"--(?:out|write) (\S+)", self.cmd).group(1).split("/", 1)[1]


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


def tally(work: Work, bf16: bool = True, epochs: dict | None = None,
          lass_iters: tuple[dict, dict] | None = None) -> tuple[cost.Tally, int]:
    """What one Work does (cost.Tally) and its optimiser steps. epochs: {chunk index: epochs trained}
    where known (a capped Work as run); lass_iters: ({chunk: LASS iterations of its in-training searches,
    all together}, {chunk: iterations of its final search}) where known, else every search counts
    csr_steps (the in-training ones an upper bound, the final one as it runs)."""
    total, steps = cost.Tally(), 0
    for c, chunk in enumerate(batches(work.specs)):
        spec, k = work.specs[chunk[0]], len(chunk)
        tc = spec.train
        precision = "bf16" if bf16 and tc.precision == "bf16" else "fp32"
        p = cost.pieces(spec, work.specs[chunk[-1]], work.in_shape, work.n_classes, precision)
        ep = (epochs or {}).get(c, work.epochs)
        n_steps = ep * (work.n_train // tc.batch_size + (work.n_train % tc.batch_size >= 2))
        passes = sum(cost.ceil_div(n, cost.predict_chunk(spec.model.arch, k)) for n in (work.n_train, work.n_val))
        per_example = p.predict.at(k, 1) - p.predict.at(k, 0)
        evaluation = p.predict.at(k, 0) * passes + per_example * (work.n_train + work.n_val)
        chunk_n = cost.predict_chunk(spec.model.arch, k)
        step = p.step.at(k, tc.batch_size).within(p.working_set(k, tc.batch_size))
        total = (total + p.build.at(k, 0) + step * n_steps
                 + evaluation.within(p.working_set(k, min(chunk_n, work.n_train), False)) * (ep + 1))
        steps += n_steps
        if work.lass_points and work.lass_every:
            searched = sorted(set(range(0, ep + 1, work.lass_every)) | {ep})
            size = min(work.lass_batch, work.lass_points)
            chunks = cost.ceil_div(work.lass_points, size)
            ws = p.working_set(k, size, False) * 3        # the point, its iterate and its gradient, per chunk
            one = (p.lass.at(k, size) * chunks).within(ws)   # one iteration over every point
            start = (p.lass_start.at(k, size) * chunks).within(ws)
            during, final = lass_iters or ({}, {})
            iters = during.get(c, (len(searched) - 1) * work.lass_steps) + final.get(c, work.lass_steps)
            total = total + start * len(searched) + one * iters
    return total, steps


def count(work: Work, bf16: bool) -> dict:
    """FLOPs by precision and the optimiser steps of one Work (see `tally`); `tally` the whole count."""
    if not work.specs:  # a stage with its own loop counted itself (fp32)
        return {"bf16": 0.0, "fp32": work.flops, "steps": work.steps, "tally": cost.Tally({"fp32": work.flops})}
    t, steps = tally(work, bf16)
    return {"bf16": t.flops("bf16"), "fp32": t.flops() - t.flops("bf16"), "steps": steps, "tally": t}


def e2_panels(cfg) -> list[tuple[cost.Tally, str]]:
    """E2's own loop, one Tally per panel: its steps counted on training.sensitivity's loop at two tiny
    step counts (and with the class matrix at every step), scaled to the stage's steps, matrix steps
    and checkpoints. The batched runs of a panel train in one single-threaded worker."""
    from .sensitivity import loss_sensitivity
    from .stages import e2_loss_sensitivity as e2

    out = []
    for panel, work in zip(cfg.panels, e2.workload(cfg)):
        k, n = len(e2.conditions(cfg, panel)) * len(cfg.seeds), cfg.n_examples
        own = panel == "own_class"
        matrix_steps = (work.steps - cfg.steps) // 9     # the stage's own count (a matrix step: 9 more backwards)

        def run(steps, marks=(), matrix=False):
            job = dict(x=torch.rand(k, n, 1, cfg.size, cfg.size), y=torch.arange(n) if own else torch.arange(n) % 10,
                       n_classes=n if own else 10, width=cfg.width, depth=cfg.depth, lr=cfg.own_lr if own else cfg.lr,
                       batch_size=cfg.batch_size, window=cfg.window, seed=list(range(k)),
                       class_labels=torch.arange(n) % 10)
            return cost.count(loss_sensitivity, **job, steps=steps, checkpoints=list(marks),
                              matrix_every=1 if matrix else 0, matrix_from=0)
        s1, s2 = cfg.window + 2, cfg.window + 4
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            a, b = run(s1), run(s2)
            per_step = (b - a) * (1 / (s2 - s1))
            per_mark = run(s2, [s2]) - b
            per_matrix = ((run(s2, matrix=True) - run(s1, matrix=True)) - (b - a)) * (1 / (s2 - s1)) \
                if matrix_steps else cost.Tally()
        total = a + per_step * (cfg.steps - s1) + per_mark * len(e2.checkpoint_steps(cfg)) + per_matrix * matrix_steps
        params = cfg.size ** 2 * cfg.width + cfg.width ** 2 * (cfg.depth - 1) + cfg.width * (n if own else 10)
        units = cfg.size ** 2 + cfg.width * cfg.depth + (n if own else 10)  # activations of one example
        ws = k * 4 * (params * (cfg.window + 2) + cfg.batch_size * units * (cfg.window + 1)) / 1e6
        out.append((total.within(ws), f"{panel}: {k} runs x {cfg.steps} steps (own loop, one core)"))
    return out


def plan(params: dict, device: Device, bf16: bool = True, measured: Path | None = None) -> list[dict]:
    """One row per stage (see `stage_row`), at the params' active profile."""
    rows = []
    for stage in pipeline():
        mod, cfg = stage_config(stage, params)
        rows.append(stage_row(stage, mod, cfg, device, bf16, measured))
    return rows


def stage_row(stage: Stage, mod, cfg, device: Device, bf16: bool = True, measured: Path | None = None) -> dict:
    """runs, TFLOP (of it fp32), GB moved, millions of operators, optimiser steps, estimated seconds of the
    stage's own work (what its manifest's `seconds` measure), minutes with its process start, and whether
    it is an upper bound. measured: a result set whose curves replace a capped stage's bound."""
    row = {"stage": stage.name, "runs": 0, "steps": 0, "seconds": 0.0, "bound": False, "what": "tables only"}
    t = cost.Tally()
    bf16 = bf16 and device.bf16
    if cfg is not None and stage.module.endswith("e2_loss_sensitivity"):
        host = device.host or device
        panels = e2_panels(cfg)
        workers = max(1, min(len(panels), host.cores))
        times = [host.seconds(p, threads=1) for p, _ in panels]
        t = sum((p for p, _ in panels), cost.Tally())
        row.update(runs=sum(len(mod.conditions(cfg, p)) for p in cfg.panels) * len(cfg.seeds),
                   seconds=max(max(times), sum(times) / workers) + (host.start_s if workers > 1 else 0.0),
                   what="; ".join(w for _, w in panels))
    elif cfg is not None:
        works = mod.workload(cfg)
        as_run = _as_run(stage, works, measured) if measured else {}
        steps = 0
        for i, w in enumerate(works):
            seen = as_run.get(i, {})
            wt, ws = tally(w, bf16, epochs=seen.get("epochs"), lass_iters=seen.get("lass"))
            t, steps = t + wt, steps + ws
        capped = any(w.capped and "epochs" not in as_run.get(i, {}) for i, w in enumerate(works))
        row.update(runs=sum(len(w.specs) for w in works), steps=steps, seconds=device.seconds(t, steps),
                   bound=capped or any(w.lass_points and "lass" not in as_run.get(i, {}) for i, w in enumerate(works))
                   or any(s.train.adv_weight > 0 for w in works for s in w.specs),  # the adversarial pass every batch
                   what="; ".join(w.what for w in works[:3]) + (" …" if len(works) > 3 else ""))
    row.update(tflop=t.flops() / 1e12, tflop_fp32=(t.flops() - t.flops("bf16")) / 1e12, gbytes=t.bytes / 1e9,
               mops=t.ops / 1e6, minutes=(row["seconds"] + device.start_s) / 60)
    return row


def measured(folder: Path, profile: str) -> dict[str, dict]:
    """Per stage of a result set of this profile: `seconds` (its manifest: the stage's own work) and
    `wall` (results/<name>/resultset.json: the whole process, start included), where recorded."""
    info = json.loads((folder / "resultset.json").read_text()) if (folder / "resultset.json").is_file() else {}
    out = {}
    for stage in pipeline():
        manifest = _manifest(stage, folder) or {}
        if manifest.get("profile", info.get("profile")) != profile:
            continue
        seen = {"seconds": manifest.get("seconds"), "wall": (info.get("seconds") or {}).get(stage.name)}
        if any(v is not None for v in seen.values()):
            out[stage.name] = seen
    return out


def write(params: dict, out: Path) -> None:
    """The plan stage: every profile of params `plan.profiles` on every device of `plan.devices`, as one
    table (artifacts/plan/plan.csv) the app reads; deterministic (counts, no timing), so it reproduces."""
    import pandas as pd

    from .stages.common import git_revision, write_csv, write_json

    t0 = time.monotonic()
    spec = params.get("plan") or {}
    rows = []
    for profile in spec.get("profiles") or ["cpu"]:
        for dev in devices(params).values():
            for row in plan({**params, "profile": profile}, dev):
                rows.append({"profile": profile, "device": dev.name, "stage": row["stage"], "runs": row["runs"],
                             "tflop": round(row["tflop"], 4), "tflop_fp32": round(row["tflop_fp32"], 4),
                             "gbytes": round(row["gbytes"], 3), "steps": row["steps"],
                             "seconds": round(row["seconds"], 2), "minutes": round(row["minutes"], 3),
                             "upper_bound": row["bound"]})
    table = pd.DataFrame(rows)
    write_csv(table, out / "plan.csv")
    total = table.groupby(["profile", "device"])["minutes"].sum().round(1)
    write_json({f"{p}-{d}-min": float(v) for (p, d), v in total.items()}, out / "metrics.json")
    write_json({"stage": "plan", "profile": params.get("profile", "cpu"), "device": "cpu", "datasets": {},
                "config": spec, "seconds": round(time.monotonic() - t0, 2), "torch": torch.__version__,
                "git_revision": git_revision(), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "tables": {"plan": list(table.columns)}}, out / "manifest.json")


def compare(params: dict, dev: Device, folder: Path, profile: str) -> list[dict]:
    """The plan of `profile` beside what the result set `folder` measured, stage by stage: the estimate at
    the settings the set ran with (its manifests' configs, where they parse; E4 at the epochs it trained),
    and the relative error of the stage's own seconds (or of the wall seconds, where only those exist)."""
    seen = measured(folder, profile)
    rows = plan({**params, "profile": profile}, dev, measured=folder)
    stages = {s.name: s for s in pipeline()}
    for row in rows:
        stage = stages[row["stage"]]
        _, now = stage_config(stage, {**params, "profile": profile})
        cfg = as_run_config(stage, folder, now) if row["stage"] in seen else None
        if cfg is not None and now is not None and cfg != now:  # the set ran other settings: price those
            row.update({k: v for k, v in stage_row(stage, importlib.import_module(stage.module), cfg, dev,
                                                    measured=folder).items() if k != "stage"}, as_run=True)
        m = seen.get(row["stage"], {})
        row["measured"], row["measured_wall"] = m.get("seconds"), m.get("wall")
        if row["measured"]:
            row["error"] = row["seconds"] / row["measured"] - 1
        elif row["measured_wall"]:
            row["error"] = row["minutes"] * 60 / row["measured_wall"] - 1
    return rows



def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="what a profile's stages cost and how long they take on a device")
    ap.add_argument("--profile", default="cpu", help="cpu | smoke | paper | gpu (params.yaml `profiles:`)")
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--device", default=None, help="an entry of params plan.devices (default: laptop, this CPU; "
                                                    "with --peak-tflops: h200)")
    ap.add_argument("--peak-tflops", type=float, default=None,
                    help="the device's dense bf16 matmul peak (its fp32 peak scales alike)")
    ap.add_argument("--measured", "--artifacts", dest="measured", default=None,
                    help="a result set to compare with (artifacts/ or results/<name>/; default: artifacts/ "
                         "when it holds this profile)")
    ap.add_argument("--write", default=None, help="the plan stage: write every profile x device of params `plan` "
                                                  "to this folder (plan.csv) instead of printing one")
    args = ap.parse_args(argv)
    try:
        params = load_params(args.params)
        if args.write:
            write(params, Path(args.write))
            return
        params["profile"] = args.profile
        stage_section(params, "e5")  # an unknown profile stops here, naming the allowed ones
        dev = device(args.device or ("h200" if args.peak_tflops else "laptop"), params, args.peak_tflops)
        folder = Path(args.measured) if args.measured else ROOT / "artifacts"
        rows = compare(params, dev, folder, args.profile) if measured(folder, args.profile) else plan(params, dev)
    except ConfigError as err:
        sys.exit(f"params.yaml: {err}")
    beside = f", beside what {folder} measured" if "measured" in rows[0] else ""
    print(f"profile {args.profile} on {dev.name}{beside}")
    host = dev.host or dev
    print(f"assumed: bf16 {dev.bf16_tflops * 1e3:g} / fp32 {dev.fp32_tflops * 1e3:g} GFLOP/s peak, matrix products at "
          f"{dev.efficiency:.0%} and convolutions at {dev.conv_efficiency:.0%} of it, {dev.mem_gbps:g} GB/s, "
          f"{dev.op_us:g} µs per operator, {dev.rng_ns:g} ns per random number, {dev.start_s:g} s per process; "
          f"E2 on {host.name} (one core per panel); ≤ = upper bound (early stops)")
    head = f"{'stage':26} {'runs':>5} {'TFLOP':>8} {'GB':>8} {'Mops':>6} {'est. s':>8} {'est. min':>9}"
    print(head + ("  measured s   error" if "measured" in rows[0] else ""))
    for row in rows:
        line = (f"{row['stage']:26} {row['runs']:5d} {row['tflop']:8.2f} {row['gbytes']:8.1f} {row['mops']:6.2f} "
                f"{row['seconds']:8.1f} {'≤' if row['bound'] else ' '}{row['minutes']:8.2f}")
        if row.get("measured") or row.get("measured_wall"):
            seen = row["measured"] or row["measured_wall"]
            line += (f"  {seen:9.1f}{'' if row['measured'] else 'w'} {row['error']:+6.0%}"
                     + ("*" if row.get("as_run") else ""))
        print(line + f"  {row['what']}")
    print(f"total: {sum(r['minutes'] for r in rows):.1f} min")
    if any(r.get("as_run") for r in rows):
        print("* estimated at the settings the result set ran with (its manifests), which differ from params.yaml")


if __name__ == "__main__":
    main()
