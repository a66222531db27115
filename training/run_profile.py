"""Run a whole profile without DVC into a result set beside artifacts/, with its provenance.

    python -m training.run_profile --profile gpu --out results/gpu

For a machine that has no DVC (the lent GPU): every stage of dvc.yaml runs its own command, in the
file's order, with `artifacts/` replaced by --out and a copy of params.yaml whose `profile` is the one
asked for. The result set's folders have the same layout as artifacts/, so the app reads either.
Besides them it writes:

  resultset.json   name, profile, device and its name, git revision, torch and python versions, the
                   measured seconds of every stage, the planner's FLOPs and estimate for each, and the
                   stages that failed (a failed stage is recorded and the others still run)
  run.lock         what DVC would have written to dvc.lock for that run: each stage's command, the md5
                   of its code and data dependencies, its params section, and the md5 of its outputs
  params.yaml      the params the stages read

`--stages e5@cifar10,claims` runs a subset (the rest of the set, if present, is kept).
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import yaml

from .config import ROOT, load_params
from .stages.common import REVISION_ENV, git_revision
from .plan import DVC_YAML, Device, pipeline, plan

RESULTSET = "resultset.json"


def md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def md5_tree(path: Path) -> dict:
    """md5 of a file, or of every file of a folder (as DVC records a folder: one hash over its listing)."""
    if path.is_file():
        return {"md5": md5(path), "size": path.stat().st_size}
    files = sorted(p for p in path.rglob("*") if p.is_file())
    listing = [{"relpath": p.relative_to(path).as_posix(), "md5": md5(p)} for p in files]
    digest = hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest()
    return {"md5": digest + ".dir", "nfiles": len(files), "size": sum(p.stat().st_size for p in files)}


def _section(params: dict, dotted: str):
    node = params
    for part in dotted.split("."):
        node = (node or {}).get(part) if isinstance(node, dict) else None
    return node


def lock_entry(stage_body: dict, item, params: dict, out_root: Path) -> dict:
    """The dvc.lock entry of one stage of this run (deps and outs re-rooted from artifacts/ to out_root)."""
    def local(path: str) -> Path:
        return out_root / path.split("/", 1)[1] if path.startswith("artifacts/") else ROOT / path

    do = stage_body.get("do", stage_body)
    sub = lambda s: str(s).replace("${item}", str(item))  # noqa: E731
    deps = [sub(d) for d in do.get("deps", [])]
    outs = [sub(next(iter(o)) if isinstance(o, dict) else o) for o in do.get("outs", [])]
    return {
        "cmd": " ".join(sub(do["cmd"]).split()),
        "deps": [{"path": d, **md5_tree(local(d))} for d in deps if local(d).exists()],
        "params": {sub(p): _section(params, sub(p)) for p in do.get("params", [])},
        "outs": [{"path": o, **md5_tree(local(o))} for o in outs if local(o).exists()],
    }


def device_name() -> tuple[str, str]:
    import torch
    if torch.cuda.is_available():
        return "cuda", torch.cuda.get_device_name()
    return "cpu", platform.processor() or platform.machine()




def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="run a profile's stages without DVC into a result set")
    ap.add_argument("--profile", required=True, help="a profile of params.yaml (gpu, paper, smoke, cpu)")
    ap.add_argument("--out", required=True, help="the result set's folder, e.g. results/gpu")
    ap.add_argument("--name", default=None, help="the set's name in the app (default: the folder's name)")
    ap.add_argument("--stages", default="", help="comma-separated stage names (default: all), e.g. e5@cifar10,claims")
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--git-revision", default=None,
                    help="the revision to record (default: git's; a copied checkout without .git needs it)")
    ap.add_argument("--peak-tflops", type=float, default=790.0, help="bf16 peak for the recorded estimate (H200: 790)")
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    params = load_params(args.params)
    params["profile"] = args.profile
    params_file = out / "params.yaml"
    params_file.write_text(f"# {args.params} with profile: {args.profile} (written by training.run_profile)\n"
                           + yaml.safe_dump(params, sort_keys=False))
    stages = pipeline()
    wanted = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(wanted) - {s.name for s in stages})
    if unknown:
        sys.exit(f"--stages: unknown stage(s) {', '.join(unknown)}; allowed: {', '.join(s.name for s in stages)}")
    chosen = [s for s in stages if not wanted or s.name in wanted]
    info_path = out / RESULTSET
    info = json.loads(info_path.read_text()) if info_path.is_file() and wanted else {}
    estimate = {r["stage"]: r for r in plan(params, Device("planner", args.peak_tflops,
                                                            args.peak_tflops * 67 / 790, 0.5, 0.3))}
    dvc_spec = yaml.safe_load(DVC_YAML.read_text())["stages"]
    lock = yaml.safe_load((out / "run.lock").read_text()) if (out / "run.lock").is_file() and wanted else {}
    lock = lock or {"schema": "2.0", "stages": {}}
    kind, name = device_name()
    seconds, failed = dict(info.get("seconds", {})), [f for f in info.get("failed", []) if f not in wanted]
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    revision = args.git_revision or git_revision()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", REVISION_ENV: revision}
    for stage in chosen:
        cmd = stage.cmd.replace("artifacts/", f"{out}/").replace("--artifacts artifacts", f"--artifacts {out}")
        cmd += f" --params {params_file}"
        print(f"== {stage.name}: {cmd}", flush=True)
        t0 = time.monotonic()
        done = subprocess.run([sys.executable, *cmd.split()[1:]], cwd=ROOT, env=env)  # `python` = this interpreter
        seconds[stage.name] = round(time.monotonic() - t0, 1)
        if done.returncode:
            failed.append(stage.name)
            print(f"!! {stage.name} failed (exit {done.returncode}) after {seconds[stage.name]} s", flush=True)
            continue
        base, _, item = stage.name.partition("@")
        lock["stages"][stage.name] = lock_entry(dvc_spec[base], item or None, params, out)
    import torch
    info = {
        "name": args.name or out.name, "profile": args.profile, "device": kind, "device_name": name,
        "git_revision": revision, "torch": torch.__version__, "python": platform.python_version(),
        "started": info.get("started", started),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": seconds, "total_seconds": round(sum(seconds.values()), 1), "failed": sorted(set(failed)),
        "planner": {"peak_tflops": args.peak_tflops, "efficiency": 0.5,
                    "stages": {k: {"tflop": round(v["tflop"], 3), "minutes": round(v["minutes"], 2)}
                               for k, v in estimate.items()},
                    "total_tflop": round(sum(v["tflop"] for v in estimate.values()), 3),
                    "total_minutes": round(sum(v["minutes"] for v in estimate.values()), 2)},
    }
    info_path.write_text(json.dumps(info, indent=2) + "\n")
    (out / "run.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    print(f"wrote {out} ({len(chosen) - len(set(failed) & {s.name for s in chosen})} of {len(chosen)} stages; "
          f"{info['total_seconds']} s)", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
