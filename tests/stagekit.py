"""Helpers shared by the stage smoke tests: a params.yaml in the smoke profile (with edits), the
smoke settings of a stage, and running a stage's main() into a temporary folder."""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pandas as pd
import yaml

from training.config import ROOT, load_params, stage_section
from training.stages.common import HEADLINE, MAX_HEADLINE, SETTINGS, stage_config


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


def smoke_config(stage: str, item: str | None, config_cls, **changes):
    """A stage's Config as the smoke profile sets it (the stages have no defaults: params.yaml is their
    only source), with `changes` replaced."""
    params = load_params(ROOT / "params.yaml")
    params["profile"] = "smoke"
    return dataclasses.replace(stage_config(params, stage, item, config_cls)[1], **changes)


def check_settings(table, extra: tuple = ()) -> None:
    """A per-run table leads with run and the shared setting columns (common.SETTINGS), then `extra`."""
    assert list(table.columns[: 1 + len(SETTINGS) + len(extra)]) == ["run", *SETTINGS, *extra]
    assert set(table["kind"]) <= {"none", "randX", "randY"} and ((table["kind"] == "none") == (table["p"] == 0)).all()


def check_headline(metrics: dict) -> None:
    """A stage's metrics JSON: at most MAX_HEADLINE numbers named from the shared vocabulary, plus secs."""
    assert metrics["secs"] >= 0
    numbers = {k: v for k, v in metrics.items() if k != "secs"}
    assert set(numbers) <= set(HEADLINE) and len(numbers) <= MAX_HEADLINE
    assert all(v is None or isinstance(v, (int, float)) for v in numbers.values())


SCORES = ["train_loss", "train_acc", "train_acc_clean", "train_acc_corrupted", "train_acc_true", "val_loss", "val_acc"]


def read_outputs(out: Path, names) -> tuple[dict, dict, dict]:
    """A stage's tables (name -> DataFrame), manifest and metrics JSON from its output folder."""
    tables = {name: pd.read_csv(out / f"{name}.csv") for name in names}
    return tables, json.loads((out / "manifest.json").read_text()), json.loads((out / "metrics.json").read_text())


def check_manifest(out: Path, stage: str, tables: dict) -> dict:
    """The manifest of a smoke run: its stage, profile, device, one thread, its data sets and the columns
    of every table it wrote."""
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stage"] == stage and manifest["profile"] == "smoke" and manifest["device"] == "cpu"
    assert manifest["seconds"] >= 0 and manifest["threads"] == 1 and manifest["datasets"]
    assert manifest["tables"] == {name: list(df.columns) for name, df in tables.items()}
    return manifest


def check_scores(curves: pd.DataFrame) -> None:
    """A curves table's measurements: losses and the main accuracies always there, every score measured
    somewhere, accuracies in [0, 1], losses ≥ 0."""
    assert curves[["train_loss", "train_acc", "train_acc_true", "val_loss", "val_acc"]].notna().all().all()
    for col in SCORES:
        values = curves[col].dropna()
        assert len(values), col
        assert values.between(0, 1).all() if "acc" in col else (values >= 0).all(), col
