"""Run a whole profile without DVC into a result set beside artifacts/, with its provenance, against a deadline.

    python -m training.run_profile --profile gpu --out results/gpu --deadline-s 510 --archive $OUT/gpu.tar.gz

For a machine that has no DVC (the lent GPU): every stage of dvc.yaml runs its own command with
`artifacts/` replaced by --out and a copy of params.yaml whose `profile` is the one asked for, so the set
has artifacts/' layout and the app reads either. In this order:

  reuse     a stage whose settings under the profile equal the CPU profile's (each stage's Config through
            training.stages.common.stage_config) and whose artifacts/ folder was made with exactly those
            settings (its manifest) by today's code and data (dvc.lock's md5 of each dependency) is copied
            from artifacts/, not rerun: "from artifacts/, same settings" (E2 trains on the CPU anyway; the
            gpu profile's MNIST E6 and augment items are the CPU's). --no-reuse runs everything.
  order     the others by what they add that the CPU set cannot show, VALUE first (CIFAR-10 with the paper's
            CNN); claims and plan last, since they only read or count.
  deadline  with --deadline-s, a stage starts only if the planner's estimate for --plan-device (training.plan,
            times --margin; --estimates keeps it, made before the run) fits the time left, and is killed with
            its whole process tree when the deadline comes (claims keeps --reserve-s for itself); what does
            not start is `skipped`, with why.
  record    before every stage starts and at the end: resultset.json, run.lock and, with --archive, the set
            packed into one .tar.gz of at most 16 MiB (training.resultset: temp file, then rename, so a kill
            at any moment leaves the archive of every stage finished until then).

resultset.json: name, profile, device and its name, git revision, torch and python versions, the deadline
and margin, `complete`, `stages` (per stage in run order: status finished | copied | failed | timed out |
skipped | running (when the run ended) | pending (not reached), why, seconds, the planner's minutes),
`seconds` and `failed` (the stages run), the planner's estimate per stage, `left_out` (files the archive
leaves out, and why) and `under_trained` with its why (training.resultset.under_trained: random labels not
memorized in E6; the app never shows such a set by default).
run.lock: what DVC would have written to dvc.lock for the run (a copied stage: dvc.lock's own entry).
params.yaml: the params the stages read.

`--stages e5@cifar10,claims` runs a subset (the rest of the set, if present, is kept).
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from . import plan as PL
from .config import ROOT, ConfigError, load_params, stage_section, to_dict
from .resultset import HELD, RESULTSET, lock_entry, md5, outputs, pack, rerooted
from .stages import common

# What a set of another profile adds that the CPU set cannot show, most first: the paper's own evidence
# (CIFAR-10 with its 200-filter CNN), then the MNIST stages at the paper's width 4096. Stages not named follow
# in dvc.yaml's order; LAST come last.
VALUE = ("e5@cifar10", "e6@cifar_dropout", "e6@cifar_adversarial", "augment@cifar10", "e1@cifar10", "e5@mnist",
         "e3@randY", "e3@randX", "e6@dropout", "augment@mnist", "e1@mnist", "e4@width", "e4@size")
LAST = ("claims", "plan")  # claims reads the set's stages; plan counts every profile (no settings of its own)
SAME = "from artifacts/, same settings"
ARTIFACTS = ROOT / "artifacts"


def device_name() -> tuple[str, str]:
    import torch
    if torch.cuda.is_available():
        return "cuda", torch.cuda.get_device_name()
    return "cpu", platform.processor() or platform.machine()


def ordered(stages: list[PL.Stage]) -> list[PL.Stage]:
    """VALUE's stages in its order, then the others in dvc.yaml's, then LAST."""
    rank = {name: i for i, name in enumerate(VALUE)}
    first = sorted((s for s in stages if s.name in rank), key=lambda s: rank[s.name])
    return (first + [s for s in stages if s.name not in rank and s.name not in LAST]
            + [s for name in LAST for s in stages if s.name == name])


def _config(stage: PL.Stage, params: dict):
    mod = importlib.import_module(stage.module)
    if not hasattr(mod, "Config") or stage.name in LAST:
        return None
    base, _, item = stage.name.partition("@")
    return common.stage_config(params, base, item or None, mod.Config)[1]


def _plain(obj):
    return json.loads(json.dumps(obj, default=str))


def dvc_lock() -> dict:
    """dvc.lock's entry per stage: what made artifacts/."""
    path = ROOT / "dvc.lock"
    return (yaml.safe_load(path.read_text()) or {}).get("stages", {}) if path.is_file() else {}


