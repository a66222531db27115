"""E2 (loss-sensitivity): the unrolled input gradients under both definitions of "the loss after t
steps" checked against finite differences, the class split, the class-matrix averaging window, the
batched runs, and the stage's smoke run (tables, metrics, manifest) and its parameter checks."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from stagekit import check_headline, smoke_config, smoke_params, smoke_section
from training.stages.common import SETTINGS
from training import data as D
from training import sensitivity as S
from training.stages import e2_loss_sensitivity as E2

E2_COLUMNS = {
    "gini": ["panel", "definition", "condition", "p", "seed", "step", "gini", "loss", "train_loss", "train_acc"],
    "matrix": ["definition", "condition", "seed", "loss_class", "input_class", "value", "share"],
    "matrix_late": ["definition", "condition", "seed", "loss_class", "input_class", "value", "share"],
    "examples": ["panel", "definition", "condition", "seed", "example", "label", "noise", "g", "rank"],
    "summary": [*SETTINGS[:-1], "panel", "definition", "condition", "seeds", "final_step", "gini_mean", "gini_std",
                "dip_gini", "dip_step", "off_diagonal", "off_diagonal_std", "final_loss", "off_diagonal_late",
                "off_diagonal_late_std", "matrix_from", "matrix_from_loss"],
}


# ---------------------------------------------------------------------------------------------
# The unrolled gradients, on a tiny float64 network


def tiny_net(seed: int = 0):
    """A 16-6-3 tanh network as a functional forward and its parameters (in the default dtype)."""
    g = torch.Generator().manual_seed(seed)
    params = {"w1": torch.randn(16, 6, generator=g) * 0.5, "b1": torch.zeros(6),
              "w2": torch.randn(6, 3, generator=g) * 0.5}

    def fwd(theta, x):
        return torch.tanh(x.flatten(-3) @ theta["w1"] + theta["b1"]) @ theta["w2"]
    return fwd, params


def batches(seed: int, sizes, now: int = 4):
    g = torch.Generator().manual_seed(seed)
    window = [(torch.rand(b, 1, 4, 4, generator=g), torch.randint(0, 3, (b,), generator=g)) for b in sizes]
    return window, torch.rand(now, 1, 4, 4, generator=g), torch.randint(0, 3, (now,), generator=g)


N_TOTAL = 50  # the training-set size the own terms are weighted by (1 / N_TOTAL each)


def losses_after_sgd(fwd, params, window, x_now, y_now, lr) -> dict[str, float]:
    """Plain SGD through the window (no graph), then both definitions of the loss at the weights reached:
    the mean loss over the next batch alone, and the training loss after t steps: the next batch's mean
    standing in for the whole set plus each window input's own loss at weight 1 / N_TOTAL."""
    theta = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    for xj, yj in window:
        grads = torch.autograd.grad(F.cross_entropy(fwd(theta, xj), yj), list(theta.values()))
        theta = {k: (v - lr * g).detach().requires_grad_(True) for (k, v), g in zip(theta.items(), grads)}
    with torch.no_grad():
        x_win = torch.cat([xj for xj, _ in window])
        y_win = torch.cat([yj for _, yj in window])
        now = F.cross_entropy(fwd(theta, x_now), y_now).item()
        return {S.TRANSFER: now,
                S.OWN: now + F.cross_entropy(fwd(theta, x_win), y_win, reduction="sum").item() / N_TOTAL}


