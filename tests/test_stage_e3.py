"""Stage smoke tests of E3 (capacity under noise): each item runs its `main([...])` with the smoke
profile into tmp_path, and the tables, metrics and manifest it writes are checked for shape and sense.
Bad settings must stop the stage before training with a message naming the key."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stagekit import run_stage, smoke_section
from training.stages import e3_capacity as E3

SCORES = ["train_loss", "train_acc", "train_acc_clean", "train_acc_corrupted", "train_acc_true", "val_loss", "val_acc"]


def read(out: Path):
    tables = {name: pd.read_csv(out / f"{name}.csv") for name in ("curves", "summary")}
    manifest = json.loads((out / "manifest.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    return tables, manifest, metrics


def check_manifest(manifest: dict, stage: str, tables: dict):
    assert manifest["stage"] == stage and manifest["profile"] == "smoke" and manifest["device"] == "cpu"
    assert manifest["threads"] == 1 and manifest["seconds"] >= 0 and "mnist10k" in manifest["datasets"]
    assert manifest["tables"] == {name: list(df.columns) for name, df in tables.items()}


def check_scores(curves: pd.DataFrame):
    for col in SCORES:
        values = curves[col].dropna()
        assert len(values), col
        assert values.between(0, 1).all() if "acc" in col else (values >= 0).all(), col


@pytest.mark.parametrize("item", ["randX", "randY"])
def test_e3_smoke_writes_a_run_per_width_noise_and_seed(tmp_path, item):
    cfg = smoke_section("e3", item)
    out = run_stage(E3, tmp_path, item)
    tables, manifest, metrics = read(out)
    curves, summary = tables["curves"], tables["summary"]
    check_manifest(manifest, f"e3.{item}", tables)
    assert manifest["config"]["kind"] == item and manifest["datasets"]["mnist10k"]["n_train"] == cfg["n_train"]

    assert list(curves.columns[:6]) == ["run", "seed", "width", "kind", "p", "epoch"]
    assert set(SCORES) <= set(curves.columns)
    assert list(summary.columns) == ["run", "seed", "width", "kind", "p", "best_val_acc", "best_epoch", "final_epoch",
                                     "final_val_acc", "final_train_acc", "final_train_acc_clean",
                                     "final_train_acc_corrupted"]
    grid = {(w, p, s) for w in cfg["widths"] for p in cfg["noise"] for s in cfg["seeds"]}
    assert set(zip(summary.width, summary.p, summary.seed)) == grid and len(summary) == len(grid)
    assert (summary.kind == item).all() and (curves.kind == item).all()
    epochs = cfg["run"]["train"]["epochs"]
    assert curves.groupby("run").epoch.agg(lambda e: sorted(e) == list(range(epochs + 1))).all()
    check_scores(curves)

    # the summary is the curves' best epoch; clean runs have no corrupted examples, noisy ones have some
    best = curves.loc[curves.groupby("run").val_acc.idxmax()].set_index("run")
    s = summary.set_index("run")
    assert np.allclose(s.best_val_acc, best.val_acc.reindex(s.index), atol=1e-6)
    assert (s.best_epoch <= s.final_epoch).all() and (s.final_epoch == epochs).all()
    assert s[s.p == 0].final_train_acc_corrupted.isna().all()
    assert s[s.p > 0].final_train_acc_corrupted.notna().all()

    assert metrics["kind"] == item and metrics["seconds"] >= 0
    keys = {f"w{w}_p{p:g}" for w in cfg["widths"] for p in cfg["noise"]}
    assert set(metrics["best_val_acc"]) == keys
    w, p = cfg["widths"][-1], cfg["noise"][-1]
    assert math.isclose(metrics["best_val_acc"][f"w{w}_p{p:g}"]["mean"],
                        summary[(summary.width == w) & (summary.p == p)].best_val_acc.mean(), abs_tol=1e-4)
    assert set(metrics["width_needed"]) == {f"p{p:g}" for p in cfg["noise"]}
    assert set(metrics["width_needed"].values()) <= set(cfg["widths"])


def test_e3_headline_width_needed_is_the_smallest_saturated_width():
    rows = [{"run": i, "seed": 0, "width": w, "kind": "randY", "p": p, "best_val_acc": acc}
            for i, (w, p, acc) in enumerate([(4, 0.0, 0.80), (16, 0.0, 0.899), (64, 0.0, 0.90),
                                             (4, 0.8, 0.30), (16, 0.8, 0.50), (64, 0.8, 0.60)])]
    out = E3._headline(pd.DataFrame(rows), tol=0.005)
    assert out["width_needed"] == {"p0": 16, "p0.8": 64}
    assert out["best_val_acc"]["w16_p0.8"] == {"mean": 0.5, "std": 0.0}


@pytest.mark.parametrize("change, key", [
    ({"widths": [4, 0]}, "e3.randX.widths[1]"),
    ({"noise": [0.0, 1.5]}, "e3.randX.noise[1]"),
    ({"kind": "randZ"}, "e3.randX.kind"),
    ({"bogus": 1}, "e3.randX.bogus"),
    ({"run": {"train": {"lr": -1}}}, "e3.randX.run.train.lr"),
])
def test_e3_bad_settings_stop_before_training(tmp_path, monkeypatch, change, key):
    monkeypatch.setattr(E3, "fit_all", lambda *a, **k: pytest.fail("trained despite a bad setting"))
    with pytest.raises(SystemExit) as err:
        run_stage(E3, tmp_path, "randX", **{"e3.randX": change})
    assert key in str(err.value)
    assert not (tmp_path / "out").exists()
