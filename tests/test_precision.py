"""The training precision setting: bf16 autocast over fp32 weights, reproducible in either precision,
close to fp32 in accuracy, never touching the measurements that must stay fp32 (LASS/CSR, E2's
loss-sensitivity, the adversarial search), an fp32 fallback that says so, and bad values rejected."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from conftest import scores, spec
from stagekit import smoke_params
from training import data as D
from training import engine as E
from training.metrics import critical_sample_ratio, lass
from training.sensitivity import loss_sensitivity
from training.stages import e3_capacity as E3

NATIVE_BF16 = E.resolve_precision("bf16", "cpu")[0] == "bf16"
needs_bf16 = pytest.mark.skipif(not NATIVE_BF16, reason="this CPU has no native bf16 (avx512_bf16/amx_bf16)")


def fit(specs, train, val, corruptions=None, **kw):
    corruptions = corruptions or [D.Corruption()] * len(specs)
    return E.fit(specs, E.make_train_set(train, corruptions), val, **kw)


@pytest.mark.parametrize("precision", ["fp32", pytest.param("bf16", marks=needs_bf16)])
def test_same_seed_twice_gives_identical_tables(small, precision):
    train, val = small
    s = spec(3, {"dropout": 0.2}, precision=precision, epochs=3)
    t = spec(4, precision=precision, epochs=3)
    a = fit([s, t], train, val, [D.Corruption("randY", 0.3, 1)] * 2)
    b = fit([s, t], train, val, [D.Corruption("randY", 0.3, 1)] * 2)
    assert a.precision == b.precision == precision
    pd.testing.assert_frame_equal(scores(a.frame), scores(b.frame))


@needs_bf16
def test_bf16_runs_in_bf16_but_keeps_fp32_weights(small):
    """The forward really is bf16 (a bf16 run differs from the fp32 one), while the weights and the
    optimiser state the run leaves behind are fp32."""
    train, val = small
    a = fit([spec(0, precision="fp32")], train, val)
    b = fit([spec(0, precision="bf16")], train, val)
    assert a.precision == "fp32" and b.precision == "bf16"
    assert not scores(a.frame).equals(scores(b.frame))
    assert all(p.dtype == torch.float32 for p in b.model.parameters())


@needs_bf16
@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.slow  # trains to compare accuracies
def test_bf16_reaches_the_fp32_accuracy(mnist, arch):
    """On 1,000 real digits and 3 seeds, bf16 training ends within 0.02 of fp32's mean clean validation
    accuracy (the spread over seeds is about 0.01 here)."""
    train = D.stratified_subset(mnist[0], 1000, 0)
    val = D.stratified_subset(mnist[1], 500, 0)
    model = {"width": 128} if arch == "mlp" else {"arch": "cnn", "filters": 8, "dense": (32, 16), "crop": 0}
    acc = {}
    for precision in ("fp32", "bf16"):
        specs = [spec(s, model, precision=precision, epochs=4, lr=0.02) for s in range(3)]
        hist = fit(specs, train, val)
        acc[precision] = hist.frame[hist.frame.epoch == 4]["val_acc"].mean()
    assert acc["fp32"] > 0.8
    assert abs(acc["bf16"] - acc["fp32"]) <= 0.02, acc


def _trained(small):
    train, val = small
    return fit([spec(0), spec(1)], train, val).model, val


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_lass_and_csr_are_fp32_inside_a_bf16_autocast_region(small, arch):
    train, val = small
    model = {} if arch == "mlp" else {"arch": "cnn", "filters": 4, "dense": (16, 8), "crop": 0}
    net = fit([spec(0, model), spec(1, model)], train, val).model
    x = val.x[:40]

    def both():
        found = critical_sample_ratio(net, x, seed=5, batch=16, steps=20, min_new=2, full=True)
        adv, flipped = lass(net, x.unsqueeze(0).expand(2, *x.shape).contiguous(),
                            gens=[torch.Generator().manual_seed(i) for i in (7, 8)], steps=10)
        return found.critical, found.critical_all, found.stop, adv, flipped

    plain = both()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = both()
    for a, b in zip(plain, under):
        assert a.dtype == b.dtype and torch.equal(a, b)
    assert plain[3].dtype == torch.float32


def test_loss_sensitivity_is_fp32_inside_a_bf16_autocast_region(mnist):
    train = D.downscale(D.stratified_subset(mnist[0], 40, 0), 14)
    kw = dict(width=8, depth=2, lr=0.05, batch_size=10, steps=8, window=2, checkpoints=[4, 8], matrix_every=2,
              seed=[0, 1])
    table, g, matrix = loss_sensitivity(torch.stack([train.x, train.x]), train.y, 10, **kw)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        table2, g2, matrix2 = loss_sensitivity(torch.stack([train.x, train.x]), train.y, 10, **kw)
    pd.testing.assert_frame_equal(table, table2)
    assert (g == g2).all() and (matrix == matrix2).all()


def test_adversarial_training_searches_in_fp32(small, monkeypatch):
    """In a bf16 run the LASS search inside the training step sees fp32 inputs, with autocast off."""
    train, val = small
    seen = []
    real = E.lass

    def spy(model, x, **kw):
        seen.append((x.dtype, torch.is_autocast_enabled("cpu")))
        return real(model, x, **kw)

    monkeypatch.setattr(E, "lass", spy)
    fit([spec(0, adv_weight=0.5, adv_steps=2, precision="bf16", epochs=1)], train, val)
    assert seen and all(dtype == torch.float32 for dtype, _ in seen)
    monkeypatch.setattr(E, "lass", real)
    # and inside lass itself autocast is off whatever the caller had on
    inside = []
    net = _trained(small)[0]
    orig = net.forward

    def forward(x):
        inside.append(torch.is_autocast_enabled("cpu"))
        return orig(x)

    net.forward = forward
    with torch.autocast("cpu", dtype=torch.bfloat16):
        lass(net, val.x[:8].unsqueeze(0).expand(2, 8, 1, 28, 28).contiguous(),
             gens=[torch.Generator().manual_seed(0)] * 2, steps=2)
    assert inside and not any(inside)


@pytest.mark.slow  # runs the E3 stage
def test_without_native_bf16_the_run_falls_back_to_fp32_and_says_so(small, tmp_path, monkeypatch):
    monkeypatch.setattr(E, "_cpu_has_native_bf16", lambda: False)
    used, why = E.resolve_precision("bf16", "cpu")
    assert used == "fp32" and "bf16" in why
    train, val = small
    assert fit([spec(0, precision="bf16", epochs=1)], train, val).precision == "fp32"
    out = tmp_path / "out"
    E3.main(["--params", str(smoke_params(tmp_path)), "--item", "randY", "--out", str(out)])
    precision = json.loads((out / "manifest.json").read_text())["precision"]
    assert precision["asked"] == "bf16" and precision["used"] == "fp32" and "native bf16" in precision["note"]


@pytest.mark.parametrize("line, key", [("precision: fp16", "precision = 'fp16'"),
                                       ("precision: 16", "precision = 16"),
                                       ("threads: -1", "threads = -1")])
def test_bad_global_precision_or_threads_stop_the_stage_naming_the_key(tmp_path, line, key):
    params = smoke_params(tmp_path)
    name = line.split(":")[0]
    text = "\n".join(line if row.startswith(f"{name}:") else row for row in params.read_text().splitlines())
    params.write_text(text)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as err:
        E3.main(["--params", str(params), "--item", "randY", "--out", str(out)])
    assert key in str(err.value.code) and "allowed" in str(err.value.code)
    assert not out.exists()


@pytest.mark.slow  # runs the E3 stage
def test_a_stage_may_set_its_own_precision(tmp_path):
    params = smoke_params(tmp_path, **{"e3.randY": {"run": {"train": {"epochs": 1, "precision": "fp32"}}}})
    out = tmp_path / "out"
    E3.main(["--params", str(params), "--item", "randY", "--out", str(out)])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["precision"] == {"asked": "fp32", "used": "fp32"}
    assert manifest["config"]["run"]["train"]["precision"] == "fp32"
    bad = smoke_params(tmp_path / "bad", **{"e3.randY": {"run": {"train": {"precision": "half"}}}})
    with pytest.raises(SystemExit) as err:
        E3.main(["--params", str(bad), "--item", "randY", "--out", str(tmp_path / "bad_out")])
    assert "e3.randY.run.train.precision = 'half'" in str(err.value.code)
