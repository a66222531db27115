"""The lent-GPU run rehearsed on this CPU. tools/gpu_run.sh runs end to end with the smoke profile and a short
deadline, then once more and is killed mid-stage (SIGKILL to its process group). Whatever ends the run, $OUT
must hold one archive of at most 16 MiB with every stage finished before the end, and its resultset.json
must say of every other stage why it is not there. The planner's answer is fixed by the test (a cache made
with the true key), so the run reads it instead of spending minutes planning, and one stage is made too big
to fit. Plus the pieces: which stages are copied from artifacts/ instead of rerun, what the archive leaves
out, and when a set is under-trained."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import yaml

from training import plan as PL
from training import resultset as RS
from training.config import load_params, to_dict
from training.run_profile import SAME, estimates_key, ordered, reusable
from training.stages import common
from training.stages import e2_loss_sensitivity as E2

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 16 * 2**20
STAGES = [s.name for s in PL.pipeline()]
TOO_BIG = "e6@cifar_adversarial"  # the planner (as the test fixes it) says this one takes 30 min


def folder_of(stage: str) -> str:
    """The stage's folder in a result set (e5@mnist -> e5/mnist)."""
    cmd = next(s.cmd for s in PL.pipeline() if s.name == stage)
    out = cmd.split("--out " if "--out " in cmd else "--write ")[1].split()[0]
    return out.split("/", 1)[1]


def rehearsal(tmp: Path, stages_s: int) -> tuple[list[str], dict]:
    """The command and environment of the prepared run, rehearsed: smoke profile, planner answer fixed."""
    params = load_params(ROOT / "params.yaml")
    params["profile"] = "smoke"
    estimates = tmp / "estimates.json"
    estimates.write_text(json.dumps({"key": estimates_key(params, "laptop"), "made": "by the test", "stages": {
        name: {"minutes": 30.0 if name == TOO_BIG else 0.01, "bound": False, "tflop": 0.0} for name in STAGES}}))
    env = {**os.environ, "OUT": str(tmp / "out"), "SET": str(tmp / "results" / "rehearsal"), "PROFILE": "smoke",
           "PLAN_DEVICE": "laptop", "PYTHON": sys.executable, "ESTIMATES": str(estimates), "MARGIN": "1",
           "STAGES_S": str(stages_s), "DATA": str(tmp / "no-cifar-archive")}
    return ["bash", str(ROOT / "tools" / "gpu_run.sh")], env


def unpack(archive: Path) -> tuple[dict, set[str]]:
    """The archive's resultset.json and the paths it holds (below the set's own folder)."""
    assert archive.stat().st_size <= LIMIT
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        assert all(n.startswith("rehearsal/") for n in names), names
        record = json.load(tar.extractfile("rehearsal/resultset.json"))
    return record, {n.split("/", 1)[1] for n in names}


