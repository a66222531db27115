"""Stage smoke tests of E1 (easy and hard examples) and E2 (loss-sensitivity): each runs its
`main([...])` with the smoke profile into tmp_path; the tables, gallery, metrics and manifest it
writes are checked for shape and sense. Bad settings must stop a stage before any training, with a
message naming the key."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from training import data as D
from stagekit import smoke_params, smoke_section
from training.stages import e1_easy_hard as E1
from training.stages import e2_loss_sensitivity as E2

E1_COLUMNS = {
    "examples": ["dataset", "condition", "example", "label_true", "label_given", "runs", "p_correct", "rank"],
    "binomial": ["dataset", "condition", "seed", "draw", "runs", "p", "p_correct", "rank"],
    "runs": ["dataset", "condition", "run", "seed", "epoch", "train_acc", "val_acc"],
    "summary": ["dataset", "condition", "n", "runs", "mean", "std", "q05", "q25", "median", "q75", "q95",
                "share_never", "share_always", "mean_train_acc", "mean_val_acc"],
}
E2_COLUMNS = {
    "gini": ["panel", "condition", "p", "seed", "step", "gini", "loss"],
    "matrix": ["condition", "seed", "loss_class", "input_class", "value", "share"],
    "examples": ["panel", "condition", "seed", "example", "label", "noise", "g", "rank"],
    "summary": ["panel", "condition", "p", "seeds", "final_step", "gini_mean", "gini_std", "dip_gini", "dip_step",
                "off_diagonal", "off_diagonal_std"],
}


def read(out: Path, names) -> tuple[dict, dict, dict]:
    tables = {name: pd.read_csv(out / f"{name}.csv") for name in names}
    return tables, json.loads((out / "manifest.json").read_text()), json.loads((out / "metrics.json").read_text())


def run_e1(tmp_path: Path, item: str, out_name: str = "out") -> Path:
    out = tmp_path / out_name / item
    try:
        E1.main(["--params", str(smoke_params(tmp_path)), "--item", item, "--out", str(out)])
    except D.DatasetMissing as err:
        pytest.skip(f"{item} is not on this machine (CI unpacks it into data/raw): {err}")
    return out


# ---------------------------------------------------------------------------------------------
# E1


@pytest.mark.parametrize("item", ["mnist10k", "cifar10"])
def test_e1_smoke_writes_p_correct_per_condition_and_example(tmp_path, item):
    cfg = smoke_section("e1")[item]
    out = run_e1(tmp_path, item)
    tables, manifest, metrics = read(out, E1_COLUMNS)
    for name, columns in E1_COLUMNS.items():
        assert list(tables[name].columns) == columns, name
    ex = tables["examples"]
    assert ex.groupby("condition").size().to_dict() == {c: cfg["n_examples"] for c in ("real", "randX", "randY")}
    assert ex["p_correct"].between(0, 1).all() and (ex["runs"] == cfg["runs"]).all()
    hits = ex["p_correct"] * cfg["runs"]                               # P(correct) counts whole runs
    assert np.allclose(hits, hits.round())
    for _, g in ex.groupby("condition"):                               # rank: 0 = hardest, a permutation
        assert sorted(g["rank"]) == list(range(len(g)))
        assert g.sort_values("rank")["p_correct"].is_monotonic_increasing
        assert g["example"].is_unique
    kept = ex[ex["condition"] != "randY"]
    assert (kept["label_given"] == kept["label_true"]).all()
    assert (ex[ex["condition"] == "randY"]["label_given"] != ex[ex["condition"] == "randY"]["label_true"]).any()
    binom = tables["binomial"]
    assert len(binom) == cfg["binomial_draws"] and binom["p_correct"].between(0, 1).all()
    assert binom["p"].iloc[0] == pytest.approx(ex[ex["condition"] == "randX"]["p_correct"].mean(), abs=1e-5)
    runs = tables["runs"]
    assert runs.groupby("condition")["seed"].apply(sorted).map(tuple).to_dict() == \
        {c: tuple(range(cfg["runs"])) for c in ("real", "randX", "randY")}
    assert runs[["train_acc", "val_acc"]].stack().between(0, 1).all() and (runs["epoch"] == 1).all()
    summary = tables["summary"].set_index("condition")
    assert set(summary.index) == {"real", "randX", "randY", "binomial"}
    assert summary[["mean", "q05", "median", "q95", "share_never", "share_always"]].stack().between(0, 1).all()
    assert set(metrics) == {"real", "randX", "randY", "binomial", "seconds"}
    assert metrics["real"]["mean_p_correct"] == pytest.approx(summary.loc["real", "mean"], abs=1e-4)
    with np.load(out / "gallery.npz") as gal:
        n = 2 * cfg["gallery"]
        side = 28 if item == "mnist10k" else 32
        assert gal["images"].dtype == np.uint8 and gal["images"].shape[:3] == (n, side, side)
        assert list(gal["group"]) == ["easy"] * (n // 2) + ["hard"] * (n // 2)
        real = ex[ex["condition"] == "real"].set_index("example")
        assert np.allclose(gal["p_correct"], real.loc[gal["index"], "p_correct"])
        assert gal["p_correct"][: n // 2].min() >= gal["p_correct"][n // 2 :].max()
    assert manifest["stage"] == f"e1.{item}" and manifest["profile"] == "smoke" and manifest["threads"] == 1
    assert manifest["config"]["runs"] == cfg["runs"] and item in manifest["datasets"]
    assert manifest["tables"] == {name: list(df.columns) for name, df in tables.items()}


def test_e1_same_params_same_tables(tmp_path):
    a = pd.read_csv(run_e1(tmp_path, "mnist10k", "a") / "examples.csv")
    b = pd.read_csv(run_e1(tmp_path, "mnist10k", "b") / "examples.csv")
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("change, key", [
    ({"runs": -1}, "e1.mnist10k.runs"),
    ({"bogus": 1}, "e1.mnist10k.bogus"),
    ({"conditions": ["real", "randZ"]}, "e1.mnist10k.conditions[1]"),
    ({"run": {"train": {"epochs": 3}}}, "run.train.epochs"),
    ({"n_examples": 1000}, "n_examples"),
])
def test_e1_rejects_bad_params_before_training(tmp_path, change, key):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as err:
        E1.main(["--params", str(smoke_params(tmp_path, **{"e1.mnist10k": change})), "--item", "mnist10k",
                 "--out", str(out)])
    assert key in str(err.value.code)
    assert not out.exists()                                            # nothing trained, nothing written


# ---------------------------------------------------------------------------------------------
# E2


def test_e2_smoke_writes_gini_matrix_and_sensitivities(tmp_path):
    cfg = smoke_section("e2")
    out = tmp_path / "e2"
    E2.main(["--params", str(smoke_params(tmp_path)), "--out", str(out)])
    tables, manifest, metrics = read(out, E2_COLUMNS)
    for name, columns in E2_COLUMNS.items():
        assert list(tables[name].columns) == columns, name
    gini = tables["gini"]
    steps = E2.checkpoint_steps(E2.Config(**{k: v for k, v in cfg.items() if not isinstance(v, list)}))
    assert sorted(gini["step"].unique()) == steps and steps[-1] == cfg["steps"]
    runs = gini.groupby(["panel", "condition"])["seed"].apply(lambda s: sorted(set(s))).to_dict()
    assert runs == {(panel, cond): cfg["seeds"] for panel in ("labels", "own_class") for cond in
                    (("real", "50% real", "random") if panel == "labels" else ("real", "random"))}
    assert gini["gini"].between(0, 1).all() and (gini["loss"] > 0).all()
    assert set(gini[gini["condition"] == "50% real"]["p"]) == {0.5}
    matrix = tables["matrix"]
    for (cond, seed), m in matrix.groupby(["condition", "seed"]):
        grid = m.pivot(index="loss_class", columns="input_class", values="value")
        assert grid.shape == (10, 10) and (grid.to_numpy() >= 0).all() and grid.to_numpy().sum() > 0
        assert m["share"].sum() == pytest.approx(1.0)
    assert set(matrix["condition"]) == {"real", "random"}
    ex = tables["examples"]
    assert len(ex) == cfg["n_examples"] * len(cfg["seeds"]) * 5 and (ex["g"] >= 0).all()
    noise = ex.groupby(["panel", "condition", "seed"])["noise"].mean()
    assert (noise.xs("real", level="condition") == 0).all() and (noise.xs("random", level="condition") == 1).all()
    assert (noise.xs("50% real", level="condition") == 0.5).all()
    summary = tables["summary"]
    assert len(summary) == 5 and summary["gini_mean"].between(0, 1).all()
    assert summary.dropna(subset=["off_diagonal"])["off_diagonal"].between(0, 1).all()
    assert set(metrics["final_gini"]) == {"labels/real", "labels/50% real", "labels/random", "own_class/real",
                                          "own_class/random"}
    assert set(metrics["off_diagonal"]) == {"real", "random"} and metrics["final_step"] == cfg["steps"]
    assert manifest["stage"] == "e2" and manifest["profile"] == "smoke" and manifest["panel_workers"] == 1
    assert manifest["precision"]["used"] == "fp32"
    assert manifest["checkpoint_steps"] == steps and "mnist10k" in manifest["datasets"]
    assert manifest["tables"] == {name: list(df.columns) for name, df in tables.items()}


def test_e2_panels_in_worker_processes_give_the_same_tables(tmp_path):
    """With two cores E2 trains its two panels in two worker processes; the tables must be those of
    the one-process run (each panel owns its seeds, so where it runs cannot matter)."""
    one, two = tmp_path / "one", tmp_path / "two"
    E2.main(["--params", str(smoke_params(tmp_path / "p1")), "--out", str(one)])
    params = smoke_params(tmp_path / "p2")
    params.write_text(params.read_text().replace("threads: 1", "threads: 2", 1))
    E2.main(["--params", str(params), "--out", str(two)])
    assert json.loads((two / "manifest.json").read_text())["panel_workers"] == 2
    for name in E2_COLUMNS:
        pd.testing.assert_frame_equal(pd.read_csv(one / f"{name}.csv"), pd.read_csv(two / f"{name}.csv"))


@pytest.mark.parametrize("change, key", [
    ({"steps": -1}, "e2.steps"),
    ({"bogus": 1}, "e2.bogus"),
    ({"panels": ["labels", "shuffled"]}, "e2.panels[1]"),
    ({"lr": "fast"}, "e2.lr"),
    ({"first_checkpoint": 500}, "first_checkpoint"),
])
def test_e2_rejects_bad_params_before_training(tmp_path, change, key):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as err:
        E2.main(["--params", str(smoke_params(tmp_path, **{"e2": change})), "--out", str(out)])
    assert key in str(err.value.code)
    assert not out.exists()


def test_batched_loss_sensitivity_equals_one_run_at_a_time():
    """E2 trains every run of a panel as one batched model; each must match the same run alone."""
    from training.sensitivity import loss_sensitivity

    train = D.downscale(D.stratified_subset(D.load("mnist10k")[0], 60, 0), 14)
    mean, std = train.pixel_stats()
    noise, _ = D.rand_inputs(train.x, 1.0, 0, mean, std)
    kw = dict(width=8, depth=2, lr=0.05, batch_size=10, steps=12, window=2, checkpoints=[6, 12], matrix_every=3)
    table, g, matrix = loss_sensitivity(torch.stack([train.x, noise]), train.y, 10, seed=[3, 4], **kw)
    assert g.shape == (2, 60) and matrix.shape == (2, 10, 10) and sorted(table["run"].unique()) == [0, 1]
    for r, (x, seed) in enumerate([(train.x, 3), (noise, 4)]):
        alone, g1, m1 = loss_sensitivity(x, train.y, 10, seed=seed, **kw)
        assert np.allclose(table[table["run"] == r]["gini"], alone["gini"], atol=1e-5)
        assert np.allclose(g[r], g1, rtol=1e-4, atol=1e-12) and np.allclose(matrix[r], m1, rtol=1e-4, atol=1e-12)
