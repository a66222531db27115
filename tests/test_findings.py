"""The claims stage's findings (artifacts/claims/findings.csv): the answers of the pages' predict-then-reveal
questions and their other statements, judged by the scoreboard's rules against the seed spread. On small
hand-made tables each answer follows its rule; on the committed artifacts, each page's reveal says what
findings.csv says (the pages judge nothing themselves), checked by running the pages with AppTest."""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explainer import artifacts as A, questions as Q
from test_claims import CFG, DOWN, MIXED, SEEDS, UP, augment_rows, e1_summary, e4_rows, per_seed, write
from training.stages import claims as C

ROOT = Path(__file__).resolve().parent.parent
OPTIONS = {"WIDTH": Q.WIDTH[1], "FASTER": Q.FASTER[1], "AUGMENT": Q.AUGMENT[1], "STOP": Q.STOP[1]}
UNDECIDED = {"not resolved", "not run"}  # what reveal() says instead of an option


def found(root: Path, key: str, item: str = "", p: float | None = None) -> tuple[str, str]:
    f = C.findings(root, CFG)
    rows = f[(f["key"] == key) & (f["item"] == item)]
    if p is not None:
        rows = rows[np.isclose(rows["p"].astype(float), p)]
    assert len(rows) == 1, (key, item, p, f[["key", "item", "p", "answer"]])
    return rows["answer"].iloc[0], rows["why"].iloc[0]


def answer(root: Path, key: str, item: str = "", p: float | None = None) -> str:
    return found(root, key, item, p)[0]


# ---------------------------------------------------------------------------------------------
# Hand-made tables


@pytest.mark.parametrize("clean, noise, truth", [
    ((0.80, 0.85, 0.75), (0.30, 0.35, 0.40), "pure noise"),
    ((0.95, 1.05, 1.00), (1.05, 0.95, 1.01), "not resolved"),
    ((0.40, 0.45, 0.35), (0.80, 0.85, 0.75), "real digits")])
def test_width(tmp_path, clean, noise, truth):
    write(tmp_path, "e4/width/summary", e4_rows("width", {("none", 0.0): per_seed(clean), ("randX", 1.0): per_seed(noise)}))
    got, why = found(tmp_path, "WIDTH")
    assert got == truth and "per seed" in why


def e5_curves(root: Path, first: dict, item="mnist", epochs=10) -> None:
    """first[kind] = per seed, the epoch at which training accuracy reaches 100 % at p = 1 (None: never;
    it stops at 0.9). Writes curves.csv and a summary.csv (which makes the item an E5 item)."""
    curves, summary = [], []
    for kind, when in first.items():
        for s, e in zip(SEEDS, when):
            for epoch in range(epochs + 1):
                acc = 1.0 if e is not None and epoch >= e else min(0.9, 0.1 + 0.1 * epoch)
                curves.append({"kind": kind, "p": 1.0, "seed": s, "epoch": epoch, "train_acc": acc, "val_acc": 0.1})
            summary.append({"kind": kind, "p": 1.0, "seed": s, "best_epoch": 1, "best_val_acc": 0.12,
                            "final_val_acc": 0.1, "fit_epoch": e, "final_train_acc": curves[-1]["train_acc"]})
    summary += [{"kind": "none", "p": 0.0, "seed": s, "best_epoch": 5, "best_val_acc": 0.95, "final_val_acc": 0.95,
                 "fit_epoch": 5, "final_train_acc": 1.0} for s in SEEDS]
    write(root, f"e5/{item}/curves", curves)
    write(root, f"e5/{item}/summary", summary)


@pytest.mark.parametrize("first, truth", [
    ({"randY": (3, 4, 3), "randX": (8, 7, 9)}, "shuffled labels"),
    ({"randY": (8, 7, 9), "randX": (3, 4, 3)}, "pure static"),
    ({"randY": (None, None, 9), "randX": (3, 4, 3)}, "pure static"),     # never fitting counts as slowest
    ({"randY": (3, 8, 5), "randX": (6, 4, 5)}, "not resolved"),          # seeds disagree
    ({"randY": (None, None, None), "randX": (None, None, None)}, "neither fits at all")])
