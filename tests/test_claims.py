"""The claims scoreboard's rules on small hand-made tables (3 seeds each): every rule gives "reproduced"
when the effect goes the paper's way beyond the spread over seeds, "not resolved" when it lies inside
that spread, "not reproduced" when it goes the other way beyond it, and "not run" when its tables are
missing. Also the spread helpers (paired, unpaired, verdict_of), E2's two definitions of L_t, the
conclusions, the headline counts and the app's verdict badges."""
from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explainer import ui
from training.config import load_params
from training.stages import claims as C
from training.stages import e1_easy_hard as E1

CFG = C.parse(C.Config, load_params()["claims"], "claims")  # the thresholds params.yaml sets

SEEDS = (0, 1, 2)
# Per-seed effects (positive = the paper's way): every seed agrees; seeds disagree in sign around a
# small mean (inside the spread); every seed goes the other way.
UP = (0.05, 0.06, 0.04)
MIXED = (0.02, -0.015, 0.004)
DOWN = (-0.05, -0.06, -0.04)


def write(root: Path, path: str, rows) -> None:
    f = root / f"{path}.csv"
    f.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(f, index=False)


def judge(rule, root: Path) -> tuple[str, str]:
    return rule(C.Tables(root), CFG)


def verdict(rule, root: Path) -> str:
    return judge(rule, root)[1]


# ---------------------------------------------------------------------------------------------
# The spread helpers


@pytest.mark.parametrize("d, way", [
    (UP, "paper"), (MIXED, "inside"), (DOWN, "against"),
    ((0.3, 0.001, 0.002), "paper"),        # every seed agrees, however unequal
    ((0.3, -0.01, 0.25), "inside"),        # one seed disagrees; mean 0.18 < 2 SE (0.19)
    ((0.5, 0.49, 0.51, -0.01), "paper"),   # one seed disagrees, but the mean is 2.9 SE out
    ((0.05,), "inside"),                   # one seed has no spread: never beyond it
    ((0.05, np.nan, 0.06, 0.04), "paper"),  # a missing seed is left out
])
def test_paired_judges_per_seed_differences(d, way):
    assert C.paired(d) == way


def test_paired_without_runs_is_missing():
    with pytest.raises(C.Missing):
        C.paired([np.nan, np.nan])


@pytest.mark.parametrize("a, b, way", [
    ((0.90, 0.91, 0.92), (0.80, 0.81, 0.82), "paper"),    # every run above every other
    ((0.80, 0.81, 0.82), (0.90, 0.91, 0.92), "against"),
    ((0.80, 0.90, 0.85), (0.82, 0.88, 0.84), "inside"),   # the runs overlap, means 0.003 apart
    ((0.90,), (0.80,), "inside"),                        # one run each: no spread to judge against
])
def test_unpaired_compares_runs_against_runs(a, b, way):
    assert C.unpaired(a, b) == way


def test_unpaired_without_runs_is_missing():
    with pytest.raises(C.Missing):
        C.unpaired([], [0.5])


@pytest.mark.parametrize("ways, v", [
    (["paper"], "reproduced"), (["paper", "paper"], "reproduced"),
    (["inside"], "not resolved"), (["inside", "inside"], "not resolved"),
    (["against"], "not reproduced"), (["against", "inside"], "not reproduced"),
    (["paper", "inside"], "partly"), (["paper", "against"], "partly"),
])
def test_verdict_of_combines_the_parts(ways, v):
    assert C.verdict_of(ways) == v


def test_verdict_of_nothing_is_missing():
    with pytest.raises(C.Missing):
        C.verdict_of([])


def test_the_app_knows_every_verdict_and_badges_each():
    assert set(ui.VERDICTS) == set(C.VERDICTS) and len(ui.VERDICTS) == len(C.VERDICTS)
    assert set(ui.VERDICT_BADGE) == set(C.VERDICTS)
    assert all(badge.strip() for badge in ui.VERDICT_BADGE.values())


# ---------------------------------------------------------------------------------------------
# E1: easy and hard examples (one summary row per condition; 100 runs)


def e1_row(cond: str, q05=0.0, q95=1.0, q99=1.0, gap=np.nan, gap_class=np.nan, mean=0.5, runs=100) -> dict:
    return {"condition": cond, "seeds": runs, "mean": mean, "q05": q05, "q95": q95, "q99": q99,
            "binomial_gap": gap, "binomial_gap_class": gap_class}


def e1_summary(root: Path, real_span=(0.0, 1.0), gap_class=0.01, gap=0.12, q99=(0.31, 0.48), ds="mnist") -> None:
    write(root, f"e1/{ds}/summary", [
        e1_row("real", *real_span, mean=0.6),
        e1_row("randX", q05=0.03, q95=0.26, q99=q99[0], gap=gap, gap_class=gap_class, mean=0.11),
        e1_row("randY", q05=0.03, q95=0.30, q99=q99[1], mean=0.11),
        e1_row("binomial", q05=0.05, q95=0.17, q99=0.2, mean=0.11)])


@pytest.mark.parametrize("span, v", [((0.0, 1.0), "reproduced"), ((0.2, 0.75), "not resolved"),
                                     ((0.3, 0.6), "not reproduced")])
