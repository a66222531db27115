"""The claims scoreboard's rules on small hand-made tables: each must pass on data that shows the
paper's effect and fail on data that does not; missing tables give "not run"."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.config import load_params
from training.stages import claims as C

CFG = C.parse(C.Config, load_params()["claims"], "claims")  # the thresholds params.yaml sets


def write(root: Path, path: str, rows) -> None:
    f = root / f"{path}.csv"
    f.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(f, index=False)


def verdict(rule, root: Path) -> str:
    return rule(C.Tables(root), CFG)[1]


def e5_summary(best_epoch: int, fit_epoch, final_val: float, csr_by_p: dict) -> list[dict]:
    rows = [{"run": 0, "seed": 0, "kind": "none", "p": 0.0, "best_epoch": 10, "best_val_acc": 0.95,
             "final_epoch": 50, "final_val_acc": 0.95, "final_train_acc": 1.0, "fit_epoch": 10,
             "final_csr": csr_by_p[0.0]}]
    for i, p in enumerate((0.2, 0.4, 0.8), start=1):
        for kind in ("randX", "randY"):
            rows.append({"run": len(rows), "seed": 0, "kind": kind, "p": p, "best_epoch": best_epoch,
                         "best_val_acc": 0.9, "final_epoch": 50,
                         "final_val_acc": final_val if kind == "randY" else 0.9, "final_train_acc": 1.0,
                         "fit_epoch": fit_epoch, "final_csr": csr_by_p[p]})
    return rows


RISING = {0.0: 0.01, 0.2: 0.05, 0.4: 0.1, 0.8: 0.3}
FLAT = {0.0: 0.2, 0.2: 0.1, 0.4: 0.2, 0.8: 0.05}


def test_peak_before_fit_passes_when_val_peaks_early_and_falls(tmp_path):
    write(tmp_path, "e5/mnist/summary", e5_summary(best_epoch=3, fit_epoch=40, final_val=0.5, csr_by_p=RISING))
    assert verdict(C.e5_peak_before_fit, tmp_path) == "reproduced"


def test_peak_before_fit_fails_when_val_peaks_at_the_end(tmp_path):
    write(tmp_path, "e5/mnist/summary", e5_summary(best_epoch=50, fit_epoch=None, final_val=0.9, csr_by_p=RISING))
    assert verdict(C.e5_peak_before_fit, tmp_path) == "not reproduced"


def test_csr_must_rise_with_noise(tmp_path):
    write(tmp_path, "e5/mnist/summary", e5_summary(3, 40, 0.5, RISING))
    assert verdict(C.e5_csr_rises, tmp_path) == "reproduced"
    write(tmp_path, "e5/mnist/summary", e5_summary(3, 40, 0.5, FLAT))
    assert verdict(C.e5_csr_rises, tmp_path) == "not reproduced"


def test_randx_mild_judged_below_full_noise(tmp_path):
    write(tmp_path, "e5/mnist/summary", e5_summary(3, 40, 0.4, RISING))   # randY ends at .4, randX at .9
    assert verdict(C.e5_randx_mild, tmp_path) == "reproduced"
    write(tmp_path, "e5/mnist/summary", e5_summary(3, 40, 0.95, RISING))  # randY better than randX
    assert verdict(C.e5_randx_mild, tmp_path) == "not reproduced"


def e1_tables(root: Path, real_p: np.ndarray, randx_p: np.ndarray, binom_p: np.ndarray) -> None:
    """The E1 stage's summary of these P(correct) values: quantiles per condition and randX's largest
    gap to the binomial curve's quantiles (at 0, 0.01, ... 1)."""
    q = np.linspace(0, 1, 101)
    rows = []
    for cond, ps in (("real", real_p), ("randX", randx_p), ("randY", randx_p + 0.05)):
        gap = float(np.max(np.abs(np.quantile(ps, q) - np.quantile(binom_p, q)))) if cond == "randX" else np.nan
        rows.append({"condition": cond, "mean": ps.mean(), "q05": np.quantile(ps, 0.05), "q95": np.quantile(ps, 0.95),
                     "q99": np.quantile(ps, 0.99), "binomial_gap": gap})
    write(root, "e1/mnist/summary", rows)


def test_e1_rules_on_spread_and_binomial_data(tmp_path):
    rng = np.random.default_rng(0)
    binom = rng.binomial(100, 0.1, 1000) / 100
    e1_tables(tmp_path, np.linspace(0, 1, 1000), rng.binomial(100, 0.1, 1000) / 100, binom)
    assert verdict(C.e1_real_spans, tmp_path) == "reproduced"
    assert verdict(C.e1_noise_binomial, tmp_path) == "reproduced"
    assert verdict(C.e1_randy_tail, tmp_path) == "reproduced"