def alive(group: int) -> list[int]:
    """Live processes (not zombies, which wait for a reaper) of a process group."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            state, _, pgrp = (proc / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgrp) == group and state != "Z":
            found.append(int(proc.name))
    return found


def held(record: dict) -> list[str]:
    return [k for k, v in record["stages"].items() if v["status"] in RS.HELD]


@pytest.mark.pipeline  # runs stages through tools/gpu_run.sh
def test_the_prepared_command_returns_what_it_finished(tmp_path):
    cmd, env = rehearsal(tmp_path, stages_s=50)
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["rehearsal-run.log", "rehearsal.tar.gz"]
    record, files = unpack(out / "rehearsal.tar.gz")
    assert record["complete"] and record["profile"] == "smoke" and record["deadline_s"] <= 50
    assert list(record["stages"]) == [s.name for s in ordered(PL.pipeline())]  # every stage, most valuable first
    assert held(record), record["stages"]
    for name, entry in record["stages"].items():
        inside = any(f.startswith(folder_of(name) + "/") for f in files)
        if entry["status"] in RS.HELD:
            assert f"{folder_of(name)}/manifest.json" in files, name     # every finished stage, whole
        else:
            assert not inside and entry["status"] in ("skipped", "timed out", "failed") and entry["why"], (name, entry)
    assert record["stages"][TOO_BIG]["status"] == "skipped"
    assert "planner's 30.0 min did not fit" in record["stages"][TOO_BIG]["why"]
    assert any("deadline" in v["why"] for v in record["stages"].values())  # a short deadline leaves stages out
    log = (out / "rehearsal-run.log").read_text()
    assert all(f"{name} " in log for name in STAGES) and "min" in log      # the expected minutes per stage
    assert "e5@cifar10" in log and "planner min" in log                    # and the summary against them


@pytest.mark.pipeline  # runs stages through tools/gpu_run.sh
def test_a_kill_mid_stage_leaves_the_archive_of_the_finished_ones(tmp_path):
    cmd, env = rehearsal(tmp_path, stages_s=300)
    run = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    archive, t0, record = tmp_path / "out" / "rehearsal.tar.gz", time.monotonic(), {}
    try:
        while time.monotonic() - t0 < 150:  # until one stage has finished and the next is running
            if archive.is_file():
                record, _ = unpack(archive)
                statuses = [v["status"] for v in record["stages"].values()]
                if "running" in statuses and "finished" in statuses:
                    break
            time.sleep(0.5)
        else:
            pytest.fail(f"no stage finished within 150 s: {record.get('stages')}")
        time.sleep(1.0)  # into the running stage
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    time.sleep(0.5)
    assert not alive(run.pid)                                              # nothing of the run is left
    record, files = unpack(archive)
    assert not record["complete"]
    finished = held(record)
    running = [k for k, v in record["stages"].items() if v["status"] == "running"]
    assert finished and len(running) == 1 and "ended before it finished" in record["stages"][running[0]]["why"]
    for name in finished:
        assert f"{folder_of(name)}/manifest.json" in files
    assert not any(f.startswith(folder_of(running[0]) + "/") for f in files)
    assert all(v["status"] in ("finished", "running", "pending") for v in record["stages"].values())


def test_a_stage_whose_settings_equal_the_cpu_profiles_is_copied_not_rerun(tmp_path):
    """gpu profile: E2 has no override, so artifacts/' run of it (same settings, recorded in its manifest) is
    reused; a changed setting in that manifest, or a stage the profile changes, is rerun."""
    params = load_params(ROOT / "params.yaml")
    params["profile"] = "gpu"
    spec = yaml.safe_load(PL.DVC_YAML.read_text())["stages"]
    stage = {s.name: s for s in PL.pipeline()}
    cfg = common.stage_config(params, "e2", None, E2.Config)[1]
    art = tmp_path / "artifacts"
    (art / "e2").mkdir(parents=True)
    (art / "metrics").mkdir()
    (art / "metrics" / "e2.json").write_text("{}")
    manifest = {"profile": "cpu", "config": to_dict(cfg)}
    (art / "e2" / "manifest.json").write_text(json.dumps(manifest))
    deps = [d for d in spec["e2"]["deps"]]
    lock = {"e2": {"deps": [{"path": d, "md5": RS.md5(ROOT / d)} for d in deps]}}   # made by today's code
    assert reusable(stage["e2"], params, spec, art, lock)
    assert not reusable(stage["e2"], {**params, "profile": "cpu"}, spec, art, lock)  # the CPU profile itself runs
    stale = {"e2": {"deps": [{"path": d, "md5": "0" * 32 if d.endswith("sensitivity.py") else RS.md5(ROOT / d)}
                             for d in deps]}}
    assert not reusable(stage["e2"], params, spec, art, stale)                  # made by older code
    (art / "e2" / "manifest.json").write_text(json.dumps({**manifest, "config": {**manifest["config"], "steps": 1}}))
    assert not reusable(stage["e2"], params, spec, art, lock)                   # artifacts/ made otherwise
    assert not reusable(stage["e5@cifar10"], params, spec, art, lock)          # the gpu profile changes it
    assert not reusable(stage["claims"], params, spec, art, lock)              # reads the set's own stages
    assert SAME == "from artifacts/, same settings"


def _settings(folder: Path, random_fit: float) -> None:
    folder.mkdir(parents=True)
    (folder / "settings.csv").write_text("regularizer,strength,dropout,random_train_acc,best_val_acc\n"
                                         f"dropout,0,0,{random_fit},0.5\ndropout,0.5,0,0.1,0.5\n")


def test_a_set_whose_unregularized_nets_did_not_memorize_is_under_trained(tmp_path):
    assert RS.under_trained(tmp_path)[0] is None                               # nothing to judge
    _settings(tmp_path / "e6" / "dropout", 0.99)
    assert RS.under_trained(tmp_path)[0] is False
    _settings(tmp_path / "e6" / "cifar_dropout", 0.42)
    flag, why = RS.under_trained(tmp_path)
    assert flag is True and "42%" in why and "e6/cifar_dropout" in why


def test_the_archive_leaves_large_checkpoints_out_and_says_so(tmp_path):
    out = tmp_path / "gpu"
    (out / "e5" / "mnist").mkdir(parents=True)
    (out / "e5" / "mnist" / "manifest.json").write_text("{}")
    (out / "e5" / "mnist" / "model_real.safetensors").write_bytes(os.urandom(5 * 2**20))
    (out / "params.yaml").write_text("profile: gpu\n")
    record = {"stages": {"e5@mnist": {"status": "finished"}, "e5@cifar10": {"status": "running"}}}
    archive = tmp_path / "gpu.tar.gz"
    size = RS.pack(out, {"e5@mnist": [out / "e5" / "mnist"], "e5@cifar10": [out / "e5" / "cifar10"]}, record, archive)
    assert size == archive.stat().st_size <= LIMIT
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        inside = json.load(tar.extractfile("gpu/resultset.json"))
    assert names == {"gpu/resultset.json", "gpu/params.yaml", "gpu/e5/mnist/manifest.json"}
    assert inside["left_out"][0]["path"] == "e5/mnist/model_real.safetensors" and "MiB" in inside["left_out"][0]["why"]
    assert json.loads((out / "resultset.json").read_text()) == inside           # the set's record is the archive's
    assert not list(tmp_path.glob(".*.tmp"))                                      # written whole, then renamed