def test_e1a_real_span(tmp_path, span, v):
    e1_summary(tmp_path, real_span=span)
    assert verdict(C.e1_real_spans, tmp_path) == v


def test_e1a_is_judged_on_every_data_set(tmp_path):
    e1_summary(tmp_path, real_span=(0.0, 1.0), ds="mnist")
    e1_summary(tmp_path, real_span=(0.3, 0.6), ds="cifar10")
    ours, v = judge(C.e1_real_spans, tmp_path)
    assert v == "partly" and "mnist" in ours and "cifar10" in ours


@pytest.mark.parametrize("q99, v", [((0.2, 0.6), "reproduced"), ((0.31, 0.35), "not resolved"),
                                    ((0.6, 0.2), "not reproduced")])
def test_e1c_randy_tail(tmp_path, q99, v):
    e1_summary(tmp_path, q99=q99)
    assert verdict(C.e1_randy_tail, tmp_path) == v


def skewed_randx(runs=100, n=1000, seed=0) -> pd.DataFrame:
    """randX after one epoch as the review measured it on MNIST: each example equally hard within its
    label, but the net has learned the class prior (mean P by label from 0.04 to 0.26)."""
    rng = np.random.default_rng(seed)
    means = np.linspace(0.04, 0.26, 10)
    labels = rng.integers(0, 10, n)
    return pd.DataFrame({"condition": "randX", "label_given": labels,
                         "p_correct": rng.binomial(runs, means[labels]) / runs})


def quantile_gap(p, ref) -> float:
    q = np.linspace(0, 1, 101)  # the E1 stage's 101 quantiles
    return float(np.max(np.abs(np.quantile(p, q) - np.quantile(ref, q))))


def test_e1b_passes_a_class_skewed_randx_through_the_per_label_binomial(tmp_path):
    """The stage's two references on the review's case: one binomial at the overall mean is far off (the
    class prior), the per-label mixture is close, and E1b judges the latter at e1_ks."""
    examples = skewed_randx(seed=4)
    cfg = types.SimpleNamespace(dataset="mnist10k", runs=100, binomial_seed=0, binomial_draws=20_000)
    gap = quantile_gap(examples["p_correct"], E1._binomial(cfg, examples)["p_correct"])
    gap_class = quantile_gap(examples["p_correct"], E1._class_binomial(cfg, examples))
    assert gap > 1.5 * CFG.e1_ks and gap_class < CFG.e1_ks / 2, (gap, gap_class)
    e1_summary(tmp_path, gap=gap, gap_class=gap_class)
    ours, v = judge(C.e1_noise_binomial, tmp_path)
    assert f"{gap_class:.3f}" in ours and f"{gap:.3f}" in ours
    assert v == "reproduced", (f"E1b cannot pass: with 100 runs the rule's error 0.5/√runs = 0.05 makes 'beyond the "
                               f"spread' need e1_ks − gap > 0.1, i.e. a gap below {CFG.e1_ks - 0.1:+.2f}. {ours}")


@pytest.mark.parametrize("gap_class, v", [(0.08, "not resolved"), (0.30, "not reproduced")])
def test_e1b_fails_when_randx_is_far_from_the_per_label_binomial(tmp_path, gap_class, v):
    e1_summary(tmp_path, gap=0.01, gap_class=gap_class)      # the single-binomial gap does not count
    assert verdict(C.e1_noise_binomial, tmp_path) == v


# ---------------------------------------------------------------------------------------------
# E2: loss-sensitivity, under both definitions of L_t


def gini_rows(by_def: dict) -> list[dict]:
    """by_def[definition] = (real − 50% real, 50% real − random) per seed; steps 10 and 100 (the last judged)."""
    rows = []
    for d, (up, down) in by_def.items():
        for s in SEEDS:
            final = {"real": 0.45 + up[s], "50% real": 0.45, "random": 0.45 - down[s]}
            for cond, g in final.items():
                for step, value in ((10, 0.3), (100, g)):
                    rows.append({"panel": "labels", "definition": d, "condition": cond, "seed": s, "step": step,
                                 "gini": value})
    return rows


def both(ways) -> dict:
    return {"own+transfer": ways, "transfer": ways}


@pytest.mark.parametrize("ways, v", [((UP, UP), "reproduced"), ((MIXED, MIXED), "not resolved"),
                                     ((DOWN, DOWN), "not reproduced"), ((UP, MIXED), "partly")])
def test_e2a_gini_order(tmp_path, ways, v):
    write(tmp_path, "e2/gini", gini_rows(both(ways)))
    assert verdict(C.e2_gini_order, tmp_path) == v


def test_e2a_depends_on_definition_when_they_disagree(tmp_path):
    write(tmp_path, "e2/gini", gini_rows({"own+transfer": (UP, UP), "transfer": (DOWN, UP)}))
    ours, v = judge(C.e2_gini_order, tmp_path)
    assert v == "depends on definition"
    assert "own+transfer" in ours and "transfer:" in ours and "reproduced" in ours and "partly" in ours


