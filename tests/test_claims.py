"""The claims scoreboard's rules on small hand-made tables: each must pass on data that shows the
paper's effect and fail on data that does not; missing tables give "not run"."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.stages import claims as C

CFG = C.Config()


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
    write(tmp_path, "e5/mnist10k/summary", e5_summary(best_epoch=3, fit_epoch=40, final_val=0.5, csr_by_p=RISING))
    assert verdict(C.e5_peak_before_fit, tmp_path) == "reproduced"


def test_peak_before_fit_fails_when_val_peaks_at_the_end(tmp_path):
    write(tmp_path, "e5/mnist10k/summary", e5_summary(best_epoch=50, fit_epoch=None, final_val=0.9, csr_by_p=RISING))
    assert verdict(C.e5_peak_before_fit, tmp_path) == "not reproduced"


def test_csr_must_rise_with_noise(tmp_path):
    write(tmp_path, "e5/mnist10k/summary", e5_summary(3, 40, 0.5, RISING))
    assert verdict(C.e5_csr_rises, tmp_path) == "reproduced"
    write(tmp_path, "e5/mnist10k/summary", e5_summary(3, 40, 0.5, FLAT))
    assert verdict(C.e5_csr_rises, tmp_path) == "not reproduced"


def test_randx_mild_judged_below_full_noise(tmp_path):
    write(tmp_path, "e5/mnist10k/summary", e5_summary(3, 40, 0.4, RISING))   # randY ends at .4, randX at .9
    assert verdict(C.e5_randx_mild, tmp_path) == "reproduced"
    write(tmp_path, "e5/mnist10k/summary", e5_summary(3, 40, 0.95, RISING))  # randY better than randX
    assert verdict(C.e5_randx_mild, tmp_path) == "not reproduced"


def e1_tables(root: Path, real_p: np.ndarray, randx_p: np.ndarray, binom_p: np.ndarray) -> None:
    rows = [{"condition": c, "p_correct": v} for c, ps in (("real", real_p), ("randX", randx_p),
                                                         ("randY", randx_p + 0.05)) for v in ps]
    write(root, "e1/mnist10k/examples", rows)
    write(root, "e1/mnist10k/binomial", [{"p_correct": v} for v in binom_p])


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


def gini_rows(values: dict) -> list[dict]:
    return [{"panel": "labels", "condition": cond, "seed": s, "step": step, "gini": g + 0.01 * s}
            for cond, g in values.items() for s in range(3) for step in (10, 100)]


def test_gini_order(tmp_path):
    write(tmp_path, "e2/gini", gini_rows({"real": 0.6, "50% real": 0.45, "random": 0.25}))
    assert verdict(C.e2_gini_order, tmp_path) == "reproduced"
    write(tmp_path, "e2/gini", gini_rows({"real": 0.2, "50% real": 0.45, "random": 0.6}))
    assert verdict(C.e2_gini_order, tmp_path) == "not reproduced"


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


def e6_rows(random_acc: dict, clean_acc: dict) -> list[dict]:
    return [{"strength": st, "labels": labels, "seed": s, "final_train_acc": random_acc[st],
             "best_val_acc": clean_acc[st]} for st in random_acc for labels in ("real", "random") for s in range(3)]


def test_dropout_rule(tmp_path):
    write(tmp_path, "e6/dropout/summary", e6_rows({0.0: 0.99, 0.5: 0.6}, {0.0: 0.87, 0.5: 0.87}))
    assert verdict(C.e6_dropout, tmp_path) == "reproduced"
    write(tmp_path, "e6/dropout/summary", e6_rows({0.0: 0.99, 0.5: 0.98}, {0.0: 0.87, 0.5: 0.80}))
    assert verdict(C.e6_dropout, tmp_path) == "not reproduced"


def test_missing_tables_are_not_run_and_conclusions_aggregate(tmp_path):
    write(tmp_path, "e5/mnist10k/summary", e5_summary(3, 40, 0.5, RISING))
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
