"""The story app without a browser (Streamlit's AppTest): every page runs without an exception, shows
its heading and its charts (or the friendly note when its artifact is missing), and quotes numbers
that match the artifact they come from (recomputed here with plain pandas). Also: missing and
malformed artifacts, the artifact cache, the data shaping and the chart builders.

Pages read artifacts/ (or $EXPLAINER_ARTIFACTS); number checks skip, with a reason, for stages whose
results are not there yet.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from explainer import artifacts as A, charts as C, palette as P, tidy as T, ui  # noqa: E402
from explainer.story import CHAPTERS, STORY  # noqa: E402

from streamlit.testing.v1 import AppTest  # noqa: E402

ART = Path(os.environ.get(A.ENV) or ROOT / "artifacts")
BY_FILE = {Path(c.file).stem: c for c in CHAPTERS}


def show_me(at: AppTest) -> AppTest:
    """Press every "Just show me" of the page's predict-then-reveal questions (until none is left)."""
    for _ in range(5):
        buttons = [b for b in at.button if b.label == "Just show me"]
        if not buttons:
            break
        buttons[0].click().run()
    return at


def render(chapter, root: Path | None = None, answer: bool = True) -> AppTest:
    """Run app.py, then switch to `chapter`; `root` overrides the artifacts folder. With `answer`, every
    guess question is skipped with "Just show me", so the page shows all its charts and numbers."""
    old = os.environ.get(A.ENV)
    os.environ[A.ENV] = str(root or ART)
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.run()
        if chapter.file != CHAPTERS[0].file:
            at.switch_page(chapter.file)
            at.run()
        return show_me(at) if answer else at
    finally:
        if old is None:
            os.environ.pop(A.ENV, None)
        else:
            os.environ[A.ENV] = old


def text(at: AppTest) -> str:
    """Everything a reader sees as text: prose, metrics, captions and notes."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def alt_texts(at: AppTest) -> list[str]:
    """The accessible name of every chart drawn (what Streamlit hands Vega as the spec's description)."""
    return [c.proto.alt for c in at.get("vega_lite_chart")]


def needs(*files: str) -> None:
    lacking = [f for f in files if not (ART / f).is_file()]
    if lacking:
        pytest.skip(f"not produced yet: {', '.join(lacking)} (run `dvc repro`)")


# ---------------------------------------------------------------------------------------------
# Every page: no exception, a heading, charts or a friendly note


@pytest.mark.slow  # renders every chapter, the live lab too
def test_every_chapter_renders_without_error():
    """Including chapters beyond the story (the live lab): they start without an exception."""
    for chapter in CHAPTERS:
        at = render(chapter)
        assert not at.exception, (chapter.file, [e.value for e in at.exception])
        assert not at.error, (chapter.file, [e.value for e in at.error])
        assert at.title, chapter.file


@pytest.mark.parametrize("chapter", STORY, ids=[Path(c.file).stem for c in STORY])
def test_page_renders(chapter):
    at = render(chapter)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]  # the app's safety net shows an st.error
    assert at.title and at.title[0].proto.icon == chapter.icon, "the page heading carries its emoji as its icon"
    assert not ui.EMOJI.search(at.title[0].value), "the heading's text (its accessible name) has no emoji"
    notes = [i.value for i in at.info if "Waiting for numbers" in i.value or "No results" in i.value]
    if Path(chapter.file).stem != "11_final_thoughts":
        assert charts(at) or notes, "a page shows its charts, or says what is missing"
    for note in notes:
        assert "dvc repro" in note, "a missing-artifact note says how to regenerate it"
    captions = [c.value for c in at.caption]
    for alt in alt_texts(at):  # read off the chart: what it draws, with numbers (not "chart", not its caption)
        assert re.search(r"\d", alt) and not any(c.startswith(alt) for c in captions), alt
    sidebar = "\n".join(m.value for m in at.sidebar.markdown)
    assert "Where the numbers come from" in sidebar


@pytest.mark.parametrize("chapter", STORY, ids=[Path(c.file).stem for c in STORY])
@pytest.mark.slow  # one render per page; test_page_renders keeps every page in the fast loop
def test_page_without_any_artifact(chapter, tmp_path):
    at = render(chapter, tmp_path)
    assert not at.exception and not at.error
    assert not charts(at)
    notes = [i.value for i in at.info]
    assert notes and all("dvc repro" in n for n in notes)
    assert any("No measured results yet" in i.value for i in at.sidebar.info), "the sidebar says nothing ran yet"


