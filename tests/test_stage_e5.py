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

from stagekit import check_headline, check_settings, run_stage, smoke_config, smoke_section
from training import data as D
from training.stages import e5_partial_noise as E5

TABLES = ("curves", "csr", "summary")


def read(out: Path, names=TABLES):
    return ({n: pd.read_csv(out / f"{n}.csv") for n in names}, json.loads((out / "manifest.json").read_text()),
            json.loads((out / "metrics.json").read_text()))


@pytest.fixture(scope="module")
def mnist_out(tmp_path_factory):
    return run_stage(E5, tmp_path_factory.mktemp("e5"), "mnist")


@pytest.mark.slow  # runs the stage
def test_e5_smoke_writes_curves_csr_and_summary_for_every_condition_and_seed(mnist_out):
    cfg = smoke_section("e5", "mnist")
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
    final = csr[csr.epoch == epochs]                                 # the final search ran every iteration too
    assert final["csr_all"].notna().all() and (final["csr_all"] >= final["csr"]).all()
    assert csr[csr.epoch < epochs]["csr_all"].isna().all() and csr["lass_stop"].between(1, cfg["csr_steps"]).all()
    assert [s["full"] for s in manifest["lass_searches"]][-1] and all(s["iterations"] <= cfg["csr_steps"]
                                                                       for s in manifest["lass_searches"])
    assert np.allclose(summary.set_index("run")["final_csr"],
                       csr[csr.epoch == epochs].set_index("run")["csr"].reindex(summary["run"]))
    check_settings(curves, ("epoch",))
    check_settings(csr, ("epoch", "csr"))
    check_settings(summary)
    check_headline(metrics)
    mean = summary.groupby(["kind", "p"])[["best_val_acc", "final_val_acc", "final_csr"]].mean()
    top = max(p for p in cfg["noise"] if p < 1)
    assert metrics["real"] == pytest.approx(mean.at[("none", 0.0), "best_val_acc"], abs=1e-4)
    assert metrics["randY"] == pytest.approx(mean.at[("randY", top), "final_val_acc"], abs=1e-4)
    assert metrics["csr"] == pytest.approx(mean.at[("randY", 1.0), "final_csr"], abs=1e-4)
    assert manifest["stage"] == "e5.mnist" and manifest["config"]["csr_min_new"] == 2
    assert manifest["config"]["csr_radius"] == cfg["csr_radius"] == 0.3      # LASS's box comes from params.yaml


@pytest.mark.slow  # runs the stage
def test_e5_clock_follows_clean_and_relabelled_digits(mnist_out):
    cfg = smoke_section("e5", "mnist")
    clock = pd.read_csv(mnist_out / "clock.csv")
    per = clock.groupby("example")["relabelled"].first()
    assert len(per) == cfg["clock_examples"] and per.sum() == cfg["clock_examples"] // 2
    assert set(clock["state"]) <= {"given", "true", "neither"}
    relabelled = clock[clock.relabelled]
    assert (relabelled["given_label"] != relabelled["true_label"]).all()
    gallery = np.load(mnist_out / "clock_gallery.npz")
    assert gallery["images"].shape[0] == cfg["clock_examples"] and gallery["images"].dtype == np.uint8


@pytest.mark.slow  # runs the stage
def test_e5_checkpoints_rebuild_the_real_and_random_label_models(mnist_out):
    for name, p in (("model_real", 0.0), ("model_random", 1.0)):
        about = json.loads((mnist_out / f"{name}.json").read_text())
        tensors = load_file(str(mnist_out / f"{name}.safetensors"))
        assert about["p"] == p and about["in_shape"] == [1, 28, 28]
        width = smoke_section("e5", "mnist")["run"]["model"]["width"]
        assert tensors["weights.0"].shape == (1, 784, width)
    teaser = pd.read_csv(mnist_out / "teaser.csv")
    assert set(teaser["split"]) == {"train", "val"} and teaser["pred_real"].between(0, 9).all()