def test_e2a_needs_both_definitions(tmp_path):
    write(tmp_path, "e2/gini", [r for r in gini_rows(both((UP, UP))) if r["definition"] == "transfer"])
    with pytest.raises(C.Missing, match="own\\+transfer"):
        judge(C.e2_gini_order, tmp_path)


def e2_tables(root: Path, by_def: dict) -> None:
    """by_def[definition] = real − random off-diagonal share per seed (a 2-class matrix); the summary's
    second-half shares shown beside."""
    rows, summary = [], []
    for d, diff in by_def.items():
        for s in SEEDS:
            for cond, share in (("real", 0.7 + diff[s] / 2), ("random", 0.7 - diff[s] / 2)):
                for i in (0, 1):
                    for j in (0, 1):
                        rows.append({"definition": d, "condition": cond, "seed": s, "loss_class": i,
                                     "input_class": j, "value": share / 2 if i != j else (1 - share) / 2})
        summary += [{"panel": "labels", "definition": d, "condition": cond, "off_diagonal_late": late}
                    for cond, late in (("real", 0.78), ("random", 0.69))]
    write(root, "e2/matrix", rows)
    write(root, "e2/summary", summary)


@pytest.mark.parametrize("diff, v", [(UP, "reproduced"), (MIXED, "not resolved"), (DOWN, "not reproduced")])
def test_e2b_off_diagonal_share(tmp_path, diff, v):
    e2_tables(tmp_path, both(diff))
    ours, got = judge(C.e2_off_diagonal, tmp_path)
    assert got == v and "second half only: real 0.780, random 0.690" in ours


def test_e2b_depends_on_definition_when_they_disagree(tmp_path):
    """The review's case: more off-diagonal mass for real data under own+transfer, reversed under transfer."""
    e2_tables(tmp_path, {"own+transfer": UP, "transfer": DOWN})
    ours, v = judge(C.e2_off_diagonal, tmp_path)
    assert v == "depends on definition" and "reproduced" in ours and "not reproduced" in ours


# ---------------------------------------------------------------------------------------------
# E3: capacity under noise


def e3_rows(kind: str, gain_top, gain_clean=(0.0, 0.0, 0.0), top=0.8, base=0.8) -> list[dict]:
    """Best val acc per seed at widths 2, 32, 512 (32 is the middle one) and p = 0 and `top`: the widest
    beats the middle by `gain_*` per seed."""
    rows = []
    for p, gain in ((0.0, gain_clean), (top, gain_top)):
        for s in SEEDS:
            for w, acc in ((2, base - 0.2), (32, base), (512, base + gain[s])):
                rows.append({"kind": kind, "p": p, "seed": s, "width": w, "best_val_acc": acc})
    return rows


@pytest.mark.parametrize("gain, v", [(UP, "reproduced"), (MIXED, "not resolved"), (DOWN, "not reproduced")])
def test_e3a_width_helps_under_noise(tmp_path, gain, v):
    write(tmp_path, "e3/randX/summary", e3_rows("randX", gain))
    write(tmp_path, "e3/randY/summary", e3_rows("randY", gain))
    assert verdict(C.e3_capacity, tmp_path) == v


def test_e3a_gain_must_exceed_the_clean_gain(tmp_path):
    write(tmp_path, "e3/randX/summary", e3_rows("randX", UP, gain_clean=(0.1, 0.1, 0.1)))
    assert verdict(C.e3_capacity, tmp_path) == "partly"        # a gain, but less than on clean data


def e3_pair(root: Path, randx, randy) -> None:
    for kind, accs in (("randX", randx), ("randY", randy)):
        write(root, f"e3/{kind}/summary", [{"kind": kind, "p": 0.8, "seed": s, "width": w, "best_val_acc": a - (w < 512) * 0.1}
                                          for s, a in zip(SEEDS, accs) for w in (32, 512)])


@pytest.mark.parametrize("randx, randy, v", [
    ((0.83, 0.82, 0.84), (0.63, 0.62, 0.64), "reproduced"),
    ((0.80, 0.90, 0.85), (0.82, 0.88, 0.84), "not resolved"),
    ((0.63, 0.62, 0.64), (0.83, 0.82, 0.84), "not reproduced")])
def test_e3b_random_labels_hurt_more(tmp_path, randx, randy, v):
    e3_pair(tmp_path, randx, randy)
    assert verdict(C.e3_randy_worse, tmp_path) == v


# ---------------------------------------------------------------------------------------------
# E4: epochs to fit


def e4_rows(axis: str, times: dict, small=32, large=512, cap=100) -> list[dict]:
    """times[(kind, p)] = per seed (epochs at the smallest, epochs at the largest) axis value; None = never
    fitted within `cap` epochs."""
    rows = []
    for (kind, p), per_seed in times.items():
        for s, pair in zip(SEEDS, per_seed):
            for value, t in zip((small, large), pair):
                rows.append({axis: value, "kind": kind, "p": p, "seed": s, "fit_epoch": t, "epochs_run": cap if t is None else t + 5})
    return rows


def per_seed(ratios, start=20) -> tuple:
    """(start, start × ratio) per seed."""
    return tuple((start, start * r) for r in ratios)


