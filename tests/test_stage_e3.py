"""Stage smoke tests of E3 (capacity under noise): each item runs its `main([...])` with the smoke
profile into tmp_path, and the tables, metrics and manifest it writes are checked for shape and sense.
Bad settings must stop the stage before training with a message naming the key."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from stagekit import SCORES, check_headline, check_manifest, check_scores, check_settings, read_outputs, run_stage, smoke_section
from training.stages import e3_capacity as E3

@pytest.mark.parametrize("item", ["randX", "randY"])
@pytest.mark.slow  # runs the stage
def test_e3_smoke_writes_a_run_per_width_noise_and_seed(tmp_path, item):
    cfg = smoke_section("e3", item)
    out = run_stage(E3, tmp_path, item)
    tables, manifest, metrics = read_outputs(out, ("curves", "summary", "widths"))
    curves, summary = tables["curves"], tables["summary"]
    check_manifest(out, f"e3.{item}", tables)
    assert "mnist10k" in manifest["datasets"]
    assert manifest["config"]["kind"] == item and manifest["datasets"]["mnist10k"]["n_train"] == cfg["n_train"]

    check_settings(curves, ("epoch",))
    assert set(SCORES) <= set(curves.columns)
    check_settings(summary, ("final_epoch", "final_train_acc", "final_train_acc_clean", "final_train_acc_corrupted",
                             "final_val_acc", "final_train_acc_batches", "best_epoch", "best_val_acc", "fit_epoch"))
    grid = {(w, p, s) for w in cfg["widths"] for p in cfg["noise"] for s in cfg["seeds"]}
    assert set(zip(summary.width, summary.p, summary.seed)) == grid and len(summary) == len(grid)
    assert set(summary.kind) == {item, "none"} and (curves.kind == np.where(curves.p > 0, item, "none")).all()
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

    check_headline(metrics)
    w, p = cfg["widths"][-1], cfg["noise"][-1]
    assert math.isclose(metrics[item], summary[(summary.width == w) & (summary.p == p)].best_val_acc.mean(), abs_tol=1e-4)
    widths = tables["widths"]
    assert set(zip(widths.width, widths.p)) == {(w, p) for w in cfg["widths"] for p in cfg["noise"]}
    assert (widths.seeds == len(cfg["seeds"])).all() and widths.groupby("p").saturated.any().all()


def test_e3_widths_table_and_headline_on_known_numbers():
    """Fig. 5's table: mean best val acc per width and p, saturated = within tol of that p's best width;
    the headline reads the widest net (clean, top noise) and its gain over the middle width."""
    rows = [{"run": i, "seed": 0, "width": w, "kind": "randY" if p else "none", "p": p, "best_val_acc": acc}
            for i, (w, p, acc) in enumerate([(4, 0.0, 0.80), (16, 0.0, 0.899), (64, 0.0, 0.90),
                                             (4, 0.8, 0.30), (16, 0.8, 0.50), (64, 0.8, 0.60)])]
    widths = E3._widths(pd.DataFrame(rows), tol=0.005).set_index(["p", "width"])
    assert widths["saturated"].to_dict() == {(0.0, 4): False, (0.0, 16): True, (0.0, 64): True,
                                             (0.8, 4): False, (0.8, 16): False, (0.8, 64): True}
    assert E3.headline(pd.DataFrame(rows), "randY") == pytest.approx({"real": 0.90, "randY": 0.60, "gap": 0.10})


@pytest.mark.parametrize("change, key", [
    ({"widths": [4, 0]}, "e3.randX.widths[1]"),
    ({"noise": [0.0, 1.5]}, "e3.randX.noise[1]"),
    ({"kind": "randZ"}, "e3.randX.kind restates the item's name"),
    ({"bogus": 1}, "e3.randX.bogus"),
    ({"run": {"train": {"lr": -1}}}, "e3.randX.run.train.lr"),
])
def test_e3_bad_settings_stop_before_training(tmp_path, monkeypatch, change, key):
    monkeypatch.setattr(E3, "fit_all", lambda *a, **k: pytest.fail("trained despite a bad setting"))
    with pytest.raises(SystemExit) as err:
        run_stage(E3, tmp_path, "randX", **{"e3.randX": change})
    assert key in str(err.value)
    assert not (tmp_path / "out").exists()