def reusable(stage: PL.Stage, params: dict, dvc_spec: dict, artifacts: Path = ARTIFACTS,
             lock: dict | None = None) -> bool:
    """True when the stage's settings under params' profile equal the CPU profile's and `artifacts` holds its
    run with exactly those settings (the manifest's profile and config) made by today's code and data (the
    md5 of every dependency dvc.lock records for it), so rerunning it would repeat that run."""
    if params.get("profile", "cpu") == "cpu":
        return False
    try:
        cfg, cpu = _config(stage, params), _config(stage, {**params, "profile": "cpu"})
    except ConfigError:
        return False
    if cfg is None or cfg != cpu:
        return False
    entry = (dvc_lock() if lock is None else lock).get(stage.name)
    if not entry or any(not (ROOT / d["path"]).is_file() or md5(ROOT / d["path"]) != d.get("md5")
                        for d in entry.get("deps", [])):
        return False
    paths = [rerooted(p, artifacts) for p in outputs(stage, dvc_spec)]
    folder = next((p for p in paths if p.is_dir()), None)
    if folder is None or not all(p.exists() for p in paths):
        return False
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("profile") == "cpu" and _plain(manifest.get("config")) == _plain(to_dict(cfg))


def estimates_key(params: dict, device: str) -> str:
    """What the planner's estimates depend on: the params (profile included), the device, training/'s code."""
    code = b"".join(f.read_bytes() for f in sorted((ROOT / "training").rglob("*.py")))
    return hashlib.md5(json.dumps([params, device], sort_keys=True, default=str).encode() + code).hexdigest()


def estimates(params: dict, device: str, cache: Path | None = None) -> tuple[dict, str]:
    """The planner's estimate per stage on `device` (a name under params `plan.devices`), and a note on where
    it came from or why there is none (the run then starts every stage while time is left). The planner
    takes minutes on a small CPU, so `cache` keeps its answer: read when it was made from these params,
    profile, device and training/ code (their md5), else computed and written. Made before a lent GPU run
    (tools/gpu_run.sh), it costs that run no device time."""
    key = estimates_key(params, device)
    if cache and cache.is_file():
        try:
            saved = json.loads(cache.read_text())
            if saved.get("key") == key:
                return saved["stages"], f"the planner's, made before the run ({cache.name}, {saved.get('made')})"
        except (OSError, ValueError, KeyError):
            pass
    try:
        if hasattr(PL, "device"):
            dev = PL.device(device, params)
        else:  # the planner before its device table (training.plan.device): the same entry, read here
            spec = params.get("plan") or {}
            dev = PL.Device(device, efficiency=float(spec.get("efficiency", 0.5)), **spec["devices"][device])
        rows = {r["stage"]: {"minutes": float(r["minutes"]), "bound": bool(r.get("bound")),
                             "tflop": float(r.get("tflop", 0.0))} for r in PL.plan(params, dev)}
    except Exception as err:  # noqa: BLE001 - metadata must not stop the run
        return {}, f"no planner estimate ({type(err).__name__}: {err})"
    if cache:
        made = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"key": key, "made": made, "profile": params.get("profile"), "device": device,
                                     "stages": rows}, indent=1) + "\n")
    return rows, "the planner's, computed at the start of the run"


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (E2's worker processes), found through /proc."""
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(proc.name))
    family, i = [pid], 0
    while i < len(family):
        family += children.get(family[i], [])
        i += 1
    for p in family:
        try:
            os.kill(p, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def run_stage(argv: list[str], env: dict, timeout: float | None) -> int | None:
    """The stage's exit status, or None when it was killed at `timeout` seconds."""
    child = subprocess.Popen(argv, cwd=ROOT, env=env)
    try:
        return child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(child.pid)
        child.wait()
        return None


def remove(paths: list[Path]) -> None:
    for p in paths:
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)