@pytest.mark.parametrize("clean, noise, v", [
    ((0.80, 0.85, 0.75), (0.30, 0.35, 0.40), "reproduced"),   # noise sped up more, and below 1
    ((0.95, 1.05, 1.00), (1.05, 0.95, 1.01), "not resolved"),  # seeds disagree on both counts
    ((0.40, 0.45, 0.35), (1.30, 1.40, 1.20), "not reproduced")])
def test_e4a_width_speeds_up_noise_more(tmp_path, clean, noise, v):
    write(tmp_path, "e4/width/summary", e4_rows("width", {("none", 0.0): per_seed(clean),
                                                          ("randX", 1.0): per_seed(noise)}))
    assert verdict(C.e4_width, tmp_path) == v


@pytest.mark.parametrize("noise, v", [((2.0, 2.2, 2.4), "reproduced"), ((1.1, 1.4, 1.2), "not resolved"),
                                      ((0.7, 0.75, 0.72), "not reproduced")])
def test_e4b_size_judges_input_noise(tmp_path, noise, v):
    clean = (0.8, 0.85, 0.75)          # x 1.5 = 1.2, 1.275, 1.125
    write(tmp_path, "e4/size/summary", e4_rows("n_train", {("none", 0.0): per_seed(clean),
                                                           ("randX", 1.0): per_seed(noise)}, 250, 8000))
    assert verdict(C.e4_size, tmp_path) == v


def test_e4b_ignores_random_labels_and_e4r_judges_them(tmp_path):
    """The review's case: randX falls with size (not the paper's growth), randY grows; E4b (Fig. 6, input
    noise only) is not reproduced whatever randY does; the story's E4r is reproduced on randY."""
    clean, randx = per_seed((0.8, 0.85, 0.78)), per_seed((0.72, 0.75, 0.70))
    for randy in (per_seed((1.9, 2.0, 1.8)), per_seed((0.5, 0.5, 0.5))):
        write(tmp_path, "e4/size/summary", e4_rows("n_train", {("none", 0.0): clean, ("randX", 1.0): randx,
                                                               ("randY", 1.0): randy}, 250, 8000))
        ours, v = judge(C.e4_size, tmp_path)
        assert v == "not reproduced" and "randY" not in ours
    write(tmp_path, "e4/size/summary", e4_rows("n_train", {("none", 0.0): clean, ("randX", 1.0): randx,
                                                           ("randY", 1.0): per_seed((1.9, 2.0, 1.8))}, 250, 8000))
    ours, v = judge(C.e4_size_labels, tmp_path)
    assert v == "reproduced" and "randY" in ours


def test_e4r_counts_unfitted_runs_at_the_cap(tmp_path):
    clean = per_seed((0.8, 0.85, 0.78))
    randy = ((20, None), (20, None), (20, 60))                  # two runs never fit within 100 epochs
    write(tmp_path, "e4/size/summary", e4_rows("n_train", {("none", 0.0): clean, ("randY", 1.0): randy}, 250, 8000))
    ours, v = judge(C.e4_size_labels, tmp_path)
    assert v == "reproduced" and "≥: 2 runs not fitted" in ours and "4.333" in ours   # (100 + 100 + 60) / 20 / 3


def test_e4_story_claim_is_kept_apart(tmp_path):
    kinds = C.score(tmp_path, CFG).set_index("id")["kind"]
    assert kinds["E4r"] == "story" and kinds["AUG"] == "story" and kinds["E4b"] == "experiment"


# ---------------------------------------------------------------------------------------------
# E5: partial noise and the critical sample ratio


def e5_rows(drops: dict, clean_drop=(0.004, 0.006, 0.005), fit_epoch=25, best_epoch=4,
            csr: dict | None = None, final_val: dict | None = None) -> list[dict]:
    """E5 MNIST summary: clean runs and randY (and randX) runs at each p in `drops`; drops[p] = per seed
    fall of val acc after its peak; csr[(kind, p)] = final CSR per seed."""
    csr, final_val = csr or {}, final_val or {}
    rows = []
    for s in SEEDS:
        rows.append({"kind": "none", "p": 0.0, "seed": s, "best_epoch": 20, "best_val_acc": 0.96,
                     "final_val_acc": 0.96 - clean_drop[s], "fit_epoch": 22, "final_train_acc": 1.0,
                     "final_csr": csr.get(("none", 0.0), (0.003,) * 3)[s]})
        for p, drop in drops.items():
            for kind in ("randY", "randX"):
                best = 0.95 - 0.3 * p
                fin = final_val.get((kind, p), (best - drop[s],) * 3 if kind == "randY" else (0.95,) * 3)[s]
                fit = fit_epoch[s] if isinstance(fit_epoch, tuple) else fit_epoch
                rows.append({"kind": kind, "p": p, "seed": s, "best_epoch": best_epoch, "best_val_acc": best,
                             "final_val_acc": fin, "fit_epoch": fit, "final_train_acc": 1.0,
                             "final_csr": csr.get((kind, p), (0.01 + 0.1 * p,) * 3)[s]})
    return rows


def fall(extra) -> tuple:
    """A fall after the peak: the clean runs' (0.004, 0.006, 0.005) plus `extra` per seed."""
    return tuple(c + e for c, e in zip((0.004, 0.006, 0.005), extra))