def test_e1_rules_fail_on_flat_real_and_skewed_noise(tmp_path):
    rng = np.random.default_rng(0)
    binom = rng.binomial(100, 0.1, 1000) / 100
    e1_tables(tmp_path, np.full(1000, 0.5), np.linspace(0, 1, 1000), binom)
    assert verdict(C.e1_real_spans, tmp_path) == "not reproduced"
    assert verdict(C.e1_noise_binomial, tmp_path) == "not reproduced"


PAPER_ORDER = {"real": 0.6, "50% real": 0.45, "random": 0.25}
REVERSED = {"real": 0.2, "50% real": 0.45, "random": 0.6}


def gini_rows(values: dict, other: dict | None = None) -> list[dict]:
    """E2 Gini tables: `values` under the judged definition (own+transfer), `other` under transfer-only."""
    defs = {"own+transfer": values, "transfer": other or values}
    return [{"panel": "labels", "definition": d, "condition": cond, "seed": s, "step": step, "gini": g + 0.01 * s}
            for d, vals in defs.items() for cond, g in vals.items() for s in range(3) for step in (10, 100)]


def test_gini_order(tmp_path):
    write(tmp_path, "e2/gini", gini_rows(PAPER_ORDER))
    assert verdict(C.e2_gini_order, tmp_path) == "reproduced"
    write(tmp_path, "e2/gini", gini_rows(REVERSED))
    assert verdict(C.e2_gini_order, tmp_path) == "not reproduced"


def test_gini_order_is_judged_on_own_plus_transfer_and_reports_both(tmp_path):
    write(tmp_path, "e2/gini", gini_rows(REVERSED, other=PAPER_ORDER))
    ours, v = C.e2_gini_order(C.Tables(tmp_path), CFG)
    assert v == "not reproduced"                                     # the transfer-only order does not count
    assert "own+transfer" in ours and "transfer only" in ours and "0.610" in ours and "0.210" in ours
    write(tmp_path, "e2/gini", gini_rows(PAPER_ORDER, other=REVERSED))
    assert verdict(C.e2_gini_order, tmp_path) == "reproduced"


def e2_summary(shares: dict[str, dict[str, float]]) -> list[dict]:
    """The E2 summary's labels-panel rows: shares[definition][condition] = mean off-diagonal share."""
    rows = []
    for d, by in shares.items():
        for cond in ("real", "50% real", "random"):
            off = by.get(cond, float("nan"))
            rows.append({"panel": "labels", "definition": d, "condition": cond, "off_diagonal": off,
                         "off_diagonal_std": 0.01 if off == off else float("nan"),
                         "matrix_from": 4000 if off == off else float("nan"),
                         "matrix_from_loss": 1.2 if off == off else float("nan")})
        rows.append({"panel": "own_class", "definition": d, "condition": "real", "off_diagonal": float("nan"),
                     "off_diagonal_std": float("nan"), "matrix_from": float("nan"), "matrix_from_loss": float("nan")})
    return rows


def test_off_diagonal_reads_the_summary_under_own_plus_transfer(tmp_path):
    write(tmp_path, "e2/summary", e2_summary({"own+transfer": {"real": 0.7, "random": 0.4},
                                              "transfer": {"real": 0.75, "random": 0.77}}))
    ours, v = C.e2_off_diagonal(C.Tables(tmp_path), CFG)
    assert v == "reproduced" and "0.770" in ours and "0.400" in ours and "after 4000" in ours
    write(tmp_path, "e2/summary", e2_summary({"own+transfer": {"real": 0.4, "random": 0.7},
                                              "transfer": {"real": 0.8, "random": 0.7}}))
    assert verdict(C.e2_off_diagonal, tmp_path) == "not reproduced"


def test_e2_tables_without_definitions_are_not_run(tmp_path):
    """Tables written before the loss after t steps included x's own term cannot be judged."""
    write(tmp_path, "e2/gini", [{k: v for k, v in r.items() if k != "definition"} for r in gini_rows(PAPER_ORDER)
                                if r["definition"] == "transfer"])
    write(tmp_path, "e2/summary", [{k: v for k, v in r.items() if k != "definition"}
                                   for r in e2_summary({"transfer": {"real": 0.8, "random": 0.7}})])
    by_id = C.score(tmp_path, CFG).set_index("id")
    assert by_id.at["E2a", "verdict"] == "not run" and by_id.at["E2b", "verdict"] == "not run"
    assert "definition" in by_id.at["E2a", "ours"]