def test_faster(tmp_path, first, truth):
    e5_curves(tmp_path, first)
    assert answer(tmp_path, "FASTER", "mnist") == truth


def test_faster_per_data_set(tmp_path):
    e5_curves(tmp_path, {"randY": (3, 4, 3), "randX": (8, 7, 9)}, item="mnist")
    e5_curves(tmp_path, {"randY": (8, 7, 9), "randX": (3, 4, 3)}, item="cifar10")
    assert answer(tmp_path, "FASTER", "mnist") == "shuffled labels"
    assert answer(tmp_path, "FASTER", "cifar10") == "pure static"


@pytest.mark.parametrize("d, truth, verdict", [(UP, "harder", "reproduced"), (MIXED, "not resolved", "not resolved"),
                                               (DOWN, "easier", "not reproduced")])
def test_augment_follows_the_aug_claim(tmp_path, d, truth, verdict):
    write(tmp_path, "augment/mnist/summary", augment_rows({"rotate": d, "blur": d}))
    assert answer(tmp_path, "AUGMENT", "mnist") == truth
    assert C.score(tmp_path, CFG).set_index("id").at["AUG", "verdict"] == verdict


def stop_rows(falls: dict, fit_epoch=25) -> list[dict]:
    """E5 summary: clean runs falling 0.004–0.006 after their peak; randY at each p falling by the clean
    fall plus falls[p] per seed."""
    clean = (0.004, 0.006, 0.005)
    rows = [{"kind": "none", "p": 0.0, "seed": s, "best_epoch": 20, "best_val_acc": 0.96,
             "final_val_acc": 0.96 - clean[s], "fit_epoch": 22, "final_train_acc": 1.0} for s in SEEDS]
    for p, extra in falls.items():
        rows += [{"kind": "randY", "p": p, "seed": s, "best_epoch": 4, "best_val_acc": 0.9,
                  "final_val_acc": 0.9 - clean[s] - extra[s], "fit_epoch": fit_epoch, "final_train_acc": 1.0}
                 for s in SEEDS]
    return rows


def test_stop_per_noise_level(tmp_path):
    write(tmp_path, "e5/mnist/summary", stop_rows({0.2: MIXED, 0.4: UP, 0.8: DOWN}))
    assert answer(tmp_path, "STOP", "mnist", 0.2) == "not resolved"
    assert answer(tmp_path, "STOP", "mnist", 0.4) == "early, before it memorizes the shuffled labels"
    assert answer(tmp_path, "STOP", "mnist", 0.8) == "at the end, once it fits everything"
    assert "3 of 3 runs fit" in found(tmp_path, "STOP", "mnist", 0.4)[1]


def test_stop_agrees_with_e5a_per_level(tmp_path):
    """STOP at p is E5a's comparison at p (the fall after the peak against the clean runs', per seed)."""
    write(tmp_path, "e5/mnist/summary", stop_rows({0.2: UP, 0.4: UP}))
    ours, v = C.e5_peak_before_fit(C.Tables(tmp_path), CFG)
    assert v == "reproduced" and all(answer(tmp_path, "STOP", "mnist", p).startswith("early") for p in (0.2, 0.4))


def test_e1_statements_per_data_set(tmp_path):
    e1_summary(tmp_path, real_span=(0.0, 1.0), gap_class=0.3, q99=(0.31, 0.35), ds="mnist")
    assert answer(tmp_path, "E1a", "mnist") == "yes"
    assert answer(tmp_path, "E1b", "mnist") == "no"
    assert answer(tmp_path, "E1c", "mnist") == "not resolved"