def test_e5a_peak_before_fit_reproduced(tmp_path):
    write(tmp_path, "e5/mnist/summary", e5_rows({0.2: fall(UP), 0.4: fall((0.2, 0.22, 0.21))}))
    ours, v = judge(C.e5_peak_before_fit, tmp_path)
    assert v == "reproduced" and "6/6 runs fit" in ours and "before the fit in 6/6" in ours


def test_e5a_fall_inside_the_spread_is_not_resolved(tmp_path):
    """Every run fits and peaks before the fit, but validation accuracy falls after the peak no more than
    on clean data (inside the spread): the peak is not shown to come before memorization."""
    write(tmp_path, "e5/mnist/summary", e5_rows({0.2: fall(MIXED), 0.4: fall(MIXED)}))
    ours, v = judge(C.e5_peak_before_fit, tmp_path)
    assert v == "not resolved", (f"inside the spread gives {v!r}: the 'best epoch before the fit' part is counted as "
                                 f"a separate 'paper' way, so verdict_of says 'partly'. {ours}")


def test_e5a_no_fall_or_a_late_peak_is_not_reproduced(tmp_path):
    write(tmp_path, "e5/mnist/summary", e5_rows({0.2: fall(DOWN), 0.4: fall(DOWN)}, best_epoch=30))
    assert verdict(C.e5_peak_before_fit, tmp_path) == "not reproduced"


def test_e5a_with_an_unfitted_run_is_not_resolved(tmp_path):
    """The review's case: runs that never fit their labels make 'peak before the fit' true by censoring."""
    write(tmp_path, "e5/mnist/summary", e5_rows({0.2: fall(UP), 0.4: fall(UP)}, fit_epoch=(25, None, 25)))
    ours, v = judge(C.e5_peak_before_fit, tmp_path)
    assert v == "not resolved" and "4/6 runs fit" in ours and "never fit" in ours


def test_e5a_ignores_levels_below_min_noise(tmp_path):
    low = CFG.min_noise / 2
    write(tmp_path, "e5/mnist/summary", e5_rows({low: fall(DOWN), 0.4: fall(UP)}, fit_epoch=25))
    rows = pd.read_csv(tmp_path / "e5/mnist/summary.csv")
    rows.loc[np.isclose(rows["p"], low), "fit_epoch"] = np.nan        # unfitted, but below the judged levels
    rows.to_csv(tmp_path / "e5/mnist/summary.csv", index=False)
    assert verdict(C.e5_peak_before_fit, tmp_path) == "reproduced"


CSR_P = (0.2, 0.4, 0.8)


def csr_table(by_seed: list[tuple]) -> dict:
    """by_seed[s] = final CSR at p = 0, 0.2, 0.4, 0.8 for seed s (randY)."""
    out = {("none", 0.0): tuple(v[0] for v in by_seed)}
    for i, p in enumerate(CSR_P, start=1):
        out[("randY", p)] = tuple(v[i] for v in by_seed)
    return out


@pytest.mark.parametrize("by_seed, v", [
    ([(0.01, 0.05, 0.1, 0.3), (0.01, 0.06, 0.12, 0.28), (0.02, 0.04, 0.11, 0.31)], "reproduced"),
    ([(0.01, 0.05, 0.1, 0.3), (0.01, 0.06, 0.12, 0.28), (0.02, 0.11, 0.04, 0.31)], "not resolved"),  # one seed 0.8
    ([(0.3, 0.1, 0.05, 0.01), (0.28, 0.12, 0.06, 0.01), (0.31, 0.11, 0.04, 0.02)], "not reproduced")])
def test_e5b_csr_rises_in_every_seed(tmp_path, by_seed, v):
    write(tmp_path, "e5/mnist/summary", e5_rows({p: fall(UP) for p in CSR_P}, csr=csr_table(by_seed)))
    ours, got = judge(C.e5_csr_rises, tmp_path)
    assert got == v and "Spearman per seed" in ours


@pytest.mark.parametrize("randx, randy, v", [
    ((0.91, 0.92, 0.93), (0.30, 0.29, 0.31), "reproduced"),
    ((0.91, 0.92, 0.93), (0.86, 0.85, 0.87), "partly"),       # randX above randY, by less than e5_gap
    ((0.80, 0.90, 0.85), (0.82, 0.88, 0.84), "not resolved"),
    ((0.30, 0.29, 0.31), (0.91, 0.92, 0.93), "not reproduced")])
def test_e5c_random_inputs_hurt_less(tmp_path, randx, randy, v):
    final = {("randX", 0.8): randx, ("randY", 0.8): randy, ("randX", 1.0): (0.1,) * 3, ("randY", 1.0): (0.1,) * 3}
    write(tmp_path, "e5/mnist/summary", e5_rows({0.4: fall(UP), 0.8: fall(UP), 1.0: fall(UP)}, final_val=final))
    ours, got = judge(C.e5_randx_mild, tmp_path)
    assert got == v and "p=0.8" in ours       # judged below p = 1, which leaves no real data


