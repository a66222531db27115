"""Stage smoke tests of E6 (regularizers vs memorization): each item runs its `main([...])` with the
smoke profile into tmp_path, and the tables, metrics and manifest it writes are checked for shape and
sense. Bad settings must stop the stage before training with a message naming the key."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from stagekit import SCORES, check_headline, check_manifest, check_scores, check_settings, run_stage, smoke_config, smoke_section
from training.stages.common import SETTINGS
from training.stages import e6_regularizers as E6

def test_each_family_sets_its_own_knob():
    base = smoke_config("e6", "dropout", E6.Config)
    for family, (part, name) in E6.KNOBS.items():
        cfg = dataclasses.replace(base, family=family, strengths=(0.0, 0.25),
                                  dropouts=(0.0,) if family == "dropout" else (0.0, 0.1))
        spec = E6.spec_for(cfg, seed=3, strength=0.25, dropout=0.0 if family == "dropout" else 0.1)
        assert getattr(getattr(spec, part), name) == 0.25 and spec.seed == 3
        if family != "dropout":
            assert spec.model.dropout == 0.1
        assert spec.batch_key() == E6.spec_for(base, 0, 0.0, 0.0).batch_key()  # one batched model per family


def test_frontier_picks_the_best_clean_accuracy_below_each_x():
    rows = []
    same = {"dataset": "mnist10k", "arch": "mlp", "width": 16, "depth": 2, "n_train": 60, "regularizer": "dropout",
            "augment": "none", "dropout": 0.0}
    for strength, rand, val in ((0.0, 0.95, 0.80), (0.3, 0.60, 0.85), (0.6, 0.20, 0.70)):
        for seed in (0, 1):
            rows.append({"run": len(rows), **same, "seed": seed, "strength": strength, "kind": "randY", "p": 1.0,
                         "final_train_acc_batches": rand + 0.01 * seed, "final_train_acc": rand + 0.02,
                         "best_val_acc": 0.1})
            rows.append({"run": len(rows), **same, "seed": seed, "strength": strength, "kind": "none", "p": 0.0,
                         "final_train_acc_batches": 1.0, "final_train_acc": 1.0, "best_val_acc": val})
    frontier = E6._frontier(E6.settings(pd.DataFrame(rows)), 0.1).set_index("x")
    assert frontier.index.min() == pytest.approx(0.3)           # nothing holds random labels below 0.205
    assert frontier.loc[0.3, "strength"] == 0.6 and frontier.loc[0.3, "best_val_acc"] == pytest.approx(0.70)
    assert frontier.loc[0.7, "strength"] == 0.3 and frontier.loc[0.7, "best_val_acc"] == pytest.approx(0.85)
    assert frontier.loc[1.0, "best_val_acc"] == pytest.approx(0.85)  # more memorization allowed never hurts
    assert frontier["best_val_acc"].is_monotonic_increasing
    assert (frontier["random_train_acc"] <= frontier.index + 1e-9).all() and (frontier["seeds"] == 2).all()


@pytest.mark.parametrize("item", ["dropout", "weight_decay", "cifar_dropout", "cifar_adversarial"])
@pytest.mark.slow  # runs the stage
def test_e6_smoke_writes_tidy_tables(tmp_path, item):
    out = run_stage(E6, tmp_path, item)
    section = smoke_section("e6", item)
    tables = {name: pd.read_csv(out / f"{name}.csv") for name in ("curves", "summary", "settings", "frontier")}
    curves, summary, frontier = tables["curves"], tables["summary"], tables["frontier"]
    check_settings(curves, ("dropout", "epoch"))
    check_settings(summary, ("dropout",))
    assert set(SCORES) <= set(curves.columns)
    check_scores(curves)

    epochs = section["run"]["train"]["epochs"]
    n_dropouts = len(section.get("dropouts", [0.0]))
    n_runs = len(section["strengths"]) * n_dropouts * 2 * len(section["seeds"])
    assert curves["run"].nunique() == n_runs and len(curves) == n_runs * (epochs + 1)
    family = E6.Config.from_item(item)["family"]
    assert set(curves["regularizer"]) == {family} and set(zip(curves["kind"], curves["p"])) == {("none", 0), ("randY", 1)}
    assert sorted(curves["strength"].unique()) == sorted(section["strengths"])
    assert set(curves["seed"]) == set(section["seeds"])
    # random labels: every example is relabelled; real labels: none is
    assert curves.loc[curves["p"] == 0, "train_acc_corrupted"].isna().all()
    assert curves.loc[curves["p"] == 1, "train_acc_clean"].isna().all()
    # the strength reaches the runs: same seed and labels, different strength -> different training
    last = curves[curves["epoch"] == epochs].set_index(["seed", "p", "dropout", "strength"])["train_loss"]
    lo, hi = min(section["strengths"]), max(section["strengths"])
    assert not np.allclose(last.xs(lo, level="strength").sort_index(), last.xs(hi, level="strength").sort_index())

    assert len(summary) == n_runs and summary["run"].is_unique
    assert {"final_train_acc", "final_train_acc_batches", "best_val_acc", "fit_epoch"} <= set(summary.columns)
    assert curves.loc[curves["epoch"] == 0, "train_acc_batches"].isna().all()   # nothing trained on before epoch 1
    assert curves.loc[curves["epoch"] > 0, "train_acc_batches"].between(0, 1).all()
    assert summary["final_train_acc"].between(0, 1).all() and summary["best_val_acc"].between(0, 1).all()
    assert (summary["final_epoch"] == epochs).all()

    # the per-setting table: seed means of the summary, one row per (strength, dropout), with its data set
    per = tables["settings"]
    adversarial = family == "adversarial"
    assert list(per.columns[:14]) == [c for c in SETTINGS if c not in ("kind", "p", "seed")] + [
        "dropout", "random_train_acc", "random_train_acc_eval", "real_train_acc", "best_val_acc", "seeds"]
    assert len(per) == len(section["strengths"]) * n_dropouts and set(per["dataset"]) == {section["dataset"]}
    for _, row in per.iterrows():
        runs = summary[(summary["strength"] == row["strength"]) & (summary["dropout"] == row["dropout"])]
        rand, real = runs[runs["p"] == 1], runs[runs["p"] == 0]
        # Figs. 10/11's x: training mode over the last epoch's batches (as Keras logs); eval mode beside it
        assert row["random_train_acc"] == pytest.approx(rand["final_train_acc_batches"].mean(), abs=1e-5)
        assert row["random_train_acc_eval"] == pytest.approx(rand["final_train_acc"].mean(), abs=1e-5)
        assert row["best_val_acc"] == pytest.approx(real["best_val_acc"].mean(), abs=1e-5)
        assert row["seeds"] == len(section["seeds"])
    # adversarial items say how often LASS flipped a training point (the only points with an adversarial loss)
    assert ("adv_flipped" in curves.columns) == adversarial == ("random_adv_flipped" in per.columns)
    if adversarial:
        assert curves.loc[curves["epoch"] > 0, "adv_flipped"].between(0, 1).all()
        assert curves.loc[curves["epoch"] == 0, "adv_flipped"].isna().all()
        assert per["random_adv_flipped"].between(0, 1).all() and (per["random_adv_flipped"] > 0).any()

    assert list(frontier.columns) == ["dataset", "regularizer", "x", "best_val_acc", "strength", "dropout",
                                      "random_train_acc", "seeds"]
    assert len(frontier) and frontier["best_val_acc"].is_monotonic_increasing
    assert (frontier["random_train_acc"] <= frontier["x"] + 1e-9).all()

    metrics = json.loads((out / "metrics.json").read_text())
    check_headline(metrics)
    weakest = per.loc[per["strength"].idxmin()]
    assert metrics["randY"] == pytest.approx(weakest["random_train_acc"], abs=1e-4)
    assert metrics["real"] == pytest.approx(weakest["best_val_acc"], abs=1e-4)
    manifest = check_manifest(out, f"e6.{item}", tables)
    assert manifest["config"]["family"] == family and manifest["config"]["dataset"] == section["dataset"]


@pytest.mark.parametrize("profile", ["cpu", "paper"])
def test_e6_grids_follow_the_paper_and_pair_adversarial_with_dropout(profile):
    """The paper's grids (Figs. 10, 11): adversarial weight 0.2-0.7 with dropout 0.03-0.5, dropout 0-0.9; every
    adversarial item's dropout rates are run by a dropout item on the same data (claim E6b compares them); its
    LASS search is more than a step or two (the paper: LASS with default parameters)."""
    from training.config import load_params, stage_section
    from training.stages.common import stage_config

    params = {**load_params(), "profile": profile}
    cfgs = {item: stage_config(params, "e6", item, E6.Config)[1] for item in stage_section(params, "e6")[1]}
    drops = {c.dataset: set(c.strengths) for c in cfgs.values() if c.family == "dropout"}
    advs = [c for c in cfgs.values() if c.family == "adversarial"]
    assert "cifar10" in {c.dataset for c in advs}, "adversarial + dropout on CIFAR-10, the paper's setting"
    for c in advs:
        assert all(0.2 <= w <= 0.7 for w in c.strengths) and all(0.03 <= d <= 0.5 for d in c.dropouts)
        assert set(c.dropouts) <= drops[c.dataset], (c.dataset, c.dropouts, drops[c.dataset])
        assert c.run.train.adv_steps >= 5
    for rates in drops.values():
        assert 0.0 in rates and max(rates) == pytest.approx(0.9) and all(0 <= r <= 0.9 for r in rates)
    cifar = [c for c in cfgs.values() if c.dataset == "cifar10" and c.family in ("dropout", "adversarial")]
    for c in cifar:  # the paper's CNN and optimiser
        t = c.run.train
        assert c.run.model.arch == "cnn" and c.run.model.crop == 2 and len(c.seeds) >= 2
        assert (t.optimizer, t.lr, t.momentum, t.lr_step, t.lr_gamma) == ("sgd", 0.01, 0.9, 15, 0.5)


@pytest.mark.slow  # runs the stage
def test_e6_same_seed_same_tables(tmp_path):
    a = run_stage(E6, tmp_path / "a", "dropout")
    b = run_stage(E6, tmp_path / "b", "dropout")
    cols = lambda df: df.drop(columns=["seconds"], errors="ignore")  # noqa: E731
    for name in ("curves", "summary", "frontier"):
        pd.testing.assert_frame_equal(cols(pd.read_csv(a / f"{name}.csv")), cols(pd.read_csv(b / f"{name}.csv")))


@pytest.mark.parametrize("item, change, names", [
    ("dropout", {"strengths": [0.0, 1.5]}, ["strengths[1] = 1.5", "'dropout'", "0.0 ≤ value ≤ 0.95"]),
    ("cifar_adversarial", {"strengths": [0.0, 2.0]}, ["strengths[1] = 2.0", "train.adv_weight", "0.0 ≤ value ≤ 1.0"]),
    ("input_noise", {"strengths": [-1.0]}, ["e6.input_noise.strengths[0] = -1.0"]),
    ("dropout", {"dropouts": [0.0, 0.5]}, ["dropouts must be [0.0] for family 'dropout'"]),
    ("dropout", {"family": "mixup"}, ["e6.dropout.family restates the item's name"]),
    ("weight_decay", {"strenghts": [0.1]}, ["unknown key 'e6.weight_decay.strenghts'"]),
])
def test_e6_bad_settings_stop_before_training(tmp_path, item, change, names):
    with pytest.raises(SystemExit) as err:
        run_stage(E6, tmp_path, item, **{f"e6.{item}": change})
    for part in names:
        assert part in str(err.value)
    assert not (tmp_path / "out").exists()


def test_an_items_name_gives_its_regularizer():
    """e6 items are named by the family they sweep (cifar_<family> on CIFAR-10), so params never restates it."""
    assert E6.Config.from_item("input_dropout") == {"family": "input_dropout"}
    assert E6.Config.from_item("cifar_dropout") == {"family": "dropout"}
    assert E6.Config.from_item("cifar_input_dropout") == {"family": "input_dropout"}   # the longest name wins
    with pytest.raises(E6.ConfigError, match="names no regularizer"):
        E6.Config.from_item("mixup")
