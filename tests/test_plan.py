"""The planner (training/plan.py): FLOPs counted on the stages' own models, every stage's workload
matching what the stage trains, the `gpu` profile fitting one ten-minute H200 run, and the plan stage's
table reproducing exactly."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from training import plan as PL
from training.config import ModelConfig, RunSpec, TrainConfig, load_params
from training.stages.common import Work

ROOT = Path(__file__).resolve().parent.parent
H200 = PL.Device("h200", 790.0, 67.0, 0.5, 0.3)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training.plan", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_forward_flops_of_an_mlp_are_its_multiply_adds():
    m = ModelConfig(arch="mlp", width=64, depth=3)
    dims = [784, 64, 64, 64, 10]
    assert PL.forward_flops(m, (1, 28, 28), 10) == 2 * sum(a * b for a, b in zip(dims, dims[1:]))


def test_a_cnn_costs_what_its_convolutions_cost():
    small, wide = ModelConfig(arch="cnn", filters=64, dense=(32,)), ModelConfig(arch="cnn", filters=128, dense=(32,))
    f8, f16 = (PL.forward_flops(m, (3, 32, 32), 10) for m in (small, wide))
    # the second conv (filters x filters x 5 x 5) dominates: doubling the filters nearly quadruples the cost
    assert 3.5 < f16 / f8 < 4.0


def _work(**kw) -> Work:
    spec = RunSpec(model=ModelConfig(width=32), train=TrainConfig(batch_size=50, epochs=4, precision="bf16"))
    base = dict(what="t", specs=(spec, dataclasses.replace(spec, seed=1)), n_train=1000, n_val=200, epochs=4)
    return Work(**{**base, **kw})


def test_counts_scale_with_epochs_runs_and_precision():
    one = PL.count(_work(), bf16=True)
    assert one["fp32"] == 0 and one["bf16"] > 0
    assert PL.count(_work(epochs=8), bf16=True)["bf16"] == pytest.approx(2 * one["bf16"], rel=0.05)  # + one eval per epoch
    fp32 = PL.count(_work(), bf16=False)
    assert fp32["fp32"] == one["bf16"] and fp32["bf16"] == 0   # the same work, counted where it runs
    assert one["steps"] == 4 * 1000 // 50                    # two runs share one batched model: one step each


def test_lass_and_adversarial_training_add_fp32_work():
    plain = PL.count(_work(), bf16=True)
    csr = PL.count(_work(lass_points=100, lass_every=2, lass_steps=10), bf16=True)
    assert csr["bf16"] == plain["bf16"] and csr["fp32"] > 0 and csr["steps"] > plain["steps"]
    spec = _work().specs[0]
    adv = dataclasses.replace(spec, train=dataclasses.replace(spec.train, adv_weight=0.5, adv_steps=3))
    with_adv = PL.count(_work(specs=(adv, dataclasses.replace(adv, seed=1))), bf16=True)
    # per example and epoch: (3 + 1) LASS iterations and the adversarial pass, 3 forwards each, vs 3 + 1 (eval)
    assert with_adv["fp32"] > 3 * plain["bf16"]


def test_every_stage_of_dvc_yaml_is_planned():
    params = load_params(ROOT / "params.yaml")
    rows = PL.plan({**params, "profile": "smoke"}, H200)
    assert [r["stage"] for r in rows] == [s.name for s in PL.pipeline()]
    trained = [r for r in rows if r["stage"] not in ("claims", "plan")]
    assert all(r["tflop"] > 0 for r in trained), [r["stage"] for r in trained if not r["tflop"] > 0]


@pytest.mark.slow  # runs the E3 stage in a subprocess
def test_the_planner_counts_the_runs_the_stage_trains(tmp_path):
    """E3's smoke item: the planner's run count = the rows of the stage's own summary table."""
    params = load_params(ROOT / "params.yaml")
    row = next(r for r in PL.plan({**params, "profile": "smoke"}, H200) if r["stage"] == "e3@randY")
    smoke = tmp_path / "params.yaml"
    smoke.write_text((ROOT / "params.yaml").read_text().replace("\nprofile: cpu ", "\nprofile: smoke", 1))
    subprocess.run([sys.executable, "-m", "training.stages.e3_capacity", "--item", "randY", "--params", str(smoke),
                    "--out", str(tmp_path / "e3")], cwd=ROOT, check=True, capture_output=True, timeout=300)
    assert row["runs"] == len(pd.read_csv(tmp_path / "e3" / "summary.csv"))


@pytest.mark.slow  # the planner's CLI in a subprocess (imports torch, counts every stage)
def test_gpu_profile_fits_one_ten_minute_h200_run():
    done = _cli("--profile", "gpu", "--peak-tflops", "790")
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("total: ") and last.endswith(" min")
    assert 1.0 < float(last.split()[1]) <= 10.0, done.stdout
    assert "efficiency 50%" in done.stdout                    # the assumption is printed with the table


@pytest.mark.slow  # plans two whole profiles
def test_paper_profile_costs_far_more_than_the_gpu_one():
    params = load_params(ROOT / "params.yaml")
    total = {p: sum(r["minutes"] for r in PL.plan({**params, "profile": p}, H200)) for p in ("gpu", "paper")}
    assert total["paper"] > 50 * total["gpu"]


@pytest.mark.slow  # the planner's CLI in a subprocess
def test_an_unknown_profile_is_named_with_the_allowed_ones():
    done = _cli("--profile", "huge", "--peak-tflops", "790")
    assert done.returncode != 0
    assert "'huge'" in done.stderr and "'gpu'" in done.stderr and "'paper'" in done.stderr


@pytest.mark.slow  # runs the plan stage twice
def test_plan_stage_writes_the_same_table_twice(tmp_path):
    for out in ("a", "b"):
        assert _cli("--write", str(tmp_path / out)).returncode == 0
    a, b = (pd.read_csv(tmp_path / out / "plan.csv") for out in ("a", "b"))
    pd.testing.assert_frame_equal(a, b)
    assert set(a["profile"]) == {"cpu", "gpu", "paper"} and set(a["device"]) == {"laptop", "h200"}
    gpu = a[(a.profile == "gpu") & (a.device == "h200")]
    assert gpu["minutes"].sum() <= 10.0