def corrupt_copy(src: Path, dst: Path) -> None:
    """A copy of `src` where every CSV lost its header and every npz is garbage."""
    shutil.copytree(src, dst)
    for f in dst.rglob("*.csv"):
        f.write_text("this,is\nnot,a table of the expected kind\n1,2\n")
    for f in dst.rglob("*.npz"):
        f.write_bytes(b"not a zip file")


@pytest.mark.parametrize("chapter", STORY, ids=[Path(c.file).stem for c in STORY])
@pytest.mark.slow  # copies artifacts/ and renders each page
def test_page_with_malformed_artifacts(chapter, tmp_path):
    if not any(ART.rglob("*.csv")):
        pytest.skip("no artifacts to corrupt yet")
    corrupt_copy(ART, tmp_path / "art")
    at = render(chapter, tmp_path / "art")
    assert not at.exception and not at.error
    assert not charts(at)


# ---------------------------------------------------------------------------------------------
# Numbers in the prose match their artifacts


def mean_of(df: pd.DataFrame, col: str, **where) -> float:
    for k, v in where.items():
        df = df[np.isclose(df[k], v)] if isinstance(v, float) else df[df[k] == v]
    return float(df[col].mean())


def test_introduction_quotes_validation_accuracy():
    needs("e5/mnist/summary.csv")
    s = pd.read_csv(ART / "e5/mnist/summary.csv")
    worst = s.loc[s["kind"] == "randY", "p"].max()
    at = render(BY_FILE["01_introduction"])
    shown = text(at)
    assert ui.pct(mean_of(s, "final_val_acc", kind="none"), 1) in shown
    assert ui.pct(mean_of(s, "final_val_acc", kind="randY", p=float(worst)), 1) in shown
    assert len(charts(at)) == 1


def test_memorization_page_counts_parroted_labels():
    needs("e5/mnist/teaser.csv", "e5/mnist/teaser_gallery.npz")
    t = pd.read_csv(ART / "e5/mnist/teaser.csv")
    studied = t[t["split"] == "train"].head(12)
    parrot = int((studied["pred_random"] == studied["random_label"]).sum())
    at = render(BY_FILE["02_what_is_memorization"])
    assert f"**{parrot} of {len(studied)}**" in text(at)
    assert at.image, "the digit gallery is drawn"


def test_factors_page_quotes_capacity():
    needs("e3/randY/summary.csv")
    s = pd.read_csv(ART / "e3/randY/summary.csv")
    widest = s["width"].max()
    at = render(BY_FILE["03_factors"])
    assert ui.pct(mean_of(s, "best_val_acc", width=widest, p=0.0), 1) in text(at)


def test_experiment_page_quotes_final_validation():
    needs("e5/mnist/curves.csv")
    c = pd.read_csv(ART / "e5/mnist/curves.csv")
    last = c[(c["kind"] == "none") & (c["epoch"] == c["epoch"].max())]
    at = render(BY_FILE["04_experiment_time"])
    assert f"real {ui.pct(last['val_acc'].mean())}" in text(at)
    spec = charts(at)[0]
    assert spec["layer"][1]["encoding"]["strokeDash"]["field"] == "metric", "training vs validation by dash"


def test_regularization_page_quotes_random_label_fit():
    needs("e6/dropout/summary.csv", "e6/dropout/curves.csv")
    c = pd.read_csv(ART / "e6/dropout/curves.csv")
    rand = c[(c["p"] == 1.0) & (c["epoch"] == c["epoch"].max())]                     # random labels
    weakest = rand["strength"].min()
    at = render(BY_FILE["05_regularization"])
    assert ui.pct(rand[rand["strength"] == weakest]["train_acc"].mean()) in text(at)


def test_augmentation_page_quotes_random_label_fit():
    needs("augment/mnist/summary.csv")
    s = pd.read_csv(ART / "augment/mnist/summary.csv")
    at = render(BY_FILE["06_data_augmentation"])
    assert f"**{ui.pct(mean_of(s, 'final_train_acc', kind='randY', p=1.0, augment='none'))}**" in text(at)