def cifar_csr(root: Path, randx, randy, real=(0.19, 0.18, 0.195)) -> None:
    rows = []
    for kind, p, values in (("none", 0.0, real), ("randX", 1.0, randx), ("randY", 1.0, randy)):
        rows += [{"kind": kind, "p": p, "seed": s, "final_csr": v} for s, v in zip(SEEDS, values)]
    write(root, "e5/cifar10/summary", rows)


@pytest.mark.parametrize("randx, randy, v", [
    ((0.30, 0.35, 0.28), (0.38, 0.40, 0.36), "reproduced"),
    ((0.40, 0.29, 0.156), (0.38, 0.40, 0.36), "partly"),        # the review's seed 2 below real
    ((0.15, 0.25, 0.19), (0.17, 0.21, 0.20), "not resolved"),
    ((0.10, 0.11, 0.09), (0.12, 0.10, 0.11), "not reproduced")])
def test_e5d_cifar_csr_per_seed(tmp_path, randx, randy, v):
    cifar_csr(tmp_path, randx, randy)
    assert verdict(C.e5_cifar_csr, tmp_path) == v


# ---------------------------------------------------------------------------------------------
# E6: regularizers (per-run summaries; training-mode random-label accuracy) and augmentation


def e6_item(root: Path, item: str, family: str, dataset: str, settings: dict, batches: bool = True) -> None:
    """An E6 item: settings[(strength, dropout)] = (random-label fit per seed, clean best val acc per seed);
    writes summary.csv (per run) and settings.csv (seed means, what Fig. 10's frontier reads)."""
    runs, means = [], []
    for (strength, rate), (fit, val) in settings.items():
        for s in SEEDS:
            for p, train, best in ((1.0, fit[s], 0.1), (0.0, 1.0, val[s])):
                row = {"regularizer": family, "dataset": dataset, "strength": strength, "dropout": rate, "p": p,
                       "seed": s, "best_val_acc": best, "final_train_acc": min(train + 0.05, 1.0)}
                if batches:
                    row["final_train_acc_batches"] = train
                if family == "adversarial":
                    row["adv_flipped"] = 0.12
                runs.append(row)
        means.append({"regularizer": family, "dataset": dataset, "strength": strength, "dropout": rate,
                      "random_train_acc": float(np.mean(fit)), "best_val_acc": float(np.mean(val)), "seeds": 3})
    write(root, f"e6/{item}/summary", runs)
    write(root, f"e6/{item}/settings", means)


def const(v: float) -> tuple:
    return (v, v, v)


def shifted(base: tuple, d: tuple) -> tuple:
    return tuple(b + x for b, x in zip(base, d))


NONE_FIT, NONE_VAL = (0.99, 0.995, 0.985), (0.87, 0.86, 0.88)


def dropout_item(root: Path, rate_fit: dict, item="dropout", dataset="mnist10k", val=NONE_VAL) -> None:
    e6_item(root, item, "dropout", dataset, {(0.0, 0.0): (NONE_FIT, NONE_VAL),
                                             **{(r, r): (fit, val) for r, fit in rate_fit.items()}})


@pytest.mark.parametrize("fit, v", [
    ((0.60, 0.62, 0.58), "reproduced"),      # cut by 0.39 ± 0.02, clean accuracy kept
    ((0.88, 0.95, 0.85), "not resolved"),    # cut 0.10 ± 0.05 around e6_drop: inside
    ((0.98, 0.97, 0.98), "not reproduced")])
def test_e6a_dropout(tmp_path, fit, v):
    dropout_item(tmp_path, {0.5: fit})
    assert verdict(C.e6_dropout, tmp_path) == v


def test_e6a_dropout_must_keep_clean_accuracy(tmp_path):
    dropout_item(tmp_path, {0.9: (0.2, 0.21, 0.19)}, val=(0.70, 0.71, 0.69))
    assert verdict(C.e6_dropout, tmp_path) != "reproduced"


def test_e6a_reads_training_mode_accuracy(tmp_path):
    """final_train_acc_batches (dropout on, as Keras logs it) is judged; eval-mode final_train_acc only
    when a summary lacks it."""
    dropout_item(tmp_path, {0.5: (0.60, 0.62, 0.58)})
    s = pd.read_csv(tmp_path / "e6/dropout/summary.csv")
    s.assign(final_train_acc=s["final_train_acc_batches"], final_train_acc_batches=0.99).to_csv(
        tmp_path / "e6/dropout/summary.csv", index=False)
    assert verdict(C.e6_dropout, tmp_path) == "not reproduced"
    s.drop(columns="final_train_acc_batches").assign(final_train_acc=s["final_train_acc_batches"]).to_csv(
        tmp_path / "e6/dropout/summary.csv", index=False)
    assert verdict(C.e6_dropout, tmp_path) == "reproduced"


def test_e6a_judges_every_data_set(tmp_path):
    dropout_item(tmp_path, {0.5: (0.60, 0.62, 0.58)})
    dropout_item(tmp_path, {0.5: (0.98, 0.97, 0.98)}, item="cifar_dropout", dataset="cifar10")
    ours, v = judge(C.e6_dropout, tmp_path)
    assert v == "partly" and ours.index("cifar10") < ours.index("mnist10k")


ALONE = {0.3: (0.95, 0.96, 0.94), 0.5: (0.75, 0.73, 0.77)}


