"""Stage smoke tests of the augmentation stage (`augment`): each item runs its `main([...])` with the
smoke profile into tmp_path, and the tables, gallery, metrics and manifest it writes are checked for
shape and sense. Bad settings must stop the stage before training with a message naming the key."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training import data as D
from stagekit import check_headline, check_manifest, check_scores, check_settings, run_stage, smoke_config, smoke_section
from training.stages import augment as A

def check_augment(out: Path, item: str, channels: int):
    section = smoke_section("augment", item)
    tables = {name: pd.read_csv(out / f"{name}.csv") for name in ("curves", "summary")}
    curves, summary = tables["curves"], tables["summary"]
    check_settings(curves, ("epoch",))
    check_settings(summary)
    check_scores(curves)
    cfg = smoke_config("augment", item, A.Config)
    setups = A.setups(cfg)
    n_runs = len(setups) * len(section["noise"]) * len(section["seeds"])
    assert curves["run"].nunique() == n_runs == len(summary)
    assert set(zip(curves["augment"], curves["strength"])) == set(setups)
    assert set(zip(curves["p"], curves["kind"])) == {(p, "randY" if p else "none") for p in section["noise"]}
    assert set(curves["regularizer"]) == {"none"} and set(curves["dataset"]) == {section["dataset"]}
    assert curves.loc[curves["p"] == 0, "train_acc_corrupted"].isna().all()
    assert curves.loc[curves["p"] > 0, "train_acc_corrupted"].between(0, 1).all()

    assert {"final_train_acc", "final_train_acc_corrupted", "best_val_acc", "fit_epoch"} <= set(summary.columns)
    assert summary["best_val_acc"].between(0, 1).all()
    assert (summary["final_epoch"] == section["run"]["train"]["epochs"]).all()

    with np.load(out / "augment_gallery.npz") as g:
        n, draws = section["gallery_images"], section["gallery_draws"]
        side = g["images"].shape[1]
        assert g["images"].dtype == np.uint8 and len(g["images"]) == n == len(g["label"]) == len(g["index"])
        assert g["augmented"].shape[:3] == (len(setups) - 1, draws, n) and g["augmented"].dtype == np.uint8
        assert g["augmented"].shape[3:] == g["images"].shape[1:] and g["images"].shape[1:3] == (side, side)
        assert (g["images"].ndim == 4) == (channels == 3)
        assert list(zip(g["augment"], g["strength"].tolist())) == [(a, pytest.approx(s)) for a, s in setups[1:]]
        for i in range(len(setups) - 1):                          # every augmentation changes the pixels
            assert (g["augmented"][i, 0] != g["images"]).any()

    metrics = json.loads((out / "metrics.json").read_text())
    check_headline(metrics)
    none_random = summary[(summary["augment"] == "none") & (summary["p"] == 1.0)]["final_train_acc"].mean()
    assert metrics["randY"] == pytest.approx(none_random, abs=1e-4) and -1 <= metrics["gap"] <= 1
    check_manifest(out, f"augment.{item}", tables)


@pytest.mark.slow  # runs the stage
def test_augment_mnist_smoke(tmp_path):
    check_augment(run_stage(A, tmp_path, "mnist"), "mnist", channels=1)


@pytest.mark.slow  # runs the stage
def test_augment_cifar_smoke(tmp_path):
    out = run_stage(A, tmp_path, "cifar10")  # the shipped CIFAR-10 sample: no data/raw needed
    check_augment(out, "cifar10", channels=3)
    source = json.loads((out / "manifest.json").read_text())["datasets"]["cifar10s"]["source"]
    assert source == str(D.CIFAR10S.relative_to(D.ROOT))


@pytest.mark.parametrize("change, names", [
    ({"augments": {"colour": [0.3]}}, ["augments.colour needs colour images", "'mnist10k'"]),
    ({"augments": {"rotation": [200.0]}}, ["augment.mnist.augments.rotation[0] = 200.0", "0.0 ≤ value ≤ 180.0"]),
    ({"noise": [0.0, 1.5]}, ["augment.mnist.noise[1] = 1.5"]),
    ({"run": {"train": {"augment": {"rotation": 10.0}}}}, ["run.train.augment must stay empty"]),
])
def test_augment_bad_settings_stop_before_training(tmp_path, change, names):
    with pytest.raises(SystemExit) as err:
        run_stage(A, tmp_path, "mnist", **{"augment.mnist": change})
    for part in names:
        assert part in str(err.value)
    assert not (tmp_path / "out").exists()