@pytest.mark.slow  # runs the stage
def test_e5_clock_states_follow_each_prediction_and_epoch(mnist_out):
    """_clock: one row per followed example and epoch (0 to the last), its state read off its prediction:
    'given' when the prediction is the label it was trained on, 'true' when it is the real digit the label
    hides (only possible for relabelled rows), 'neither' otherwise; the gallery shows those digits."""
    cfg = smoke_section("e5", "mnist")
    clock = pd.read_csv(mnist_out / "clock.csv")
    epochs = cfg["run"]["train"]["epochs"]
    assert all(sorted(e) == list(range(epochs + 1)) for _, e in clock.groupby("example")["epoch"])
    want = np.where(clock["pred"] == clock["given_label"], "given",
                    np.where(clock["pred"] == clock["true_label"], "true", "neither"))
    assert (clock["state"].to_numpy() == want).all()
    clean = clock[~clock.relabelled]
    assert (clean["given_label"] == clean["true_label"]).all() and not (clean["state"] == "true").any()
    assert clock.groupby("example")[["true_label", "given_label", "relabelled"]].nunique().eq(1).all().all()
    with np.load(mnist_out / "clock_gallery.npz") as gallery:
        per = clock.groupby("example")[["true_label", "given_label"]].first()
        assert sorted(gallery["index"].tolist()) == sorted(per.index.tolist())
        assert (per.loc[gallery["index"], "true_label"].to_numpy() == gallery["label"]).all()
        assert (per.loc[gallery["index"], "given_label"].to_numpy() == gallery["given"]).all()


@pytest.mark.slow  # runs the stage
def test_e5_checkpoints_reload_and_predict_the_teaser(mnist_out):
    """_checkpoints + _teaser: each checkpoint, rebuilt from its own JSON run_spec and loaded strictly,
    predicts on the teaser's digits exactly the teaser's pred_real / pred_random column; the random-label
    model was taught labels that differ from the true ones."""
    from training.config import RunSpec, parse
    from training.engine import predict
    from training.models import build

    teaser = pd.read_csv(mnist_out / "teaser.csv")
    with np.load(mnist_out / "teaser_gallery.npz") as g:
        images, index, label = g["images"], g["index"], g["label"]
    assert list(index) == teaser["example"].tolist() and list(label) == teaser["true_label"].tolist()
    x = torch.from_numpy(images).float().div(255).unsqueeze(1)           # the data set's own scaling: raw / 255
    train = teaser[teaser.split == "train"]
    assert (teaser.loc[teaser.split == "val", "random_label"] == -1).all()
    assert (train["random_label"] != train["true_label"]).any()
    for name, column in (("model_real", "pred_real"), ("model_random", "pred_random")):
        about = json.loads((mnist_out / f"{name}.json").read_text())
        spec = parse(RunSpec, about["run_spec"], name)
        model = build([spec.model], about["in_shape"], about["n_classes"], torch.zeros(1), torch.ones(1),
                      [spec.seed])
        model.load_state_dict(load_file(str(mnist_out / f"{name}.safetensors")))
        pred = predict(model, x, 1)[0].argmax(-1)
        assert pred.tolist() == teaser[column].tolist(), name


@pytest.mark.slow  # runs the stage
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
    run_stage(E5, tmp_path, "mnist", **{"e5.mnist": {"n_val": len(val), "csr_points": 50, "noise": [1.0],
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

    cfg = smoke_config("e5", "mnist", E5.Config, seeds=(0,))
    train, val = D.mnist10k()
    train, val = D.stratified_subset(train, 60, 0), D.stratified_subset(val, 20, 0)
    spec = RunSpec(seed=0, model=ModelConfig(width=16), train=TrainConfig(epochs=1, batch_size=20))
    corrs = [D.Corruption("none", 0.0, 0), D.Corruption("randY", 1.0, 0)]
    hist = fit([spec, spec], make_train_set(train, corrs), val)

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
    E5._teaser(cfg, [spec, spec], [(hist, [0, 1])], corrs, train, val, n=4)
    monkeypatch.setattr(torch.Tensor, "to", real_to)
    assert on_model_device == [True, True]
    # the teaser's 8 digits are sent to the model's own device (on a GPU: CUDA) for each model
    assert moved_to.count(((8, 1, 28, 28), hist.model.mean.device)) == 2
    assert (8,) in to_cpu and (4, 784) in to_cpu             # predictions of 8 digits, 4 units' weights
    assert numpy_devices and set(numpy_devices) == {"cpu"}