def e6b_tables(root: Path, diffs: dict, dataset="mnist10k", prefix="") -> None:
    """Dropout alone at 0.3 and 0.5; adversarial + dropout at w 0.3 and 0.6, each rate: diffs[(w, rate)]
    = per seed, dropout alone minus adversarial + dropout (positive = the paper's way)."""
    dropout_item(root, ALONE, item=f"{prefix}dropout", dataset=dataset)
    e6_item(root, f"{prefix}adversarial", "adversarial", dataset,
            {(w, r): (tuple(a - d for a, d in zip(ALONE[r], diff)), NONE_VAL) for (w, r), diff in diffs.items()})


PAIRS = [(0.3, 0.3), (0.3, 0.5), (0.6, 0.3), (0.6, 0.5)]


@pytest.mark.parametrize("diff, v", [(UP, "reproduced"), (MIXED, "not resolved"), (DOWN, "not reproduced")])
def test_e6b_adversarial_plus_dropout_against_dropout_alone(tmp_path, diff, v):
    e6b_tables(tmp_path, {pair: diff for pair in PAIRS})
    ours, got = judge(C.e6_adversarial_vs_dropout, tmp_path)
    assert got == v and "shown, not judged" in ours and "LASS flipped 12.0%" in ours


def test_e6b_one_lower_pair_inside_the_spread_no_longer_gives_partly(tmp_path):
    """The review's chance branch: one of several pairs is lower on average, but every difference lies
    inside the seed spread (seeds change sign). It used to give 'partly'."""
    lower = (0.03, -0.01, 0.02)                          # mean 0.013, SE 0.012: inside
    e6b_tables(tmp_path, {(0.3, 0.3): lower, (0.3, 0.5): MIXED, (0.6, 0.3): (-0.02, 0.01, 0.005),
                          (0.6, 0.5): (0.01, -0.02, 0.0)})
    assert C.paired(lower) == "inside"
    assert verdict(C.e6_adversarial_vs_dropout, tmp_path) == "not resolved"


def test_e6b_does_not_judge_the_frontier(tmp_path):
    """Fig. 10's frontier is built from seed means: shown beside the verdict, never changing it."""
    e6b_tables(tmp_path, {pair: UP for pair in PAIRS})
    s = pd.read_csv(tmp_path / "e6/dropout/settings.csv")     # dropout alone: the better frontier at low fit
    s.loc[len(s)] = {**s.iloc[-1].to_dict(), "strength": 0.9, "dropout": 0.9, "random_train_acc": 0.2,
                     "best_val_acc": 0.95}
    s.to_csv(tmp_path / "e6/dropout/settings.csv", index=False)
    ours, v = judge(C.e6_adversarial_vs_dropout, tmp_path)
    assert v == "reproduced" and "dropout 0.950" in ours


def test_e6b_per_data_set_and_missing_items(tmp_path):
    dropout_item(tmp_path, ALONE)
    with pytest.raises(C.Missing):
        judge(C.e6_adversarial_vs_dropout, tmp_path)        # no adversarial item: nothing to compare
    e6b_tables(tmp_path, {pair: UP for pair in PAIRS})
    e6b_tables(tmp_path, {pair: DOWN for pair in PAIRS}, dataset="cifar10", prefix="cifar_")
    ours, v = judge(C.e6_adversarial_vs_dropout, tmp_path)
    assert v == "not reproduced" and ours.index("cifar10") < ours.index("mnist10k")


def augment_rows(drops: dict) -> list[dict]:
    """Random-label final train acc per seed: none, and each augmentation at 0.1 and 0.3 (the strongest,
    judged) lowering it by drops[aug] per seed."""
    rows = []
    for s in SEEDS:
        base = (0.99, 0.995, 0.985)[s]
        rows.append({"kind": "randY", "p": 1.0, "seed": s, "augment": "none", "strength": 0.0, "final_train_acc": base})
        rows.append({"kind": "none", "p": 0.0, "seed": s, "augment": "none", "strength": 0.0, "final_train_acc": 1.0})
        for aug, d in drops.items():
            rows.append({"kind": "randY", "p": 1.0, "seed": s, "augment": aug, "strength": 0.1,
                         "final_train_acc": base - 0.5})             # the weaker setting is not judged
            rows.append({"kind": "randY", "p": 1.0, "seed": s, "augment": aug, "strength": 0.3,
                         "final_train_acc": base - d[s]})
    return rows


@pytest.mark.parametrize("d, v", [(UP, "reproduced"), (MIXED, "not resolved"), (DOWN, "not reproduced")])
def test_augmentation_slows_random_labels(tmp_path, d, v):
    write(tmp_path, "augment/mnist/summary", augment_rows({"rotate": d, "blur": d}))
    assert verdict(C.augment_slows, tmp_path) == v


def test_augmentation_partly_when_some_do(tmp_path):
    write(tmp_path, "augment/mnist/summary", augment_rows({"rotate": UP, "blur": MIXED}))
    assert verdict(C.augment_slows, tmp_path) == "partly"


# ---------------------------------------------------------------------------------------------
# The scoreboard: missing tables, conclusions, headline, rule changes


