"""Every stage's smoke profile on a CUDA GPU, where one is present (marked `cuda`; skipped with the reason
elsewhere, CI included). On a GPU this is the check that no stage mixes CPU and CUDA tensors (the E5 teaser
once did, after all of E5's training) and that LASS and the other measurements run there."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stagekit import smoke_params
from training.config import ROOT
from training.plan import pipeline

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")]

def commands() -> list[tuple[str, str]]:
    """(name, command) of every training stage in dvc.yaml, one per foreach item (claims and plan excluded:
    no training, tables from tables / from params)."""
    return [(s.name, s.cmd) for s in pipeline() if s.name not in ("claims", "plan")]


@pytest.mark.parametrize("name, cmd", commands(), ids=[n for n, _ in commands()])
def test_stage_runs_its_smoke_profile_on_cuda(tmp_path, name, cmd):
    params = smoke_params(tmp_path)
    params.write_text(re.sub(r"^device: *\S+", "device: cuda", params.read_text(), count=1, flags=re.M))
    cmd = re.sub(r"artifacts/", f"{tmp_path}/artifacts/", cmd)
    args = cmd.split()[1:] + ["--params", str(params)]
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    out = Path(args[args.index("--out") + 1])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["device"] == "cuda" and manifest["profile"] == "smoke"