def e4_rows(axis: str, times: dict) -> list[dict]:
    """times: (kind, p) -> epochs to fit at the smallest and the largest axis value."""
    rows = []
    for (kind, p), (small, large) in times.items():
        for value, t in ((1, small), (8, large)):
            for seed in range(3):
                rows.append({axis: value, "kind": kind, "p": p, "seed": seed, "fit_epoch": t})
    return rows


def test_e4_width_rule(tmp_path):
    write(tmp_path, "e4/width/summary", e4_rows("width", {("none", 0.0): (20, 16), ("randX", 1.0): (40, 16)}))
    assert verdict(C.e4_width, tmp_path) == "reproduced"
    write(tmp_path, "e4/width/summary", e4_rows("width", {("none", 0.0): (20, 10), ("randX", 1.0): (40, 40)}))
    assert verdict(C.e4_width, tmp_path) == "not reproduced"


def test_e4_size_rule_needs_every_noise_kind(tmp_path):
    both = {("none", 0.0): (20, 20), ("randX", 1.0): (20, 50), ("randY", 1.0): (30, 80)}
    write(tmp_path, "e4/size/summary", e4_rows("n_train", both))
    assert verdict(C.e4_size, tmp_path) == "reproduced"
    one = {("none", 0.0): (20, 20), ("randX", 1.0): (20, 10), ("randY", 1.0): (30, 80)}
    write(tmp_path, "e4/size/summary", e4_rows("n_train", one))
    assert verdict(C.e4_size, tmp_path) == "partly"


def e6_settings(family: str, dataset: str, points: dict) -> list[dict]:
    """An E6 item's settings table: (strength, dropout) -> (random-label train acc, clean best val acc);
    a plain number as key is a dropout-family rate."""
    rows = []
    for key, (rand, val) in points.items():
        strength, dropout = key if isinstance(key, tuple) else (key, key)
        rows.append({"regularizer": family, "dataset": dataset, "strength": strength, "dropout": dropout,
                     "random_train_acc": rand, "real_train_acc": 1.0, "best_val_acc": val, "seeds": 3})
    return rows


def test_dropout_rule(tmp_path):
    write(tmp_path, "e6/dropout/settings", e6_settings("dropout", "mnist10k", {0.0: (0.99, 0.87), 0.5: (0.6, 0.87)}))
    assert verdict(C.e6_dropout, tmp_path) == "reproduced"
    write(tmp_path, "e6/dropout/settings", e6_settings("dropout", "mnist10k", {0.0: (0.99, 0.87), 0.5: (0.98, 0.80)}))
    assert verdict(C.e6_dropout, tmp_path) == "not reproduced"


def test_dropout_rule_judges_every_data_set_run(tmp_path):
    write(tmp_path, "e6/dropout/settings", e6_settings("dropout", "mnist10k", {0.0: (0.99, 0.87), 0.5: (0.6, 0.87)}))
    write(tmp_path, "e6/cifar_dropout/settings", e6_settings("dropout", "cifar10", {0.0: (0.99, 0.4), 0.5: (0.97, 0.4)}))
    ours, v = C.e6_dropout(C.Tables(tmp_path), CFG)
    assert v == "partly" and "cifar10" in ours and "mnist10k" in ours


DROPOUT = {0.0: (0.99, 0.87), 0.3: (0.90, 0.87), 0.5: (0.70, 0.87), 0.9: (0.25, 0.70)}


def test_adversarial_rule_follows_figs_10_and_11(tmp_path):
    # Fig. 11: below dropout at the same rate for every pair; Fig. 10: a higher frontier at small x
    write(tmp_path, "e6/dropout/settings", e6_settings("dropout", "mnist10k", DROPOUT))
    write(tmp_path, "e6/adversarial/settings", e6_settings("adversarial", "mnist10k",
                                                           {(0.5, 0.3): (0.60, 0.87), (0.5, 0.5): (0.20, 0.86)}))
    t = C.Tables(tmp_path)
    ours, v = C.e6_adversarial_vs_dropout(t, CFG)
    assert v == "reproduced" and "dropout 0.5: 0.700 vs w 0.5 0.200" in ours
    assert sorted(t.read) == ["e6/adversarial/settings", "e6/dropout/settings"]  # the stage's table, read as is
    # what the review measured: adding adversarial training raises the random-label fit
    write(tmp_path, "e6/adversarial/settings", e6_settings("adversarial", "mnist10k",
                                                           {(0.5, 0.3): (0.95, 0.87), (0.5, 0.5): (0.91, 0.88)}))
    assert verdict(C.e6_adversarial_vs_dropout, tmp_path) == "not reproduced"
    # lower at one rate only, and never below dropout's frontier at small x: partly
    write(tmp_path, "e6/adversarial/settings", e6_settings("adversarial", "mnist10k",
                                                           {(0.5, 0.3): (0.80, 0.87), (0.5, 0.5): (0.91, 0.88)}))
    assert verdict(C.e6_adversarial_vs_dropout, tmp_path) == "partly"