def span(seconds: float) -> str:
    """A duration for a reader: seconds under two minutes, else minutes."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _minutes(row: dict | None) -> str:
    return "      ?" if row is None else f"{'≤' if row.get('bound') else ' '}{row['minutes']:6.2f}"


def print_plan(chosen: list[PL.Stage], copied: set, estimate: dict, head: str) -> None:
    """The run's order with the planner's minutes per stage and their running sum."""
    print(head, flush=True)
    total = 0.0
    for s in chosen:
        if s.name in copied:
            print(f"  {s.name:24}   {SAME}")
            continue
        row = estimate.get(s.name)
        total += 0.0 if row is None else row["minutes"]
        print(f"  {s.name:24} {_minutes(row)} min   (to here {total:5.2f})")
    print(flush=True)


class Record:
    """The set on disk as the run goes: each stage's entry in resultset.json and run.lock, and the archive."""

    def __init__(self, out: Path, info: dict, paths: dict, lock: dict, dvc_spec: dict, params: dict,
                 archive: Path | None):
        self.out, self.info, self.paths, self.lock, self.archive = out, info, paths, lock, archive
        self.dvc_spec, self.params = dvc_spec, params
        self.dvc_lock = dvc_lock()

    def mark(self, stage: PL.Stage, status: str, why: str, seconds: float | None = None) -> None:
        self.info["stages"][stage.name].update(status=status, why=why, seconds=seconds)
        entries = self.lock["stages"]
        if status == "copied" and stage.name in self.dvc_lock:
            entries[stage.name] = self.dvc_lock[stage.name]  # what DVC recorded when it made artifacts/
        elif status in HELD:
            entries[stage.name] = lock_entry(stage, self.dvc_spec, self.params, self.out)
        else:
            entries.pop(stage.name, None)
            if status != "running":
                remove(self.paths[stage.name])  # the set holds only what a stage finished

    def save(self, complete: bool = False) -> None:
        info = self.info
        ran = {k: v for k, v in info["stages"].items() if v["status"] in ("finished", "failed", "timed out")}
        info.update(complete=complete, seconds={k: v["seconds"] for k, v in ran.items()},
                    total_seconds=round(sum(v["seconds"] for v in ran.values()), 1),
                    failed=sorted(k for k, v in ran.items() if v["status"] == "failed"),
                    finished=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
        tmp = self.out / f".run.lock.{os.getpid()}.tmp"
        tmp.write_text(yaml.safe_dump(self.lock, sort_keys=False))
        os.replace(tmp, self.out / "run.lock")
        size = pack(self.out, self.paths, info, self.archive)
        if self.archive:
            held = sum(v["status"] in HELD for v in info["stages"].values())
            print(f"-- packed {self.archive}: {size / 2**20:.2f} MiB, {held} stages held", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="run a profile's stages without DVC into a result set")
    ap.add_argument("--profile", required=True, help="a profile of params.yaml (gpu, paper, smoke, cpu)")
    ap.add_argument("--out", required=True, help="the result set's folder, e.g. results/gpu")
    ap.add_argument("--name", default=None, help="the set's name in the app (default: the folder's name)")
    ap.add_argument("--stages", default="", help="comma-separated stage names (default: all), e.g. e5@cifar10,claims")
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--git-revision", default=None,
                    help="the revision to record (default: git's; a copied checkout without .git needs it)")
    ap.add_argument("--deadline-s", type=float, default=None, help="seconds from now by which every stage has ended")
    ap.add_argument("--plan-device", default="h200", help="the planner's device (params plan.devices) for estimates")
    ap.add_argument("--margin", type=float, default=1.0, help="a stage starts if planner estimate x margin fits")
    ap.add_argument("--reserve-s", type=float, default=20.0, help="seconds before the deadline kept for claims")
    ap.add_argument("--archive", default=None, help="pack the set into this .tar.gz after every stage")
    ap.add_argument("--no-reuse", action="store_true", help="also run stages whose settings equal the CPU profile's")
    ap.add_argument("--estimates", default=None, help="a cache of the planner's estimates (JSON): read when made "
                                                      "from these params and code, else computed and written")
    ap.add_argument("--plan-only", action="store_true", help="print the order and the estimates, run nothing")
    args = ap.parse_args(argv)
    t_start = time.monotonic()
    deadline = t_start + args.deadline_s if args.deadline_s else math.inf
    out = Path(args.out).resolve()
    if out == ARTIFACTS.resolve():
        sys.exit("--out: a result set lives beside artifacts/, never in it (dvc repro writes artifacts/)")
    try:
        params = load_params(args.params)
        params["profile"] = args.profile
        stage_section(params, "e5")  # an unknown profile stops here, naming the allowed ones
    except ConfigError as err:
        sys.exit(f"params.yaml: {err}")
    stages = ordered(PL.pipeline())
    wanted = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(wanted) - {s.name for s in stages})
    if unknown:
        sys.exit(f"--stages: unknown stage(s) {', '.join(unknown)}; allowed: {', '.join(s.name for s in stages)}")
    chosen = [s for s in stages if not wanted or s.name in wanted]
    dvc_spec = yaml.safe_load(PL.DVC_YAML.read_text())["stages"]
    locked = {} if args.no_reuse else dvc_lock()
    copied = {s.name for s in chosen if not args.no_reuse and reusable(s, params, dvc_spec, lock=locked)}
    estimate, note = estimates(params, args.plan_device, Path(args.estimates) if args.estimates else None)
    print_plan(chosen, copied, estimate, f"profile {args.profile}, minutes per stage by the planner on "
               f"{args.plan_device}" + (f" (a stage starts if {args.margin:g} x its minutes fit)" if args.margin != 1
                                        else "") + (f", deadline {args.deadline_s:g} s" if args.deadline_s else "")
               + (f"; {note}" if note else ""))
    if args.plan_only:
        return

    out.mkdir(parents=True, exist_ok=True)
    params_file = out / "params.yaml"
    params_file.write_text(f"# {args.params} with profile: {args.profile} (written by training.run_profile)\n"
                           + yaml.safe_dump(params, sort_keys=False))
    info_path = out / RESULTSET
    old = json.loads(info_path.read_text()) if info_path.is_file() and wanted else {}
    lock = yaml.safe_load((out / "run.lock").read_text()) if (out / "run.lock").is_file() and wanted else None
    kind, name = device_name()
    import torch
    revision = args.git_revision or common.git_revision()
    stage_info = {k: v for k, v in old.get("stages", {}).items() if k not in {s.name for s in chosen}}
    for s in chosen:
        row = estimate.get(s.name)
        stage_info[s.name] = {"status": "pending", "why": "the run ended before it was reached", "seconds": None,
                              "planner_minutes": None if row is None else round(row["minutes"], 2),
                              "upper_bound": None if row is None else bool(row.get("bound"))}
    rec = Record(out, {
        "name": args.name or out.name, "profile": args.profile, "device": kind, "device_name": name,
        "git_revision": revision, "torch": torch.__version__, "python": platform.python_version(),
        "started": old.get("started", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")),
        "deadline_s": args.deadline_s, "margin": args.margin, "stages": stage_info,
        "planner": {"device": args.plan_device, "note": note,
                    "stages": {k: {"tflop": round(v.get("tflop", 0.0), 3), "minutes": round(v["minutes"], 2)}
                               for k, v in estimate.items()},
                    "total_tflop": round(sum(v.get("tflop", 0.0) for v in estimate.values()), 3),
                    "total_minutes": round(sum(v["minutes"] for v in estimate.values()), 2)},
    }, {s.name: [rerooted(p, out) for p in outputs(s, dvc_spec)] for s in stages},
        lock or {"schema": "2.0", "stages": {}}, dvc_spec, params,
        Path(args.archive).resolve() if args.archive else None)

    for s in chosen:
        if s.name in copied:
            remove(rec.paths[s.name])
            for path in outputs(s, dvc_spec):
                src, dst = rerooted(path, ARTIFACTS), rerooted(path, out)
                dst.parent.mkdir(parents=True, exist_ok=True)
                (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
            rec.mark(s, "copied", SAME)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", common.REVISION_ENV: revision}
    keep = args.reserve_s if any(s.name == "claims" and s.name not in copied for s in chosen) else 0.0
    for s in (s for s in chosen if s.name not in copied):
        left = deadline - time.monotonic() - (0.0 if s.name in LAST else keep)
        row = estimate.get(s.name)
        if left <= 0 or (row is not None and row["minutes"] * 60 * args.margin > left):
            rec.mark(s, "skipped", f"the deadline ({args.deadline_s:g} s) came before it could start" if left <= 0 else
                     f"the planner's {span(row['minutes'] * 60)}" + (f" x margin {args.margin:g}" if args.margin != 1
                                                                    else "")
                     + f" did not fit the {span(left)} left before the deadline")
            print(f"-- {s.name} skipped: {rec.info['stages'][s.name]['why']}", flush=True)
            continue
        rec.mark(s, "running", f"started {time.monotonic() - t_start:.0f} s into the run, "
                               "which ended before it finished")
        rec.save()  # the archive of every stage finished so far, before the next one starts
        cmd = s.cmd.replace("artifacts/", f"{out}/").replace("--artifacts artifacts", f"--artifacts {out}")
        argv = [sys.executable, *cmd.split()[1:], "--params", str(params_file)]  # `python` = this interpreter
        print(f"== {s.name}: {' '.join(argv[1:])}", flush=True)
        remove(rec.paths[s.name])
        t0 = time.monotonic()
        rc = run_stage(argv, env, None if math.isinf(left) else left)
        secs = round(time.monotonic() - t0, 1)
        if rc == 0:
            rec.mark(s, "finished", "", secs)
        elif rc is None:
            print(f"!! {s.name} stopped at the deadline after {secs} s", flush=True)
            rec.mark(s, "timed out", f"killed at the deadline after {span(secs)}"
                     + (f" (the planner's estimate: {span(row['minutes'] * 60)})" if row else ""), secs)
        else:
            print(f"!! {s.name} failed (exit {rc}) after {secs} s", flush=True)
            rec.mark(s, "failed", f"exit status {rc}", secs)
    rec.save(complete=True)
    info = rec.info
    done = sum(info["stages"][s.name]["status"] in HELD for s in chosen)
    print(f"wrote {out} ({done} of {len(chosen)} stages; {info['total_seconds']} s of stages; under-trained: "
          f"{info['under_trained']})", flush=True)
    sys.exit(1 if info["failed"] else 0)


if __name__ == "__main__":
    main()