def test_both_definitions_match_finite_differences(float64):
    """dL_t/dx for every window input, under both definitions, equals the central difference of the
    loss after really taking the SGD steps with x moved. The own+transfer one includes x's own term,
    which the transfer one (the next batch only) lacks: so the two differ by more than a rescaling."""
    fwd, params = tiny_net()
    window, x_now, y_now = batches(1, (5, 5, 5))
    lr, eps = 0.5, 1e-6
    grads = S.unrolled_input_grads(fwd, params, window, x_now, y_now, lr, n_total=N_TOTAL)
    assert set(grads) == set(S.DEFINITIONS)
    for name in S.DEFINITIONS:
        assert [gr.shape for gr in grads[name]] == [xj.shape for xj, _ in window]
    for j, pixel in [(0, (2, 0, 1, 3)), (1, (4, 0, 3, 0)), (2, (0, 0, 2, 2))]:
        moved = {}
        for sign in (1, -1):
            w = [(xj.clone(), yj) for xj, yj in window]
            w[j][0][pixel] += sign * eps
            moved[sign] = losses_after_sgd(fwd, params, w, x_now, y_now, lr)
        for name in S.DEFINITIONS:
            fd = (moved[1][name] - moved[-1][name]) / (2 * eps)
            assert abs(fd) > 1e-6                                    # the check is not vacuous
            assert grads[name][j][pixel].item() == pytest.approx(fd, rel=1e-5, abs=1e-9), name
    # the own term: own+transfer is not the transfer gradient
    for own, tr in zip(grads[S.OWN], grads[S.TRANSFER]):
        assert not torch.allclose(own, tr, rtol=1e-3, atol=1e-8)


def test_without_updates_only_the_own_term_is_left(float64):
    """With lr 0 the weights never move: the next batch does not depend on the window's inputs (transfer
    gradient exactly 0), while the loss after t steps still does, through each input's own forward pass:
    exactly the plain input gradient of that input's loss, weighted 1 / (training examples)."""
    fwd, params = tiny_net(1)
    window, x_now, y_now = batches(2, (3, 5))
    grads = S.unrolled_input_grads(fwd, params, window, x_now, y_now, lr=0.0, n_total=N_TOTAL)
    for (xj, yj), own, tr in zip(window, grads[S.OWN], grads[S.TRANSFER]):
        assert torch.count_nonzero(tr) == 0
        x = xj.clone().requires_grad_(True)
        direct, = torch.autograd.grad(F.cross_entropy(fwd(params, x), yj, reduction="sum"), x)
        assert torch.allclose(own, direct / N_TOTAL, rtol=1e-10, atol=1e-14)
        assert own.abs().sum() > 0


def test_class_split_adds_up_and_the_own_term_is_diagonal(float64):
    fwd, params = tiny_net(2)
    window, x_now, _ = batches(3, (5, 5), now=6)
    y_now = torch.tensor([0, 1, 2, 0, 1, 2])
    groups = dict(class_of_now=y_now, n_groups=3, class_of_window=[yj for _, yj in window])
    total = S.unrolled_input_grads(fwd, params, window, x_now, y_now, 0.3, n_total=N_TOTAL)
    split = S.unrolled_input_grads(fwd, params, window, x_now, y_now, 0.3, **groups, n_total=N_TOTAL)
    for name in S.DEFINITIONS:
        for t, s in zip(total[name], split[name]):
            assert s.shape == (3, *t.shape)
            assert torch.allclose(s.sum(0), t, atol=1e-12)
            assert (s.abs().flatten(1).sum(1) > 0).all()
    # without updates, class c's loss depends only on the inputs of class c (their own terms)
    still = S.unrolled_input_grads(fwd, params, window, x_now, y_now, 0.0, **groups, n_total=N_TOTAL)
    for (_, yj), s in zip(window, still[S.OWN]):
        per_input = s.abs().flatten(2).sum(2)                        # (loss class, input)
        off = torch.arange(3).unsqueeze(1) != yj.unsqueeze(0)
        assert torch.count_nonzero(per_input[off]) == 0 and (per_input[~off] > 0).all()


# ---------------------------------------------------------------------------------------------
# loss_sensitivity: the training loop around them


@pytest.fixture(scope="module")
def digits():
    return D.downscale(D.stratified_subset(D.load("mnist10k")[0], 60, 0), 14)


