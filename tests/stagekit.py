"""Helpers shared by the stage smoke tests: a params.yaml in the smoke profile (with edits), the
smoke settings of a stage, and running a stage's main() into a temporary folder."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from training.config import ROOT, load_params, stage_section


def smoke_params(tmp_path: Path, **edits) -> Path:
    """params.yaml with `profile: smoke` and one CPU thread. `edits` map 'stage' or 'stage.item' to a
    mapping merged over that smoke entry, e.g. smoke_params(p, **{'e6.dropout': {'strengths': [1.5]}})."""
    text = (ROOT / "params.yaml").read_text()
    text = re.sub(r"^profile: *\S+", "profile: smoke", text, count=1, flags=re.M)
    text = re.sub(r"^threads: *\S+", "threads: 1", text, count=1, flags=re.M)
    if edits:
        params = yaml.safe_load(text)
        for where, change in edits.items():
            stage, _, item = where.partition(".")
            smoke = params["profiles"]["smoke"]
            if item:
                smoke[stage][item] = {**smoke[stage][item], **change}  # a new dict: YAML aliases share the old one
            else:
                smoke[stage] = {**smoke[stage], **change}
        text = yaml.safe_dump(params, sort_keys=False)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def smoke_section(stage: str, item: str | None = None) -> dict:
    """The settings a stage (or one of its items) runs with in the smoke profile."""
    params = load_params(ROOT / "params.yaml")
    params["profile"] = "smoke"
    section = stage_section(params, stage)[1]
    return section[item] if item else section


def run_stage(module, tmp_path: Path, item: str, **edits) -> Path:
    """Run a stage module's main() for one item in the smoke profile; returns its output folder."""
    out = tmp_path / "out" / item
    module.main(["--params", str(smoke_params(tmp_path, **edits)), "--item", item, "--out", str(out)])
    return out