def test_match_page_quotes_clean_csr_and_draws_the_clock():
    needs("e5/mnist/csr.csv", "e5/mnist/clock.csv")
    csr = pd.read_csv(ART / "e5/mnist/csr.csv")
    clean = csr[csr["kind"] == "none"]
    final = clean[clean["epoch"] == clean.groupby("run")["epoch"].transform("max")]["csr"].mean()
    at = render(BY_FILE["07_memorization_vs_generalization"])
    assert ui.num(final, 3) in text(at)
    specs = charts(at)
    clock = [s for s in specs if "state_name" in json.dumps(s.get("layer", [{}])[0].get("encoding", {}))]
    assert clock, "the memorization clock is drawn"


def test_training_time_page_marks_the_best_epoch():
    needs("e5/mnist/curves.csv")
    c = pd.read_csv(ART / "e5/mnist/curves.csv")
    levels = sorted(p for p in c.loc[c["kind"] == "randY", "p"].unique() if p < 1) or \
        sorted(c.loc[c["kind"] == "randY", "p"].unique())
    p = levels[len(levels) // 2]
    val = c[(c["kind"] == "randY") & np.isclose(c["p"], p)].groupby("epoch")["val_acc"].mean()
    at = render(BY_FILE["08_training_time"])
    assert f"in epoch {int(val.idxmax())}**" in text(at)
    assert at.metric[0].value == str(int(val.idxmax()))
    rules = [lyr for lyr in charts(at)[0]["layer"] if lyr.get("mark", {}).get("type") == "rule"]
    assert rules, "the early-stopping marker is drawn"


def test_design_page_names_a_measured_configuration():
    needs("e5/mnist/summary.csv")
    at = render(BY_FILE["09_model_design"])
    where = next(m.value for m in at.markdown if "Where each number comes from" in m.value)
    line = next(x for x in where.splitlines() if "validation accuracy" in x)
    folder = line.split("`artifacts/")[1].split("`")[0]
    s = pd.read_csv(ART / folder / "summary.csv")
    # the folder named for validation accuracy measured it, and the value shown is the seed-mean of one of
    # its measured configurations (every setting column of the table but the seed)
    assert "best_val_acc" in s, f"artifacts/{folder}/summary.csv has no best_val_acc"
    keys = [k for k in ("width", "n_train", "kind", "p", "regularizer", "strength", "augment", "dropout") if k in s]
    means = {ui.pct(v, 1) for v in s.groupby(keys)["best_val_acc"].mean()} if keys else {ui.pct(s["best_val_acc"].mean(), 1)}
    assert at.metric[0].label == "Best validation accuracy" and at.metric[0].value in means, (folder, means)


def test_conclusion_counts_verdicts():
    needs("claims/claims.csv")
    c = pd.read_csv(ART / "claims/claims.csv").fillna("")
    papers, own = c[c["kind"] == "experiment"], c[c["kind"] == "story"]  # the story's own claims, counted apart
    assert "AUG" in set(own["id"]) and "AUG" not in set(papers["id"])
    n = int((papers["verdict"] == "reproduced").sum())
    at = render(BY_FILE["10_conclusion"])
    assert f"Of the paper's **{len(papers)}** experimental claims: {ui.quiet('✅')} **{n}** reproduced" in text(at)
    assert any(h.value.startswith("The story's own claim") and h.proto.icon == "🧪" for h in at.subheader)


def test_final_thoughts_counts_result_folders():
    n = len(list(ART.glob("**/manifest.json")))
    if not n:
        pytest.skip("no manifests yet")
    at = render(BY_FILE["11_final_thoughts"])
    assert f"**{n}** result folders" in text(at)


# ---------------------------------------------------------------------------------------------
# The app's own machinery


@pytest.mark.slow  # every page in a fresh interpreter
def test_story_pages_do_not_import_torch():
    code = ("import sys; from streamlit.testing.v1 import AppTest; sys.path.insert(0, '.');"
            "from explainer.story import STORY\n"
            "at = AppTest.from_file('app.py', default_timeout=120); at.run()\n"
            "for c in STORY[1:]:\n    at.switch_page(c.file); at.run()\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert "NO-TORCH" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]


def test_table_cache_follows_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv(A.ENV, str(tmp_path))
    path = tmp_path / "x" / "t.csv"
    path.parent.mkdir()
    path.write_text("a,b\n1,2\n")
    assert A.table("x", "t", numeric=["a"])["a"].tolist() == [1]
    path.write_text("a,b\n7,2\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert A.table("x", "t", numeric=["a"])["a"].tolist() == [7]


def test_table_names_what_is_wrong(tmp_path, monkeypatch):
    monkeypatch.setenv(A.ENV, str(tmp_path))
    with pytest.raises(A.Missing, match="has not been produced") as err:
        A.table("e5/mnist", "curves")
    assert err.value.command == "dvc repro e5@mnist"
    (tmp_path / "e2").mkdir()
    (tmp_path / "e2" / "gini.csv").write_text("step,gini\nx,1\n")
    with pytest.raises(A.Missing, match="lacks the column"):
        A.table("e2", "gini", needs=["condition"])
    with pytest.raises(A.Missing, match="non-numeric"):
        A.table("e2", "gini", numeric=["step"])
    (tmp_path / "e2" / "m.npz").write_bytes(b"garbage")
    with pytest.raises(A.Missing, match="could not be read"):
        A.arrays("e2", "m")
    assert A.reproduce("e2") == "dvc repro e2" and A.reproduce("claims") == "dvc repro claims"


def test_spread_and_early_stop():
    df = pd.DataFrame({"epoch": [0, 0, 1, 1, 2, 2], "seed": [0, 1] * 3, "v": [0.1, 0.3, 0.8, 0.6, 0.5, 0.5]})
    agg = T.spread(df, ["epoch"], "v")
    assert agg["mean"].round(6).tolist() == [0.2, 0.7, 0.5]
    assert agg["n"].tolist() == [2, 2, 2] and agg.loc[2, "sd"] == 0
    stop = T.early_stop(agg)
    assert (stop["best_epoch"], stop["last_epoch"]) == (1, 2) and stop["saved_share"] == pytest.approx(0.5)


def test_clock_order_and_segments():
    clock = pd.DataFrame({"example": [1] * 4 + [2] * 4, "epoch": [0, 1, 2, 3] * 2,
                          "true_label": [3] * 4 + [4] * 4, "given_label": [3] * 4 + [9] * 4, "pred": 0,
                          "relabelled": [False] * 4 + [True] * 4,
                          "state": ["neither", "given", "given", "given", "true", "true", "neither", "given"]})
    ordered = T.clock_order(clock)
    learned = ordered.drop_duplicates("example").set_index("example")["learned_at"]
    assert learned[1] == 1 and learned[2] == 3
    assert ordered.groupby("example")["row"].first().tolist() == [0, 1], "kept labels above shuffled ones"
    seg = T.clock_segments(ordered)
    assert seg[["example", "state", "start", "end"]].values.tolist() == [
        [1, "neither", 0, 1], [1, "given", 1, 4], [2, "true", 0, 2], [2, "neither", 2, 3], [2, "given", 3, 4]]


def test_chart_builders_make_valid_vega_lite():
    agg = pd.DataFrame({"epoch": [0, 1, 0, 1], "condition": ["real", "real", "random labels", "random labels"],
                        "metric": "validation (clean)", "mean": [0.1, 0.9, 0.1, 0.2], "sd": 0.05, "n": 3})
    agg["lo"], agg["hi"] = agg["mean"] - agg["sd"], agg["mean"] + agg["sd"]
    scale = P.scale(P.KIND_COLOR, agg["condition"])
    by_p = agg.rename(columns={"epoch": "p"})
    ref = pd.DataFrame({"p": [0.0], "mean": [0.5]})
    for chart in (C.bands(agg, color="condition", scale=scale, y_title="a", dash="metric"),
                  C.epoch_marker(C.bands(agg, color="condition", scale=scale, y_title="a"), 1, "stop"),
                  C.by_level(by_p, color="condition", scale=scale, y_title="a", paper=ref, paper_y="mean"),
                  C.grouped_bars(agg, x="metric", color="condition", scale=scale, y_title="a")):
        spec = chart.to_dict()  # validates against the Vega-Lite schema
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


def test_palette_is_stable_across_pages():
    assert P.scale(P.KIND_COLOR, ["random labels", "real"]).to_dict()["range"] == [P.BLUE, P.MAGENTA]
    # noise levels: clean data is the "real" blue, p = 0.2, 0.4, ... 1.0 land on the ramp's stops, levels between
    # two stops mix them channel by channel, and p outside [0, 1] is clamped
    assert P.p_color(0.0) == P.p_color(-0.5) == P.BLUE
    assert [P.p_color(i / 5) for i in range(1, 6)] == P._PLASMA[1:]
    assert P.p_color(1.7) == P.p_color(1.0) == P._PLASMA[-1]
    rgb = lambda h: [int(h[k:k + 2], 16) for k in (1, 3, 5)]  # noqa: E731
    assert rgb(P.p_color(0.1)) == [round((a + b) / 2) for a, b in zip(rgb(P._PLASMA[0]), rgb(P._PLASMA[1]))]
    ramp = [P.p_color(i / 10) for i in range(11)]
    assert len(set(ramp)) == 11 and all(len(c) == 7 and c.startswith("#") for c in ramp)
    assert len(set(P.KIND_COLOR.values())) == len(P.KIND_COLOR)


def test_provenance_opens_with_reproduce_command_and_download():
    needs("e5/mnist/summary.csv")
    at = render(CHAPTERS[0])
    assert not at.download_button, "closed provenance panels render nothing"
    at.session_state["provenance-intro-teaser"] = True
    at.run()
    assert "dvc repro e5@mnist" in [c.value for c in at.code]
    assert at.download_button and at.download_button[0].proto.icon == "⬇️"
    (table,) = at.table  # the numbers drawn, as an HTML table a screen reader can walk
    assert 0 < len(table.value) <= 30 and table.value.shape[1] >= 1
    assert any(re.search(r"\d", str(v)) for v in table.value.to_numpy().ravel())
    shown = text(at)
    m = json.loads((ART / "e5/mnist/manifest.json").read_text())
    assert f"`{m['profile']}`" in shown and m["stage"] in shown


def test_derived_tables_follow_new_artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv(A.ENV, str(tmp_path))
    (tmp_path / "e9").mkdir()
    path = tmp_path / "e9" / "t.csv"
    path.write_text("a\n1\n2\n")

    @A.derived
    def total(folder: str) -> int:
        return int(A.table(folder, "t", numeric=["a"])["a"].sum())

    now = A._clock()
    monkeypatch.setattr(A, "_clock", lambda: now)
    assert total("e9") == 3
    (tmp_path / "e9" / "other.csv").write_text("b\n1\n")  # any new artifact invalidates the derived cache
    path.write_text("a\n10\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    # within one page run the folder is walked once (the stamp is reused for GENERATION_TTL_S) ...
    assert total("e9") == 3
    # ... and the next run after that sees the new table
    later = now + A.GENERATION_TTL_S + 0.1
    monkeypatch.setattr(A, "_clock", lambda: later)
    assert total("e9") == 10


def test_easy_hard_section_quotes_percentiles():
    needs("e1/mnist/examples.csv")
    ex = pd.read_csv(ART / "e1/mnist/examples.csv")
    real = ex.loc[ex["condition"] == "real", "p_correct"]
    at = render(BY_FILE["04_experiment_time"])
    shown = text(at)
    assert f"runs from {ui.pct(real.quantile(0.05))} (5th percentile) to {ui.pct(real.quantile(0.95))} (95th)" in shown
    assert len(charts(at)) >= 2, "learning curves and the sorted P(correct) curves"


def test_gini_round_quotes_final_gini():
    needs("e2/gini.csv")
    g = pd.read_csv(ART / "e2/gini.csv")
    at = render(BY_FILE["07_memorization_vs_generalization"])
    shown = text(at)
    if "definition" not in g.columns:                      # written before E2 measured two definitions
        assert "Waiting for numbers: the loss-sensitivity experiment (E2)" in shown and "definition" in shown
        return
    g = g[(g["panel"] == sorted(g["panel"].unique())[0]) & (g["definition"] == "own+transfer")]
    last = g[g["step"] == g["step"].max()].groupby("condition")["gini"].mean()
    for cond, value in last.items():
        assert f"**{cond}** {ui.num(value)}" in shown