def test_loss_sensitivity_reports_both_definitions_and_the_training_loss(digits):
    table, g, matrix = S.loss_sensitivity(
        digits.x, digits.y, 10, width=16, depth=1, lr=0.05, batch_size=10, steps=6, window=2,
        checkpoints=[3, 6], seed=0, matrix_every=2)
    assert list(table["definition"].unique()) == list(S.DEFINITIONS)
    for _, d in table.groupby("definition"):
        assert list(d["step"]) == [3, 6] and ((d["gini"] > 0) & (d["gini"] < 1)).all()
    assert set(table.columns) >= {"step", "gini", "loss", "train_loss", "train_acc"}
    assert table["train_loss"].gt(0).all() and table["train_acc"].between(0, 1).all()
    first = table[table["step"] == 3].iloc[0]
    assert first["train_loss"] != pytest.approx(first["loss"])     # the whole set, not the step's batch
    assert g.shape == (2, 60) and (g >= 0).all() and (g > 0).sum(1).min() >= 10
    assert not np.allclose(g[0], g[1])
    assert matrix.shape == (2, 10, 10) and (matrix >= 0).all() and (matrix.sum((1, 2)) > 0).all()
    again = S.loss_sensitivity(digits.x, digits.y, 10, width=16, depth=1, lr=0.05, batch_size=10, steps=6,
                               window=2, checkpoints=[3, 6], seed=0)
    assert again[2] is None and np.allclose(again[1], g)


def test_the_late_matrix_is_the_matrix_averaged_after_late_from(digits):
    """One run gives the all-steps class matrix (the paper's average) and the second-half one: the latter
    equals what a run averaging only after that step gives."""
    kw = dict(width=8, depth=1, lr=0.05, batch_size=10, window=1, checkpoints=[6], seed=0, matrix_every=2, steps=12)
    _, _, every, late = S.loss_sensitivity(digits.x, digits.y, 10, late_from=6, **kw)
    assert np.allclose(late, S.loss_sensitivity(digits.x, digits.y, 10, matrix_from=6, **kw)[2])
    assert np.allclose(every, S.loss_sensitivity(digits.x, digits.y, 10, **kw)[2])
    assert not np.allclose(every, late)


def test_the_own_term_weight_scales_only_the_own_term(digits):
    """own_weight sets x's own loss's weight in own+transfer; transfer never sees it."""
    kw = dict(width=8, depth=1, lr=0.05, batch_size=10, window=2, checkpoints=[12], seed=0, steps=12)
    light = S.loss_sensitivity(digits.x, digits.y, 10, own_weight=1 / 1000, **kw)[1]
    heavy = S.loss_sensitivity(digits.x, digits.y, 10, own_weight=1 / 20, **kw)[1]
    own, transfer = S.DEFINITIONS.index("own+transfer"), S.DEFINITIONS.index("transfer")
    assert np.allclose(light[transfer], heavy[transfer]) and not np.allclose(light[own], heavy[own])


def test_class_matrix_averages_only_the_steps_after_matrix_from(digits):
    """The first steps of a run do not depend on how long it goes on, so the average over all matrix
    steps of a 12-step run is the count-weighted mix of a 6-step run's and the 12-step run's late average."""
    kw = dict(width=8, depth=1, lr=0.05, batch_size=10, window=1, checkpoints=[6], seed=0, matrix_every=2)
    every = S.loss_sensitivity(digits.x, digits.y, 10, steps=12, **kw)[2]
    early = S.loss_sensitivity(digits.x, digits.y, 10, steps=6, **kw)[2]          # steps 2, 4, 6
    late = S.loss_sensitivity(digits.x, digits.y, 10, steps=12, matrix_from=6, **kw)[2]  # steps 8, 10, 12
    assert np.allclose(every, (3 * early + 3 * late) / 6, rtol=1e-5)
    assert not np.allclose(late, every, rtol=1e-3)


