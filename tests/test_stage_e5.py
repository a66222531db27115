"""Stage smoke tests of E5 (partial noise: curves, critical sample ratio, memorization clock, teaser and
checkpoints). Each item runs its `main([...])` in the smoke profile into tmp_path; the tables it writes
are checked for shape and sense, the CSR points for their classes, and the teaser for device hygiene."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from stagekit import run_stage, smoke_section
from training import data as D
from training.stages import e5_partial_noise as E5

TABLES = ("curves", "csr", "summary")


def read(out: Path, names=TABLES):
    return ({n: pd.read_csv(out / f"{n}.csv") for n in names}, json.loads((out / "manifest.json").read_text()),
            json.loads((out / "metrics.json").read_text()))


@pytest.fixture(scope="module")
def mnist_out(tmp_path_factory):
    return run_stage(E5, tmp_path_factory.mktemp("e5"), "mnist10k")


def test_e5_smoke_writes_curves_csr_and_summary_for_every_condition_and_seed(mnist_out):
    cfg = smoke_section("e5", "mnist10k")
    tables, manifest, metrics = read(mnist_out, TABLES + ("clock", "teaser"))
    curves, csr, summary = tables["curves"], tables["csr"], tables["summary"]
    conds = {("none", 0.0)} | {(k, p) for k in ("randX", "randY") for p in cfg["noise"]}
    assert set(map(tuple, summary[["kind", "p"]].drop_duplicates().to_numpy().tolist())) == conds
    assert len(summary) == len(conds) * len(cfg["seeds"]) and summary["run"].is_unique
    epochs = cfg["run"]["train"]["epochs"]
    assert sorted(curves["epoch"].unique()) == list(range(epochs + 1))
    # CSR at epoch 0, every csr_every epochs and at the last epoch, for every run, as a ratio
    want = sorted({0, epochs} | set(range(0, epochs + 1, cfg["csr_every"])))
    assert (csr.groupby("run")["epoch"].apply(sorted) == pd.Series({r: want for r in summary["run"]})).all()
    assert csr["csr"].between(0, 1).all()
    assert np.allclose(summary.set_index("run")["final_csr"],
                       csr[csr.epoch == epochs].set_index("run")["csr"].reindex(summary["run"]))
    assert set(metrics) - {"seconds"} == {f"{k}_p{p:g}" for k, p in conds}
    assert manifest["stage"] == "e5.mnist10k" and manifest["config"]["csr_min_new_share"] == 0.04


def test_e5_clock_follows_clean_and_relabelled_digits(mnist_out):
    cfg = smoke_section("e5", "mnist10k")
    clock = pd.read_csv(mnist_out / "clock.csv")
    per = clock.groupby("example")["relabelled"].first()
    assert len(per) == cfg["clock_examples"] and per.sum() == cfg["clock_examples"] // 2
    assert set(clock["state"]) <= {"given", "true", "neither"}
    relabelled = clock[clock.relabelled]
    assert (relabelled["given_label"] != relabelled["true_label"]).all()
    gallery = np.load(mnist_out / "clock_gallery.npz")
    assert gallery["images"].shape[0] == cfg["clock_examples"] and gallery["images"].dtype == np.uint8


def test_e5_checkpoints_rebuild_the_real_and_random_label_models(mnist_out):
    for name, p in (("model_real", 0.0), ("model_random", 1.0)):
        about = json.loads((mnist_out / f"{name}.json").read_text())
        tensors = load_file(str(mnist_out / f"{name}.safetensors"))
        assert about["p"] == p and about["in_shape"] == [1, 28, 28]
        width = smoke_section("e5", "mnist10k")["run"]["model"]["width"]
        assert tensors["weights.0"].shape == (1, 784, width)
    teaser = pd.read_csv(mnist_out / "teaser.csv")
    assert set(teaser["split"]) == {"train", "val"} and teaser["pred_real"].between(0, 9).all()


def test_e5_searches_csr_points_from_every_class(monkeypatch, tmp_path):
    """The validation split on disk is sorted by class; the CSR points must still span the classes
    (they used to be the split's first csr_points images: one or two classes at the paper's sizes)."""
    seen = {}
    real = E5.critical_sample_ratio

    def spy(model, x, **kw):
        seen.setdefault("x", x)
        return real(model, x, **kw)

    monkeypatch.setattr(E5, "critical_sample_ratio", spy)
    _, val = D.load("mnist10k")
    run_stage(E5, tmp_path, "mnist10k", **{"e5.mnist10k": {"n_val": len(val), "csr_points": 50, "noise": [1.0],
                                                           "seeds": [0], "clock_examples": 0, "checkpoints": False}})
    x = seen["x"]
    # match the searched points back to the validation split to read their labels
    flat = val.x.flatten(1)
    idx = [int(torch.nonzero((flat == xi.flatten()).all(1))[0]) for xi in x]
    labels = val.y[idx]
    assert len(x) == 50 and labels.unique().numel() == 10


def test_e5_teaser_moves_images_to_the_model_and_results_back(monkeypatch):
    """A CUDA run used to die here: CPU images into a CUDA model, .numpy() on CUDA weights. Without a
    GPU the test checks the moves themselves: the images handed to predict sit on the model's device,
    predictions and weights pass through .cpu() before leaving torch, and .numpy() only sees CPU tensors."""
    from training.config import ModelConfig, RunSpec, TrainConfig
    from training.engine import fit, make_train_set

    cfg = E5.Config(**{k: v for k, v in smoke_section("e5", "mnist10k").items() if k != "run"})
    train, val = D.mnist10k()
    train, val = D.stratified_subset(train, 60, 0), D.stratified_subset(val, 20, 0)
    spec = RunSpec(seed=0, model=ModelConfig(width=16), train=TrainConfig(epochs=1, batch_size=20))
    corrs = [D.Corruption("none", 0.0, 0), D.Corruption("randY", 1.0, 0)]
    hist = fit([spec, spec], make_train_set(train, corrs), val)
    labels = [{"kind": "none", "p": 0.0}, {"kind": "randY", "p": 1.0}]

    on_model_device, to_cpu, numpy_devices, moved_to = [], [], [], []
    real_predict, real_cpu, real_numpy, real_to = E5.predict, torch.Tensor.cpu, torch.Tensor.numpy, torch.Tensor.to

    def to(self, *a, **kw):
        target = a[0] if a else kw.get("device")
        if isinstance(target, torch.device) and self.ndim == 4:
            moved_to.append((tuple(self.shape), target))
        return real_to(self, *a, **kw)

    def predict(model, x, k, **kw):
        on_model_device.append(x.device == model.mean.device)
        return real_predict(model, x, k, **kw)

    def cpu(self, *a, **kw):
        to_cpu.append(tuple(self.shape))
        return real_cpu(self, *a, **kw)

    def numpy(self, *a, **kw):
        numpy_devices.append(self.device.type)
        return real_numpy(self, *a, **kw)

    monkeypatch.setattr(E5, "predict", predict)
    monkeypatch.setattr(torch.Tensor, "cpu", cpu)
    monkeypatch.setattr(torch.Tensor, "numpy", numpy)
    monkeypatch.setattr(torch.Tensor, "to", to)
    E5._teaser(cfg, [spec, spec], labels, [(hist, [0, 1])], corrs, train, val, n=4)
    monkeypatch.setattr(torch.Tensor, "to", real_to)
    assert on_model_device == [True, True]
    # the teaser's 8 digits are sent to the model's own device (on a GPU: CUDA) for each model
    assert moved_to.count(((8, 1, 28, 28), hist.model.mean.device)) == 2
    assert (8,) in to_cpu and (4, 784) in to_cpu             # predictions of 8 digits, 4 units' weights
    assert numpy_devices and set(numpy_devices) == {"cpu"}