def test_fit_and_chance(tmp_path):
    rows = stop_rows({0.4: UP})
    rows += [{"kind": "randX", "p": 1.0, "seed": s, "best_epoch": 1, "best_val_acc": 0.12, "final_val_acc": acc,
              "fit_epoch": 10, "final_train_acc": fit} for s, acc, fit in zip(SEEDS, (0.09, 0.11, 0.1), (1.0, 0.995, 1.0))]
    rows += [{"kind": "randY", "p": 1.0, "seed": s, "best_epoch": 1, "best_val_acc": 0.12, "final_val_acc": 0.3,
              "fit_epoch": None, "final_train_acc": fit} for s, fit in zip(SEEDS, (0.97, 0.999, 1.0))]
    write(tmp_path, "e5/mnist/summary", rows)
    assert answer(tmp_path, "fit/randX", "mnist", 1.0) == "yes" and answer(tmp_path, "chance/randX", "mnist", 1.0) == "yes"
    assert answer(tmp_path, "fit/randY", "mnist", 1.0) == "no" and answer(tmp_path, "chance/randY", "mnist", 1.0) == "no"


def test_missing_tables_give_not_run(tmp_path, monkeypatch):
    f = C.findings(tmp_path, CFG)
    assert list(f.columns) == ["key", "item", "p", "answer", "why", "claim", "evidence"]
    assert set(f["answer"]) == {"not run"} and set(f["key"]) <= {key for key, *_ in C.FINDINGS}
    # a per-data-set question finds no data set, so it has no row at all; the page then says "not run":
    C.write_csv(f, tmp_path / "claims" / "findings.csv")
    monkeypatch.setenv(A.ENV, str(tmp_path))
    monkeypatch.setenv(A.RESULTS_ENV, str(tmp_path / "no-results"))
    from explainer import ui
    assert ui.answer("WIDTH")[0] == "not run"
    assert ui.answer("STOP", "mnist", 0.4)[0] == "not run" and "no finding 'STOP'" in ui.answer("STOP", "mnist", 0.4)[1]


def test_every_answer_is_an_option_of_its_question(tmp_path):
    write(tmp_path, "e4/width/summary", e4_rows("width", {("none", 0.0): per_seed((0.8, 0.85, 0.75)),
                                                          ("randX", 1.0): per_seed((0.3, 0.35, 0.4))}))
    e5_curves(tmp_path, {"randY": (3, 4, 3), "randX": (8, 7, 9)})
    write(tmp_path, "augment/mnist/summary", augment_rows({"rotate": UP}))
    f = C.findings(tmp_path, CFG)
    for key, options in OPTIONS.items():
        assert set(f[f["key"] == key]["answer"]) <= set(options) | UNDECIDED, key


# ---------------------------------------------------------------------------------------------
# The pages' reveals against findings.csv, on the committed artifacts (AppTest)

NEEDED = ["e4/width/summary.csv", "e5/mnist/curves.csv", "e5/mnist/summary.csv", "augment/mnist/summary.csv"]
PAGES = {  # page: (question, its dataset picker's key, the stage folder it picks from)
    "03_factors": ("WIDTH", None, None),
    "04_experiment_time": ("FASTER", "exp-dataset", "e5"),
    "06_data_augmentation": ("AUGMENT", "aug-dataset", "augment"),
    "08_training_time": ("STOP", "time-dataset", "e5"),
}


def result_set(dest: Path) -> Path:
    """A scratch copy of the committed artifacts/ with the claims stage's claims.csv and findings.csv
    written by this checkout's code."""
    lacking = [f for f in NEEDED if not (ROOT / "artifacts" / f).is_file()]
    if lacking:
        pytest.skip(f"not produced yet: {', '.join(lacking)} (run `dvc repro`)")
    shutil.copytree(ROOT / "artifacts", dest)
    C.write_csv(C.score(dest, CFG), dest / "claims" / "claims.csv")
    C.write_csv(C.findings(dest, CFG), dest / "claims" / "findings.csv")
    return dest


@pytest.fixture(scope="module")
def committed(tmp_path_factory) -> Path:
    return result_set(tmp_path_factory.mktemp("committed") / "artifacts")


