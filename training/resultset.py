"""A result set's record (resultset.json, run.lock) and its one archive; training.run_profile writes them.

`resultset.json` says what the set holds: per stage its status (finished | copied | failed | timed out |
skipped | running | pending), why, its seconds and the planner's estimate, which files the archive
left out and why, and whether the set is `under_trained`. Only finished and copied stages are held.
The archive is the set as one .tar.gz of bounded size (the lent GPU machine brings back files of at
most 16 MiB), written to a temporary file and renamed, so a kill at any moment leaves the archive of
every stage finished before it.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import tarfile
from pathlib import Path

from typing import TYPE_CHECKING

from .config import ROOT

if TYPE_CHECKING:
    from .plan import Stage

RESULTSET = "resultset.json"
META = (RESULTSET, "run.lock", "params.yaml")  # the set's own files: always in the archive
HELD = ("finished", "copied")                  # statuses whose outputs the set holds
FIT = 0.9  # random-label training accuracy without regularization below which E6 has nothing to remove
MIB = 1 << 20


# ---------------------------------------------------------------------------------------------
# run.lock: what DVC would have written to dvc.lock


def md5(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "md5").hexdigest()


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


def _do(stage: Stage, dvc_spec: dict) -> tuple[dict, callable]:
    body = dvc_spec[stage.name.partition("@")[0]]
    return body.get("do", body), lambda s: str(s).replace("${item}", str(stage.item))


def outputs(stage: Stage, dvc_spec: dict) -> list[str]:
    """The stage's outs and metrics as dvc.yaml writes them (artifacts/...)."""
    do, sub = _do(stage, dvc_spec)
    return [sub(next(iter(o)) if isinstance(o, dict) else o) for o in [*do.get("outs", []), *do.get("metrics", [])]]


def rerooted(path: str, out_root: Path) -> Path:
    return out_root / path.split("/", 1)[1] if path.startswith("artifacts/") else ROOT / path


def lock_entry(stage: Stage, dvc_spec: dict, params: dict, out_root: Path) -> dict:
    """The dvc.lock entry of one stage of this run (deps and outs re-rooted from artifacts/ to out_root)."""
    do, sub = _do(stage, dvc_spec)
    deps = [sub(d) for d in do.get("deps", [])]
    outs = [sub(next(iter(o)) if isinstance(o, dict) else o) for o in do.get("outs", [])]
    keys = [sub(p).replace("${profile}", str(params.get("profile", "cpu"))) for p in do.get("params", [])]
    return {
        "cmd": " ".join(sub(do["cmd"]).split()),
        "deps": [{"path": d, **md5_tree(rerooted(d, out_root))} for d in deps if rerooted(d, out_root).exists()],
        "params": {key: _section(params, key) for key in keys},
        "outs": [{"path": o, **md5_tree(rerooted(o, out_root))} for o in outs if rerooted(o, out_root).exists()],
    }


# ---------------------------------------------------------------------------------------------
# resultset.json and the archive


def under_trained(out: Path) -> tuple[bool | None, str]:
    """Whether the set's nets failed to memorize: E6 asks how much of the random labels a regularizer keeps
    from being fitted, which means nothing where the unregularized nets never fit them. True (and why) when
    an E6 table of the set (`settings.csv`) has random-label training accuracy below FIT at strength 0 (no
    hidden dropout either); None when the set holds no such row."""
    fits = {}
    for path in sorted(out.glob("e6/*/settings.csv")):
        try:
            with open(path, newline="") as fh:
                rows = [r for r in csv.DictReader(fh)
                        if float(r["strength"]) == 0 and float(r.get("dropout") or 0) == 0]
        except (OSError, KeyError, ValueError):
            continue
        if rows:
            fits[path.parent.relative_to(out).as_posix()] = min(float(r["random_train_acc"]) for r in rows)
    if not fits:
        return None, "no E6 table with an unregularized setting in this set, so memorization is not checked"
    low = {k: v for k, v in fits.items() if v < FIT}
    if low:
        return True, ("random labels are not memorized: without regularization the nets fit only "
                      + ", ".join(f"{v:.0%} ({k})" for k, v in sorted(low.items()))
                      + f" of them (under {FIT:.0%}), so what a regularizer removes is not measured")
    return False, (f"random labels memorized without regularization: at least {min(fits.values()):.0%} "
                   f"in every E6 item ({', '.join(sorted(fits))})")


def write_json(obj: dict, path: Path) -> None:
    """Atomically: a temporary file renamed into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def held_files(out: Path, outputs: dict[str, list[Path]], record: dict) -> list[Path]:
    """The files of every stage the set holds (its outputs)."""
    files = []
    for name, entry in record["stages"].items():
        if entry["status"] not in HELD:
            continue
        for path in outputs.get(name, []):
            if path.is_dir():
                files += sorted(p for p in path.rglob("*") if p.is_file())
            elif path.is_file():
                files.append(path)
    return files


def _tar(out: Path, files: list[Path], archive: Path) -> int:
    tmp = archive.with_name(f".{archive.name}.{os.getpid()}.tmp")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
        for f in files:
            tar.add(f, arcname=f"{out.name}/{f.relative_to(out).as_posix()}", recursive=False)
    size = tmp.stat().st_size
    os.replace(tmp, archive)
    return size


def pack(out: Path, outputs: dict[str, list[Path]], record: dict, archive: Path | None,
         limit_mib: float = 16.0, file_mib: float = 4.0) -> int:
    """Write resultset.json and, with `archive`, the set as one .tar.gz (the folder `out.name` at its top).
    A file over `file_mib` (a wide net's checkpoint) is left out, and so, while the archive is over
    `limit_mib`, is the largest remaining stage file; each is named in record['left_out'] with why.
    Returns the archive's size in bytes (0 without one)."""
    record["under_trained"], record["under_trained_why"] = under_trained(out)
    files = held_files(out, outputs, record) if archive else []
    left = []
    for f in files:
        if f.stat().st_size > file_mib * MIB:
            left.append({"path": f.relative_to(out).as_posix(), "bytes": f.stat().st_size,
                         "why": f"{f.stat().st_size / 1e6:.1f} MB, over the {file_mib:g} MiB a file may take in the "
                                f"archive (one archive of at most {limit_mib:g} MiB comes back from the GPU machine)"})
    while True:
        record["left_out"] = left
        write_json(record, out / RESULTSET)
        if not archive:
            return 0
        gone = {e["path"] for e in left}
        kept = [f for f in files if f.relative_to(out).as_posix() not in gone]
        size = _tar(out, [out / m for m in META if (out / m).is_file()] + kept, archive)
        if size <= limit_mib * MIB or not kept:
            return size
        big = max(kept, key=lambda f: f.stat().st_size)
        left.append({"path": big.relative_to(out).as_posix(), "bytes": big.stat().st_size,
                     "why": f"the archive came to {size / MIB:.1f} MiB, over its {limit_mib:g} MiB; the largest "
                            "file left out"})
