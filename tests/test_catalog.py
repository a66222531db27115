"""The one catalog of measured configurations (explainer/catalog.py): tables in the shared setting
vocabulary or the older one read alike, a missing setting column means its default, the fixed settings
come from the manifest, and `nearest` finds an exact match, picks the right neighbour, and gives
distance 0 only to equal settings."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from explainer import artifacts as A, catalog as C

E6_MANIFEST = {"profile": "cpu", "config": {"dataset": "mnist10k", "run": {
    "model": {"arch": "mlp", "width": 128, "depth": 2, "dropout": 0.0},
    "train": {"optimizer": "adam", "lr": 0.001, "batch_size": 64}}},
    "datasets": {"mnist10k": {"n_train": 500, "n_val": 1000}}}
E3_MANIFEST = {"profile": "cpu", "config": {"dataset": "mnist10k", "run": {
    "model": {"arch": "mlp", "depth": 2}, "train": {"optimizer": "sgd", "lr": 0.01, "batch_size": 64}}},
    "datasets": {"mnist10k": {"n_train": 1500, "n_val": 1000}}}


def e6_summary() -> pd.DataFrame:
    """An E6 dropout item as tables were written before the shared vocabulary: family, labels."""
    rows = [{"run": i, "seed": seed, "family": "dropout", "strength": s, "dropout": s, "labels": labels,
             "final_train_acc": 1.0 - s, "best_val_acc": 0.8 if labels == "real" else 0.1, "fit_epoch": 5.0}
            for i, (s, labels, seed) in enumerate((s, lab, seed) for s in (0.0, 0.5) for lab in ("real", "random")
                                                   for seed in (0, 1))]
    return pd.DataFrame(rows)


def e3_summary() -> pd.DataFrame:
    """An E3 item in today's vocabulary, with only the columns it varies (width, kind, p)."""
    rows = [{"run": i, "seed": seed, "width": w, "kind": "randY", "p": p, "best_val_acc": 0.9 - p / 2,
             "final_train_acc": 1.0} for i, (w, p, seed) in enumerate((w, p, seed) for w in (16, 64, 256)
                                                                        for p in (0.0, 0.4) for seed in (0, 1))]
    return pd.DataFrame(rows)


def catalog() -> pd.DataFrame:
    grid = pd.concat([C.rows_of("e6/dropout", A._vocabulary(e6_summary()), E6_MANIFEST),
                      C.rows_of("e3/randY", e3_summary(), E3_MANIFEST)], ignore_index=True)
    return C.configs(grid)


def test_old_and_new_tables_read_in_one_vocabulary():
    table = catalog()
    e6 = table[table["folder"] == "e6/dropout"]
    assert set(e6["kind"]) == {"none", "randY"} and set(e6["p"]) == {0.0, 1.0}
    assert set(e6["regularizer"]) == {"none", "dropout"}, "strength 0 is no regularizer at all"
    assert (e6["augment"] == "none").all() and set(e6["dropout"]) == {0.0, 0.5}
    assert (e6[["dataset", "arch", "width", "depth", "n_train"]].drop_duplicates().values.tolist()
            == [["mnist10k", "mlp", 128, 2, 500]]), "fixed settings from the manifest"
    e3 = table[table["folder"] == "e3/randY"]
    assert (e3["regularizer"] == "none").all() and (e3["strength"] == 0).all() and (e3["n_train"] == 1500).all()
    assert set(e3.loc[e3["p"] == 0, "kind"]) == {"none"}, "p = 0 is clean data"
    assert (table["seeds"] == 2).all() and all(len(r) == 2 for r in table["runs"])
    assert len(table) == 4 + 6


def test_exact_match_is_found_at_distance_zero():
    table = catalog()
    want = {"dataset": "mnist10k", "arch": "mlp", "width": 128, "n_train": 500, "kind": "randY", "p": 1.0,
            "regularizer": "dropout", "strength": 0.5, "dropout": 0.5, "optimizer": "adam", "lr": 0.001}
    best = C.nearest(table, want).iloc[0]
    assert best["distance"] == 0 and best["folder"] == "e6/dropout" and best["strength"] == 0.5
    assert C.differences(best, want) == []
    rows = e6_summary().query("labels == 'random' and strength == 0.5")
    assert best["best_val_acc"] == pytest.approx(rows["best_val_acc"].mean()) and best["runs"] == tuple(rows["run"])


def test_nearest_picks_the_right_neighbour_and_names_the_gap():
    table = catalog()
    want = {"width": 100, "n_train": 1500, "kind": "randY", "p": 0.4}
    best = C.nearest(table, want).iloc[0]
    assert (best["folder"], best["width"], best["p"]) == ("e3/randY", 64, 0.4), "log2(100/64) < log2(256/100)"
    assert C.differences(best, want) == ["width 64 instead of 100"]
    three = C.nearest(table, want, k=3)
    assert three["distance"].is_monotonic_increasing and list(three["width"][:2]) == [64, 256]
    assert C.nearest(table, {**want, "p": 0.3}).iloc[0]["p"] == 0.4, "the nearer noise level"
    clean = C.nearest(table, {"width": 128, "n_train": 500, "kind": "randX", "p": 0.0}).iloc[0]
    assert clean["kind"] == "none" and clean["distance"] == 0, "p = 0 asked: any kind means clean data"
    only_e3 = C.nearest(table, {"width": 128, "n_train": 500}, where=table["folder"] == "e3/randY").iloc[0]
    assert only_e3["folder"] == "e3/randY"


def test_distance_is_zero_only_for_equal_settings():
    table = catalog()
    row = table[(table["folder"] == "e6/dropout") & (table["strength"] == 0.5) & (table["p"] == 1)]
    same = {c: row.iloc[0][c] for c in [*C.SETTINGS, *C.RUN]}
    assert C.distance(row, same)[0] == 0
    changed = {"dataset": "cifar10", "arch": "cnn", "width": 129, "depth": 3, "n_train": 501, "kind": "randX",
               "p": 0.9, "regularizer": "weight_decay", "strength": 0.4, "augment": "rotation", "image_size": 14,
               "dropout": 0.4, "optimizer": "sgd", "lr": 0.002, "batch_size": 32}
    assert set(changed) == set(C.TERMS), "every setting the catalog compares is tried"
    for col, value in changed.items():
        assert C.distance(row, {**same, col: value})[0] > 0, col
    with pytest.raises(KeyError, match="compares"):
        C.distance(row, {"colour": 1})


def test_measured_lists_the_items_and_names_the_missing(tmp_path, monkeypatch):
    monkeypatch.setenv(A.ENV, str(tmp_path))
    for folder, summary, manifest in (("e6/dropout", e6_summary(), E6_MANIFEST),
                                      ("e3/randY", e3_summary(), E3_MANIFEST)):
        (tmp_path / folder).mkdir(parents=True)
        summary.to_csv(tmp_path / folder / "summary.csv", index=False)
        (tmp_path / folder / "manifest.json").write_text(json.dumps(manifest))
    grid, problems = C.load_grid()
    assert set(grid["folder"]) == {"e6/dropout", "e3/randY"} and len(grid) == len(e6_summary()) + len(e3_summary())
    assert "e5/mnist" in problems and "e3/randX" in problems, "params.yaml's items that are not there are named"
    assert not grid["curves"].any(), "no curves.csv: no band for the lab"
    assert np.isnan(grid.loc[grid["folder"] == "e3/randY", "fit_epoch"]).all()
    assert not grid.loc[grid["folder"] == "e3/randY", "has_fit_epoch"].any()
