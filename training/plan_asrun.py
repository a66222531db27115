"""What a result set says its stages did, where the planner can only bound or assume it: the settings
each stage ran with (its manifest's `config`), E4's epochs per batch, E5's LASS iterations. The planner
(plan.py) prices a stage at these when it compares its estimate with what a set measured."""
from __future__ import annotations

import importlib
import json
from pathlib import Path

from .config import ConfigError, parse, to_dict
from .stages.common import Work, batches


def _manifest(stage, folder: Path) -> dict | None:
    path = folder / stage.out / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else None


def as_run_config(stage, folder: Path, now=None):
    """The settings a result set's stage ran with (its manifest's `config`) as the stage's Config, or None
    where there is no manifest. A setting the stage no longer has is left out and one it has since gained
    is taken from `now` (the current Config), so an older set still prices at the settings it ran."""
    mod, manifest = importlib.import_module(stage.module), _manifest(stage, folder)
    if manifest is None or not hasattr(mod, "Config") or not isinstance(manifest.get("config"), dict):
        return None
    try:
        return parse(mod.Config, manifest["config"], stage.section)
    except (ConfigError, TypeError, ValueError):
        if now is None:
            return None

    def merge(base: dict, seen: dict) -> dict:
        return {k: merge(v, seen[k]) if isinstance(v, dict) and isinstance(seen.get(k), dict) else seen.get(k, v)
                for k, v in base.items()}
    try:
        return parse(mod.Config, merge(to_dict(now), manifest["config"]), stage.section)
    except (ConfigError, TypeError, ValueError):
        return None


def as_run(stage, works: list[Work], folder: Path) -> dict[int, dict]:
    """What a result set says its stage did where the plan can only bound it, per Work: {"epochs": {chunk:
    epochs trained}} for a capped Work (E4, from curves.csv, where the stage numbers its runs Work after
    Work), {"lass": {chunk: iterations of its in-training searches}} for CSR (the manifest's lass_searches,
    in the order the chunks ran; for an older set without them, the bound its csr.csv allows: a search
    goes on while an iteration flips at least csr_min_new new points, so it ends within
    1 + flipped / csr_min_new iterations)."""
    import pandas as pd

    out: dict[int, dict] = {}
    curves, csr = folder / stage.out / "curves.csv", folder / stage.out / "csr.csv"
    if any(w.capped for w in works) and curves.is_file():
        last = pd.read_csv(curves, usecols=["run", "epoch"]).groupby("run")["epoch"].max()
        offset = 0
        for i, w in enumerate(works):
            runs = [[offset + j for j in chunk] for chunk in batches(w.specs)]
            if w.capped and all(r in last.index for chunk in runs for r in chunk):
                out.setdefault(i, {})["epochs"] = {c: int(last[chunk].max()) for c, chunk in enumerate(runs)}
            offset += len(w.specs)
    for i, w in enumerate(works):
        if not (w.lass_points and w.lass_every):
            continue
        chunks, searched = batches(w.specs), sorted(set(range(0, w.epochs + 1, w.lass_every)) | {w.epochs})
        manifest = _manifest(stage, folder) or {}
        searches, ran = manifest.get("lass_searches"), manifest.get("config") or {}
        if searches and len(searches) == len(chunks) * len(searched):
            during = {c: sum(s["iterations"] for s in searches[c * len(searched):(c + 1) * len(searched)][:-1])
                      for c in range(len(chunks))}
            final = {c: searches[(c + 1) * len(searched) - 1]["iterations"] for c in range(len(chunks))}
            out.setdefault(i, {})["lass"] = (during, final)
        elif csr.is_file() and (ran.get("csr_min_new") or ran.get("csr_min_new_share")):
            table = pd.read_csv(csr)
            per_batch = bool(ran.get("csr_min_new_share"))   # the older rule: per batch of csr_batch points
            size = min(w.lass_batch, w.lass_points) if per_batch else w.lass_points
            need = max(1, round(ran["csr_min_new_share"] * size)) if per_batch else ran["csr_min_new"]
            flips = table.groupby(["epoch", "run"])["csr"].first() * size
            def bound(runs, e, w=w, flips=flips, need=need):  # the chunk's runs search until the last one stops
                return min(w.lass_steps, 1 + int(max(flips.get((e, r), 0) for r in runs) // need))
            full = "csr_all" in table.columns                    # the final search runs every iteration
            during = {c: sum(bound(chunk, e) for e in searched[:-1]) for c, chunk in enumerate(chunks)}
            final = {c: w.lass_steps if full else bound(chunk, searched[-1]) for c, chunk in enumerate(chunks)}
            out.setdefault(i, {})["lass"] = (during, final)
    return out