def test_batched_loss_sensitivity_equals_one_run_at_a_time(digits):
    """E2 trains every run of a panel as one batched model; each must match the same run alone."""
    mean, std = digits.pixel_stats()
    noise, _ = D.rand_inputs(digits.x, 1.0, 0, mean, std)
    kw = dict(width=8, depth=2, lr=0.05, batch_size=10, steps=12, window=2, checkpoints=[6, 12], matrix_every=3,
              matrix_from=4)
    table, g, matrix = S.loss_sensitivity(torch.stack([digits.x, noise]), digits.y, 10, seed=[3, 4], **kw)
    assert g.shape == (2, 2, 60) and matrix.shape == (2, 2, 10, 10) and sorted(table["run"].unique()) == [0, 1]
    for r, (x, seed) in enumerate([(digits.x, 3), (noise, 4)]):
        alone, g1, m1 = S.loss_sensitivity(x, digits.y, 10, seed=seed, **kw)
        mine = table[table["run"] == r].reset_index(drop=True)
        assert (mine["definition"] == alone["definition"]).all()
        assert np.allclose(mine["gini"], alone["gini"], atol=1e-5)
        assert np.allclose(mine["train_loss"], alone["train_loss"], rtol=1e-5)
        assert np.allclose(g[:, r], g1, rtol=1e-4, atol=1e-12) and np.allclose(matrix[:, r], m1, rtol=1e-4, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# The stage


def read(out: Path) -> tuple[dict, dict, dict]:
    tables = {name: pd.read_csv(out / f"{name}.csv") for name in E2_COLUMNS}
    return tables, json.loads((out / "manifest.json").read_text()), json.loads((out / "metrics.json").read_text())


@pytest.mark.slow  # runs the stage
def test_e2_smoke_writes_both_definitions(tmp_path):
    cfg = smoke_section("e2")
    out = tmp_path / "e2"
    E2.main(["--params", str(smoke_params(tmp_path)), "--out", str(out)])
    tables, manifest, metrics = read(out)
    for name, columns in E2_COLUMNS.items():
        assert list(tables[name].columns) == columns, name
        assert set(tables[name]["definition"]) == {"own+transfer", "transfer"}, name
    config = smoke_config("e2", None, E2.Config)
    steps = E2.checkpoint_steps(config)
    start = E2.matrix_from(config)
    gini = tables["gini"]
    assert sorted(gini["step"].unique()) == steps and steps[-1] == cfg["steps"] and start in steps
    runs = gini.groupby(["panel", "definition", "condition"])["seed"].apply(lambda s: sorted(set(s))).to_dict()
    assert runs == {(panel, d, cond): cfg["seeds"] for panel in ("labels", "own_class")
                    for d in ("own+transfer", "transfer")
                    for cond in (("real", "50% real", "random") if panel == "labels" else ("real", "random"))}
    assert gini["gini"].between(0, 1).all() and (gini["loss"] > 0).all() and (gini["train_loss"] > 0).all()
    assert gini["train_acc"].between(0, 1).all()
    both = gini.pivot_table(index=["panel", "condition", "seed", "step"], columns="definition", values="train_loss")
    assert np.allclose(both["own+transfer"], both["transfer"])   # one training run measured two ways
    assert set(gini[gini["condition"] == "50% real"]["p"]) == {0.5}
    matrix = tables["matrix"]
    for _, m in matrix.groupby(["definition", "condition", "seed"]):
        grid = m.pivot(index="loss_class", columns="input_class", values="value")
        assert grid.shape == (10, 10) and (grid.to_numpy() >= 0).all() and grid.to_numpy().sum() > 0
        assert m["share"].sum() == pytest.approx(1.0, abs=1e-4)
    assert set(matrix["condition"]) == {"real", "random"}
    ex = tables["examples"]
    assert len(ex) == 2 * cfg["n_examples"] * len(cfg["seeds"]) * 5 and (ex["g"] >= 0).all()
    noise = ex.groupby(["panel", "definition", "condition", "seed"])["noise"].mean()
    assert (noise.xs("real", level="condition") == 0).all() and (noise.xs("random", level="condition") == 1).all()
    assert (noise.xs("50% real", level="condition") == 0.5).all()
    summary = tables["summary"]
    assert len(summary) == 10 and summary["gini_mean"].between(0, 1).all()
    shares = summary.dropna(subset=["off_diagonal"])
    assert len(shares) == 4 and shares["off_diagonal"].between(0, 1).all() and (shares["matrix_from"] == start).all()
    # the summary's off-diagonal share is the seeds' mean of the matrix table's
    m = matrix[(matrix["definition"] == "own+transfer") & (matrix["condition"] == "random")]
    per_seed = m[m["loss_class"] != m["input_class"]].groupby("seed")["value"].sum() / m.groupby("seed")["value"].sum()
    row = shares[(shares["definition"] == "own+transfer") & (shares["condition"] == "random")].iloc[0]
    assert row["off_diagonal"] == pytest.approx(per_seed.mean(), rel=1e-4)
    late = tables["matrix_late"]                                     # the second-half matrix, shown beside
    m = late[(late["definition"] == "own+transfer") & (late["condition"] == "random")]
    per_seed = m[m["loss_class"] != m["input_class"]].groupby("seed")["value"].sum() / m.groupby("seed")["value"].sum()
    assert row["off_diagonal_late"] == pytest.approx(per_seed.mean(), rel=1e-4)
    last = gini[(gini["step"] == cfg["steps"]) & (gini["panel"] == "labels") & (gini["condition"] == "random")]
    assert row["final_loss"] == pytest.approx(last["train_loss"].mean(), rel=1e-4)
    assert set(zip(summary["condition"], summary["kind"], summary["p"])) == {
        ("real", "none", 0.0), ("50% real", "randX", 0.5), ("random", "randX", 1.0)}
    assert (summary["n_train"] == cfg["n_examples"]).all() and (summary["width"] == cfg["width"]).all()
    check_headline(metrics)
    own = summary[(summary["panel"] == "labels") & (summary["definition"] == "own+transfer")].set_index("condition")
    assert [metrics[k] for k in ("real", "half", "randX")] == pytest.approx(
        own.loc[["real", "50% real", "random"], "gini_mean"].tolist(), abs=1e-4)
    assert metrics["gap"] == pytest.approx(own.at["real", "off_diagonal"] - own.at["random", "off_diagonal"], abs=2e-4)
    assert manifest["stage"] == "e2" and manifest["profile"] == "smoke" and manifest["panel_workers"] == 1
    assert manifest["precision"]["used"] == "fp32" and manifest["definitions"] == ["own+transfer", "transfer"]
    assert manifest["checkpoint_steps"] == steps and manifest["matrix_from"] == start
    assert "mnist10k" in manifest["datasets"] and manifest["tables"] == {n: list(df.columns) for n, df in tables.items()}


@pytest.mark.slow  # runs the stage
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
    ({"matrix_start": 1.5}, "e2.matrix_start"),
    ({"matrix_start": 0.9, "matrix_every": 15}, "matrix_every"),
])
def test_e2_rejects_bad_params_before_training(tmp_path, change, key):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as err:
        E2.main(["--params", str(smoke_params(tmp_path, **{"e2": change})), "--out", str(out)])
    assert key in str(err.value.code)
    assert not out.exists()


def test_e2_takes_every_setting_from_params(tmp_path):
    """params.yaml is the single source of each setting: the Config has no defaults, and a setting left
    out of params stops the stage, naming the key."""
    import dataclasses

    assert all(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               for f in dataclasses.fields(E2.Config))
    params = smoke_params(tmp_path)
    params.write_text(params.read_text().replace("  window: 2", "  # window removed", 1))
    with pytest.raises(SystemExit) as err:
        E2.main(["--params", str(params), "--out", str(tmp_path / "out")])
    assert "e2.window is not set" in str(err.value.code)