def test_adversarial_frontier_must_not_fall_below_dropout_at_small_fit(tmp_path):
    # lower random-label fit at every pair, but dropout 0.9 keeps more clean accuracy at x <= 0.3
    write(tmp_path, "e6/dropout/settings", e6_settings("dropout", "mnist10k", {**DROPOUT, 0.9: (0.25, 0.85)}))
    write(tmp_path, "e6/adversarial/settings", e6_settings("adversarial", "mnist10k",
                                                           {(0.5, 0.3): (0.60, 0.87), (0.5, 0.5): (0.28, 0.80)}))
    assert verdict(C.e6_adversarial_vs_dropout, tmp_path) == "partly"


def test_adversarial_rule_per_data_set_and_missing_items(tmp_path):
    write(tmp_path, "e6/dropout/settings", e6_settings("dropout", "mnist10k", DROPOUT))
    with pytest.raises(C.Missing):
        C.e6_adversarial_vs_dropout(C.Tables(tmp_path), CFG)          # no adversarial item: nothing to compare
    write(tmp_path, "e6/adversarial/settings", e6_settings("adversarial", "mnist10k",
                                                           {(0.5, 0.3): (0.60, 0.87), (0.5, 0.5): (0.20, 0.86)}))
    write(tmp_path, "e6/cifar_dropout/settings", e6_settings("dropout", "cifar10", DROPOUT))
    write(tmp_path, "e6/cifar_adversarial/settings", e6_settings("adversarial", "cifar10",
                                                                 {(0.5, 0.3): (0.95, 0.87), (0.5, 0.5): (0.91, 0.88)}))
    ours, v = C.e6_adversarial_vs_dropout(C.Tables(tmp_path), CFG)
    assert v == "partly" and ours.index("cifar10") < ours.index("mnist10k")


def test_missing_tables_are_not_run_and_conclusions_aggregate(tmp_path):
    write(tmp_path, "e5/mnist/summary", e5_summary(3, 40, 0.5, RISING))
    table = C.score(tmp_path, CFG)
    assert set(table["verdict"]) <= set(C.VERDICTS)
    by_id = table.set_index("id")["verdict"]
    assert by_id["E1a"] == "not run" and by_id["E5a"] == "reproduced"
    assert by_id["C2"] == "partly"           # E5a, E5b reproduced, E2a not run
    assert by_id["C3"] == "not run"          # neither E6 claim has data
    assert (table["rule"].str.len() > 10).all()


@pytest.mark.parametrize("bad", [{"e1_span": 2.0}, {"unknown": 1}])
def test_bad_thresholds_name_the_key(bad):
    with pytest.raises(C.ConfigError, match="claims"):
        C.parse(C.Config, bad, "claims")


def test_every_changed_rule_is_a_claim_and_reaches_the_table(tmp_path):
    """The scoreboard lists why a rule changed: each RULE_CHANGES entry names a real claim, says when and
    why, and lands in that claim's row of claims.csv (and nowhere else)."""
    ids = {cid for cid, *_ in C.CLAIMS}
    assert C.RULE_CHANGES and set(C.RULE_CHANGES) <= ids
    assert all(text.startswith("20") and len(text) > 40 for text in C.RULE_CHANGES.values())
    table = C.score(tmp_path, CFG)                                  # no artifacts: every claim "not run"
    changed = table.set_index("id")["rule_change"]
    for cid in ids:
        assert changed[cid] == C.RULE_CHANGES.get(cid, "")
    assert (table[table["kind"] == "conclusion"]["rule_change"] == "").all()


def test_the_storys_own_claim_is_not_counted_among_the_papers(tmp_path):
    """AUG (augmentation, the story's page 6) is kind "story"; the headline counts the paper's claims only."""
    table = C.score(tmp_path, CFG)
    kinds = table.set_index("id")["kind"]
    assert kinds["AUG"] == "story" and (kinds.drop(["AUG"]).isin(["experiment", "conclusion"])).all()
    assert sum(C.headline(table).values()) == 0                     # nothing run: no verdict to count
    table.loc[table["id"].isin(["E1a", "AUG"]), "verdict"] = "reproduced"
    assert C.headline(table) == {"repro": 1, "partly": 0, "not": 0}
