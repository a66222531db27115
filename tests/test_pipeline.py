"""The whole DVC pipeline, every stage, in the smoke profile — and the committed artifacts' bookkeeping."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from training.stages import claims as C

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.pipeline  # dvc repro of the whole smoke pipeline; dvc status of the committed artifacts

MANIFEST_FIELDS = {"stage", "profile", "device", "datasets", "config", "seconds", "torch", "git_revision", "finished"}


def _dvc(*args, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    # dvc.yaml's commands say `python`: this interpreter's folder first on PATH, so that they run in the same
    # venv when pytest was started as .venv/bin/python without activating it
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PATH": path})


@pytest.fixture(scope="module")
def smoke_repo(tmp_path_factory) -> Path:
    """A copy of the project with `profile: smoke`, reproduced from scratch by `dvc repro`: the shipped
    samples (mnist10k, cifar10s) and no data/raw, as in a fresh clone."""
    repo = tmp_path_factory.mktemp("pipeline")
    for name in ("training", "dvc.yaml", "params.yaml"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, repo / name)
    (repo / "data").mkdir()
    for sample in ("mnist10k.npz", "cifar10s.npz"):
        shutil.copy(ROOT / "data" / sample, repo / "data")
    params = (repo / "params.yaml").read_text()
    (repo / "params.yaml").write_text(params.replace("\nprofile: cpu ", "\nprofile: smoke", 1))
    assert "profile: smoke" in (repo / "params.yaml").read_text()
    assert _dvc("init", "--no-scm", "-q", cwd=repo).returncode == 0
    run = _dvc("repro", cwd=repo)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return repo


def _stage_outputs(repo: Path) -> list[Path]:
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    outs = []
    for name, stage in stages.items():
        items = stage.get("foreach", [None])
        body = stage.get("do", stage)
        for item in items:
            for out in body["outs"]:
                path = next(iter(out)) if isinstance(out, dict) else out
                outs.append(repo / path.replace("${item}", str(item)))
    return outs


def test_every_stage_writes_tables_and_manifest(smoke_repo):
    outs = _stage_outputs(smoke_repo)
    assert len(outs) >= 15
    for out in outs:
        manifest = json.loads((out / "manifest.json").read_text())
        assert MANIFEST_FIELDS <= set(manifest), (out, MANIFEST_FIELDS - set(manifest))
        assert manifest["profile"] == "smoke"
        assert manifest["seconds"] >= 0
        tables = manifest.get("tables", {})
        assert tables, f"{out} lists no tables"
        for table, columns in tables.items():
            df = pd.read_csv(out / f"{table}.csv")
            assert list(df.columns) == columns
            assert len(df) > 0, f"{out}/{table}.csv is empty"


def test_accuracies_and_ratios_are_in_range(smoke_repo):
    for csv in smoke_repo.glob("artifacts/**/*.csv"):
        df = pd.read_csv(csv)
        for col in df.columns:
            if col.endswith(("_acc", "acc_clean", "acc_corrupted", "acc_true")) or col in ("csr", "gini", "p_correct"):
                values = df[col].dropna()
                assert ((values >= 0) & (values <= 1)).all(), f"{csv.name}:{col} outside [0, 1]"
        if "seed" in df.columns:
            assert df["seed"].notna().all()


def test_metrics_and_status(smoke_repo):
    shown = _dvc("metrics", "show", "--json", cwd=smoke_repo)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().startswith("{")
    status = _dvc("status", "--json", cwd=smoke_repo)
    assert status.returncode == 0 and json.loads(status.stdout or "{}") == {}, status.stdout


def test_claims_table_has_a_verdict_per_claim(smoke_repo):
    claims = pd.read_csv(smoke_repo / "artifacts" / "claims" / "claims.csv")
    assert len(claims) >= 14
    assert set(claims["verdict"]) <= set(C.VERDICTS)
    assert claims["rule"].str.len().min() > 10


def test_committed_artifacts_come_from_this_code_and_params():
    """`dvc status` is clean: dvc.lock matches the committed code, params and artifacts."""
    if not (ROOT / "dvc.lock").exists():
        pytest.fail("dvc.lock is missing: run `dvc repro` and commit artifacts/ and dvc.lock")
    status = _dvc("status", "--json", cwd=ROOT, timeout=300)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout or "{}") == {}, f"dvc status is not clean: {status.stdout[:2000]}"


def test_dvc_metrics_show_fits_a_terminal():
    """Each stage writes at most six headline numbers from one short vocabulary, so `dvc metrics show`
    prints one line per metrics file that fits a 200-column terminal."""
    shown = _dvc("metrics", "show", cwd=ROOT, timeout=300)
    assert shown.returncode == 0, shown.stderr
    lines = [line for line in shown.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 + len(list((ROOT / "artifacts" / "metrics").glob("*.json")))  # a header, a row per file
    assert max(map(len, lines)) <= 200, max(lines, key=len)
