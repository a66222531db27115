"""Stage smoke tests of E4 (time to convergence): each item runs its `main([...])` with the smoke
profile into tmp_path, and the tables, metrics and manifest it writes are checked for shape and sense.
Bad settings must stop the stage before training with a message naming the key."""
from __future__ import annotations


import numpy as np
import pytest

from stagekit import check_headline, check_manifest, check_scores, check_settings, read_outputs, run_stage, smoke_section
from training.stages import e4_convergence as E4

def test_fit_watch_stops_a_batch_only_when_every_run_fits():
    watch = E4.FitWatch(1.0)
    watch.on_epoch({"epoch": 0, "rows": [{"run": 0, "train_acc": 0.1}, {"run": 1, "train_acc": 0.1}]})
    assert not watch.stop()
    watch.on_epoch({"epoch": 1, "rows": [{"run": 0, "train_acc": 1.0}, {"run": 1, "train_acc": 0.9}]})
    assert not watch.stop()
    watch.on_epoch({"epoch": 2, "rows": [{"run": 0, "train_acc": 0.99}, {"run": 1, "train_acc": 1.0}]})
    assert watch.stop()  # run 0 fitted at epoch 1 and stays fitted
    watch.on_epoch({"epoch": 0, "rows": [{"run": 0, "train_acc": 0.1}]})  # the next batch starts afresh
    assert not watch.stop()


@pytest.mark.parametrize("item, column", [("width", "width"), ("size", "n_train")])
@pytest.mark.slow  # runs the stage
def test_e4_smoke_times_and_normalises(tmp_path, item, column):
    cfg = smoke_section("e4", item)
    out = run_stage(E4, tmp_path, item)
    tables, manifest, metrics = read_outputs(out, ("curves", "summary"))
    curves, summary = tables["curves"], tables["summary"]
    check_manifest(out, f"e4.{item}", tables)
    assert "mnist10k" in manifest["datasets"]
    assert manifest["datasets"]["mnist10k"]["sizes"] == sorted(cfg["sizes"])

    check_settings(curves, ("epoch",))
    check_settings(summary, ("fit_epoch", "fitted", "epochs_run", "final_train_acc", "ref_fit_epoch", "normalised",
                             "normalised_by"))
    conditions = [("none", 0.0)] + [(k, p) for k in cfg["kinds"] for p in cfg["noise"] if p > 0]
    grid = {(w, n, k, p, s) for w in cfg["widths"] for n in cfg["sizes"] for k, p in conditions for s in cfg["seeds"]}
    assert set(zip(summary.width, summary.n_train, summary.kind, summary.p, summary.seed)) == grid
    check_scores(curves)

    # fit_epoch is the first epoch at 100 % training accuracy; a batch stops once all its runs fit
    assert (summary.fitted == summary.fit_epoch.notna()).all()
    assert summary.fitted.any(), "the smoke sets are small enough to fit"
    for _, r in summary.iterrows():
        acc = curves[curves.run == r.run].set_index("epoch").train_acc
        assert acc.index.max() == r.epochs_run <= cfg["max_epochs"]
        if r.fitted:
            assert acc[r.fit_epoch] == 1.0 and (acc[acc.index < r.fit_epoch] < 1.0).all()
        else:
            assert (acc < 1.0).all() and r.epochs_run == cfg["max_epochs"]
    for _, g in summary.groupby(["width", "n_train", "kind", "p"]):
        if g.fitted.all():
            assert (g.epochs_run == g.fit_epoch.max()).all()

    # normalised by the smallest value of the axis at the same condition
    ref = min(cfg["widths"] if item == "width" else cfg["sizes"])
    assert (summary.normalised_by == f"{column}={ref}").all()
    expect = summary.fit_epoch / summary.groupby(["kind", "p"]).fit_epoch.transform(
        lambda s: s[summary.loc[s.index, column] == ref].mean(skipna=False))
    assert np.allclose(summary.normalised, expect, equal_nan=True)
    at_ref = summary[summary[column] == ref].groupby(["kind", "p"]).normalised.mean()
    assert np.allclose(at_ref.dropna(), 1.0)

    check_headline(metrics)
    largest = summary[summary[column] == summary[column].max()]
    for key, (kind, p) in (("real", ("none", 0.0)), ("randY", ("randY", 1.0))):
        mean = largest[(largest.kind == kind) & (largest.p == p)].normalised.mean(skipna=False)
        assert (metrics[key] is None) if np.isnan(mean) else metrics[key] == pytest.approx(mean, abs=1e-3)


@pytest.mark.slow  # runs the stage
def test_e4_runs_that_never_fit_are_nan_and_flagged(tmp_path):
    out = run_stage(E4, tmp_path, "size", **{"e4.size": {"max_epochs": 1}})
    (tables, _, metrics) = read_outputs(out, ("curves", "summary"))
    summary = tables["summary"]
    assert not summary.fitted.any() and summary.fit_epoch.isna().all() and summary.normalised.isna().all()
    assert (summary.epochs_run == 1).all()
    assert all(v is None for k, v in metrics.items() if k != "secs")


@pytest.mark.parametrize("change, key", [
    ({"widths": [0]}, "e4.width.widths[0]"),
    ({"noise": [0.0, 1.5]}, "e4.width.noise[1]"),
    ({"axis": "depth"}, "e4.width.axis restates the item's name"),
    ({"max_epochs": 0}, "e4.width.max_epochs"),
    ({"target": 1.2}, "e4.width.target"),
    ({"typo_epochs": 3}, "e4.width.typo_epochs"),
])
def test_e4_bad_settings_stop_before_training(tmp_path, monkeypatch, change, key):
    monkeypatch.setattr(E4, "fit_all", lambda *a, **k: pytest.fail("trained despite a bad setting"))
    with pytest.raises(SystemExit) as err:
        run_stage(E4, tmp_path, "width", **{"e4.width": change})
    assert key in str(err.value)
    assert not (tmp_path / "out").exists()


def test_e4_a_size_beyond_the_data_set_is_refused_before_training(tmp_path, monkeypatch):
    monkeypatch.setattr(E4, "fit_all", lambda *a, **k: pytest.fail("trained despite a bad setting"))
    with pytest.raises(ValueError, match="e4 sizes: 9000 .* mnist10k has 8000"):
        run_stage(E4, tmp_path, "size", **{"e4.size": {"sizes": [100, 9000]}})
