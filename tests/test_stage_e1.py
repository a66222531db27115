"""Stage smoke tests of E1 (easy and hard examples): it runs its `main([...])` with the smoke profile
into tmp_path; the tables, gallery, metrics and manifest it writes are checked for shape and sense.
Bad settings must stop the stage before any training, with a message naming the key."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stagekit import check_headline, smoke_params, smoke_section
from training.stages.common import SETTINGS
from training.stages import e1_easy_hard as E1

E1_COLUMNS = {
    "examples": ["dataset", "condition", "example", "label_true", "label_given", "runs", "p_correct", "rank"],
    "binomial": ["dataset", "condition", "seed", "draw", "runs", "p", "p_correct", "rank"],
    "runs": ["run", *SETTINGS, "condition", "epoch", "train_acc", "val_acc"],
    "summary": [*SETTINGS[:-1], "condition", "seeds", "n", "mean", "std", "q05", "q25", "median", "q75", "q95", "q99",
                "share_never", "share_always", "binomial_gap", "binomial_gap_class", "mean_train_acc", "mean_val_acc"],
}


def read(out: Path, names) -> tuple[dict, dict, dict]:
    tables = {name: pd.read_csv(out / f"{name}.csv") for name in names}
    return tables, json.loads((out / "manifest.json").read_text()), json.loads((out / "metrics.json").read_text())


def run_e1(tmp_path: Path, item: str, out_name: str = "out") -> Path:
    out = tmp_path / out_name / item  # the smoke profile's items run on the shipped samples (mnist10k, cifar10s)
    E1.main(["--params", str(smoke_params(tmp_path)), "--item", item, "--out", str(out)])
    return out


@pytest.mark.parametrize("item", ["mnist", "cifar10"])
@pytest.mark.slow  # runs the stage
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
    assert summary.loc[["real", "randX", "randY"], "kind"].tolist() == ["none", "randX", "randY"]
    assert summary.loc["binomial", "kind"] == "randX" and summary["n_train"].eq(cfg["n_train"]).all()
    q = np.linspace(0, 1, 101)                                         # randX's largest gap to the binomial curve
    gap = np.abs(np.quantile(ex[ex["condition"] == "randX"]["p_correct"], q) - np.quantile(binom["p_correct"], q)).max()
    assert summary.loc["randX", "binomial_gap"] == pytest.approx(gap) and summary["binomial_gap"].notna().sum() == 1
    check_headline(metrics)
    assert metrics["real"] == pytest.approx(summary.loc["real", "mean"], abs=1e-4)
    assert metrics["gap"] == pytest.approx(gap, abs=1e-4)
    with np.load(out / "gallery.npz") as gal:
        n = 2 * cfg["gallery"]
        side = 28 if item == "mnist" else 32
        assert gal["images"].dtype == np.uint8 and gal["images"].shape[:3] == (n, side, side)
        assert list(gal["group"]) == ["easy"] * (n // 2) + ["hard"] * (n // 2)
        real = ex[ex["condition"] == "real"].set_index("example")
        assert np.allclose(gal["p_correct"], real.loc[gal["index"], "p_correct"])
        assert gal["p_correct"][: n // 2].min() >= gal["p_correct"][n // 2 :].max()
    assert manifest["stage"] == f"e1.{item}" and manifest["profile"] == "smoke" and manifest["threads"] == 1
    assert manifest["config"]["runs"] == cfg["runs"] and cfg["dataset"] in manifest["datasets"]
    assert manifest["tables"] == {name: list(df.columns) for name, df in tables.items()}


@pytest.mark.slow  # runs the stage
def test_e1_same_params_same_tables(tmp_path):
    a = pd.read_csv(run_e1(tmp_path, "mnist", "a") / "examples.csv")
    b = pd.read_csv(run_e1(tmp_path, "mnist", "b") / "examples.csv")
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("change, key", [
    ({"runs": -1}, "e1.mnist.runs"),
    ({"bogus": 1}, "e1.mnist.bogus"),
    ({"conditions": ["real", "randZ"]}, "e1.mnist.conditions[1]"),
    ({"run": {"train": {"epochs": 3}}}, "run.train.epochs"),
    ({"n_examples": 1000}, "n_examples"),
])
def test_e1_rejects_bad_params_before_training(tmp_path, change, key):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as err:
        E1.main(["--params", str(smoke_params(tmp_path, **{"e1.mnist": change})), "--item", "mnist",
                 "--out", str(out)])
    assert key in str(err.value.code)
    assert not out.exists()                                            # nothing trained, nothing written