def test_missing_tables_are_not_run(tmp_path):
    table = C.score(tmp_path, CFG)
    assert set(table["verdict"]) == {"not run"}
    assert (table[table["kind"] != "conclusion"]["ours"].str.startswith("missing")).all()
    assert (table["rule"].str.len() > 10).all()
    assert {cid for cid, *_ in C.CLAIMS} | {cid for cid, *_ in C.CONCLUSIONS} == set(table["id"])


def test_e2_tables_without_definitions_are_not_run(tmp_path):
    """Tables written before both definitions were kept cannot be judged."""
    write(tmp_path, "e2/gini", [{k: v for k, v in r.items() if k != "definition"}
                                for r in gini_rows({"transfer": (UP, UP)})])
    by_id = C.score(tmp_path, CFG).set_index("id")
    assert by_id.at["E2a", "verdict"] == "not run" and "definition" in by_id.at["E2a", "ours"]
    assert by_id.at["E2b", "verdict"] == "not run"


@pytest.mark.parametrize("support, v", [
    (["reproduced", "reproduced"], "reproduced"),
    (["not run", "not run"], "not run"),
    (["reproduced", "not run"], "partly"),
    (["reproduced", "not reproduced"], "partly"),
    (["partly", "not resolved"], "partly"),
    (["depends on definition", "reproduced"], "partly"),
    (["depends on definition", "not reproduced"], "partly"),
    (["not reproduced", "not resolved"], "not reproduced"),
    (["not reproduced", "not run"], "not reproduced"),
    (["not resolved", "not run"], "not resolved"),
    (["not resolved", "not resolved"], "not resolved"),
])
def test_conclude(support, v):
    assert C.conclude(support) == v


def test_conclusions_follow_their_claims_in_the_table(tmp_path):
    """E5 alone: E5a and E5b reproduced, E2a not run: C2 (E2a, E5a, E5b) partly; C3 (E6) not run."""
    write(tmp_path, "e5/mnist/summary",
          e5_rows({p: fall((0.2, 0.22, 0.21)) for p in CSR_P},
                  csr=csr_table([(0.01, 0.05, 0.1, 0.3), (0.01, 0.06, 0.12, 0.28), (0.02, 0.04, 0.11, 0.31)])))
    table = C.score(tmp_path, CFG)
    assert set(table["verdict"]) <= set(C.VERDICTS)
    by_id = table.set_index("id")
    assert by_id.at["E5a", "verdict"] == "reproduced" and by_id.at["E5b", "verdict"] == "reproduced"
    assert by_id.at["E1a", "verdict"] == "not run"
    assert by_id.at["C2", "verdict"] == "partly" and by_id.at["C2", "ours"] == (
        "E2a: not run, E5a: reproduced, E5b: reproduced")
    assert by_id.at["C3", "verdict"] == "not run"
    assert (table["kind"] == "conclusion").sum() == len(C.CONCLUSIONS)


def test_headline_counts_the_papers_experimental_claims_only(tmp_path):
    table = C.score(tmp_path, CFG)
    assert C.headline(table) == {"repro": 0, "partly": 0, "open": 0, "not": 0}     # nothing run
    set_to = {"E1a": "reproduced", "E1b": "reproduced", "E2a": "partly", "E3a": "not reproduced",
              "E2b": "depends on definition", "E5a": "not resolved",
              "E4r": "reproduced", "AUG": "not reproduced", "C1": "reproduced"}  # story and conclusions: not counted
    for cid, v in set_to.items():
        table.loc[table["id"] == cid, "verdict"] = v
    assert C.headline(table) == {"repro": 2, "partly": 2, "open": 1, "not": 1}  # partly: partly or depends


def test_every_changed_rule_is_a_claim_and_reaches_the_table(tmp_path):
    """The scoreboard lists why a rule changed: each RULE_CHANGES entry names a real claim, says when and
    why, and lands in that claim's row of claims.csv (and nowhere else)."""
    ids = {cid for cid, *_ in C.CLAIMS}
    assert C.RULE_CHANGES and set(C.RULE_CHANGES) <= ids
    assert all(text.startswith("20") and len(text) > 40 for text in C.RULE_CHANGES.values())
    table = C.score(tmp_path, CFG)
    changed = table.set_index("id")["rule_change"]
    for cid in ids:
        assert changed[cid] == C.RULE_CHANGES.get(cid, "")
    assert (table[table["kind"] == "conclusion"]["rule_change"] == "").all()


def test_every_rule_text_names_its_thresholds_from_params(tmp_path):
    rules = C.score(tmp_path, CFG).set_index("id")["rule"]
    assert str(CFG.e1_ks) in rules["E1b"] and str(CFG.e4_growth) in rules["E4b"]
    assert str(CFG.min_noise) in rules["E5a"] and str(CFG.e6_drop) in rules["E6a"]
    assert "2 standard errors" in rules["E3b"]


@pytest.mark.parametrize("bad", [{"e1_span": 2.0}, {"unknown": 1}, {"e2_seeds_share": 0.6}])
def test_bad_thresholds_name_the_key(bad):
    with pytest.raises(C.ConfigError, match="claims"):
        C.parse(C.Config, bad, "claims")