@pytest.fixture(scope="module")
def tampered(tmp_path_factory) -> Path:
    """The same result set with every reveal's answer in findings.csv changed (to another option, and
    FASTER on MNIST to "not resolved") and its why marked: a page that judged for itself would not follow."""
    root = result_set(tmp_path_factory.mktemp("tampered") / "artifacts")
    f = pd.read_csv(root / "claims" / "findings.csv", keep_default_na=False)
    for i, row in f.iterrows():
        if row["key"] in OPTIONS:
            options = OPTIONS[row["key"]]
            now = options.index(row["answer"]) if row["answer"] in options else -1
            f.at[i, "answer"] = options[(now + 1) % len(options)]
            f.at[i, "why"] = f"tampered {row['key']} {row['item']} {row['p']}"
    f.loc[(f["key"] == "FASTER") & (f["item"] == "mnist"), "answer"] = "not resolved"
    f.to_csv(root / "claims" / "findings.csv", index=False)
    return root


def open_page(page: str, root: Path, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from test_app_pages import BY_FILE, show_me
    monkeypatch.setenv(A.ENV, str(root))                               # every rerun reads this result set
    monkeypatch.setenv(A.RESULTS_ENV, str(root.parent / "no-results"))  # and no other
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(BY_FILE[page].file).run()
    return show_me(at)


def expected(root: Path, key: str, item: str, p: float | None) -> tuple[str, str]:
    f = pd.read_csv(root / "claims" / "findings.csv", keep_default_na=False)
    rows = f[(f["key"] == key) & (f["item"].astype(str) == item)]
    if p is not None:
        rows = rows[np.isclose(pd.to_numeric(rows["p"]), p)]
    assert len(rows) == 1, f"findings.csv has {len(rows)} rows for {key} {item} p={p}"
    return rows["answer"].iloc[0], rows["why"].iloc[0]


def assert_reveals(at, truth: str, why: str, where: str) -> None:
    """The reveal after "Just show me" (ui.reveal) says `truth` with its why."""
    assert not at.exception, (where, at.exception)
    if truth == "not resolved":
        boxes, says = [i.value for i in at.info], "**Our runs cannot tell:**"
    elif truth == "not run":
        boxes, says = [i.value for i in at.info], "**Not measured in this result set yet.**"
    else:
        boxes, says = [s.value for s in at.success], f"**What our runs say:** {truth}."
    assert any(says in b and why[1:] in b for b in boxes), (where, truth, why, boxes)
    others = [o for o in OPTIONS_OF[where.split(" ")[0]] if o != truth]
    assert not any(f"**What our runs say:** {o}." in s.value for s in at.success for o in others), where


OPTIONS_OF = {page: OPTIONS[key] for page, (key, *_) in PAGES.items()}


def datasets(root: Path, folder: str | None) -> list[str]:
    if folder is None:
        return [""]
    return [d for d in ("mnist", "cifar10") if (root / folder / d).is_dir()] or ["mnist"]


def randy_levels(root: Path, item: str) -> list[float]:
    """The levels page 8's slider offers (figdata.noise_levels): randY's partial levels, else all."""
    c = pd.read_csv(root / "e5" / item / "curves.csv", usecols=["kind", "p"])
    levels = sorted(c.loc[c["kind"] == "randY", "p"].unique())
    return [p for p in levels if p < 1.0] or levels


def check_page(page: str, root: Path, monkeypatch) -> int:
    """Every dataset the page offers (a fresh session each, so page 8's slider starts at its default) and on
    page 8 every slider position: the reveal says findings.csv's answer. Returns how many were checked."""
    from test_app_pages import show_me
    key, picker, folder = PAGES[page]
    offered, checked = datasets(root, folder), 0
    for ds in offered:
        at = open_page(page, root, monkeypatch)
        if picker and len(offered) > 1:
            show_me(at.segmented_control(key=picker).set_value(ds).run())
        if key != "STOP":
            assert_reveals(at, *expected(root, key, ds, None), f"{page} {ds}")
            checked += 1
            continue
        slider = at.select_slider(key="time-p")
        levels = randy_levels(root, ds)
        assert np.isclose(slider.value, levels[len(levels) // 2]), (slider.value, levels)  # the slider's default p
        assert_reveals(at, *expected(root, key, ds, slider.value), f"{page} {ds} p={slider.value:g} (default)")
        checked += 1
        for p in levels:
            at.select_slider(key="time-p").set_value(p).run()
            assert_reveals(at, *expected(root, key, ds, p), f"{page} {ds} p={p:g}")
            checked += 1
    return checked


@pytest.mark.slow  # four pages through AppTest, every dataset and noise level (about 10 s)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_reveal_says_the_scoreboards_answer(page, committed, monkeypatch):
    assert check_page(page, committed, monkeypatch) >= 1


@pytest.mark.slow
@pytest.mark.parametrize("page", list(PAGES))
def test_each_reveal_follows_findings_csv_not_its_own_judgement(page, tampered, monkeypatch):
    assert check_page(page, tampered, monkeypatch) >= 1


def test_committed_findings_answer_from_the_questions_options(committed):
    f = pd.read_csv(committed / "claims" / "findings.csv", keep_default_na=False)
    for key, options in OPTIONS.items():
        rows = f[f["key"] == key]
        assert len(rows), key
        assert set(rows["answer"]) <= set(options) | UNDECIDED, (key, set(rows["answer"]))


# ---------------------------------------------------------------------------------------------
# No page holds a verdict threshold: what a page says about its runs comes from findings.csv or
# claims.csv, judged against the seed spread; a page never compares a measurement with a number of its own.


def _literal(node: ast.AST) -> bool:
    """A float literal, alone or in arithmetic: 0.1, -0.02, best - 0.005, 2 * 0.1."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, float)
    if isinstance(node, ast.UnaryOp):
        return _literal(node.operand)
    if isinstance(node, ast.BinOp):
        return _literal(node.left) or _literal(node.right)
    return False


def _abs(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and "abs" in (getattr(node.func, "id", None), getattr(node.func, "attr", None))


def thresholds(source: str) -> list[tuple[int, str]]:
    """(line, code) of every ordering comparison (<, <=, >, >=) with a float literal or an abs(...) as an
    operand, f-string expressions included. Equality (selecting p == 1.0) and floats inside calls or
    subscripts (layout widths, quantile labels, arguments) are not verdicts and pass."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for op in node.ops):
            if any(_literal(o) or _abs(o) for o in (node.left, *node.comparators)):
                hits.append((node.lineno, ast.unparse(node)))
    return hits


OLD_VERDICTS = [  # what the pages judged themselves before the claims stage's findings (git: before 2026-12-03)
    'truth = "early, before it memorizes the shuffled labels" if drop > 0.005 else "at the end, once it fits everything"',
    'truth = "no difference" if abs(gap) < 0.02 else "harder" if gap < 0 else "easier"',
    'truth = ("about the same for both" if abs(clean - noise) < 0.1 else "pure noise" if noise < clean else "real digits")',
    'both_ace = min(real_train, rand_train) >= 0.99',
    'near = d["gap"] == d["gap"] and d["gap"] <= 0.15',
    'x = f"the network {\'often\' if view[\'true_peak\'] >= 0.3 else \'sometimes\'} answers"',
    'falls = stop["final"] < stop["best"] - 0.005',
]
NOT_VERDICTS = [
    'left, right = st.columns([0.3, 0.7])',
    'full = curves[curves["p"] == 1.0]',
    'noisy = [p for p in levels if p < 1]',
    'x = q.at["real", 0.95]',
    'ok = len(levels) < 2',
]


@pytest.mark.parametrize("line", OLD_VERDICTS)
def test_the_threshold_finder_finds_the_old_pages_verdicts(line):
    assert thresholds(line), line


@pytest.mark.parametrize("line", NOT_VERDICTS)
def test_the_threshold_finder_passes_layout_and_selection(line):
    assert not thresholds(line), line


ALLOWED: set[str] = set()  # "file:code" of a comparison that is clearly no verdict (none today)


def test_no_page_holds_a_verdict_threshold():
    found = [f"{f.name}:{line}: {code}" for f in sorted((ROOT / "chapters").glob("*.py"))
             for line, code in thresholds(f.read_text()) if f"{f.name}:{code}" not in ALLOWED]
    assert not found, "pages judge with their own thresholds (move the rule to training/stages/claims.py " \
                      "findings):\n" + "\n".join(found)
