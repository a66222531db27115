"""Result sets: `training.run_profile` runs a profile without DVC into a folder beside artifacts/ with its
provenance, and the app's sidebar switches between the sets. Checked with the CPU set alone and with a
second set that run_profile makes here (the smoke profile, seconds)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from explainer import artifacts as A  # noqa: E402
from training.plan import pipeline  # noqa: E402
from training.resultset import md5_tree  # noqa: E402

from streamlit.testing.v1 import AppTest  # noqa: E402

ART = Path(os.environ.get(A.ENV) or ROOT / "artifacts")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A results/ folder holding one set: the smoke profile, run by run_profile (no DVC)."""
    folder = tmp_path_factory.mktemp("results")
    done = subprocess.run([sys.executable, "-m", "training.run_profile", "--profile", "smoke",
                           "--out", str(folder / "smoke"), "--git-revision", "test123"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return folder


@pytest.mark.pipeline  # the `results` fixture runs the whole smoke profile
def test_run_profile_writes_every_stage_with_provenance(results):
    info = json.loads((results / "smoke" / "resultset.json").read_text())
    stages = [s.name for s in pipeline()]
    assert info["profile"] == "smoke" and info["git_revision"] == "test123" and info["failed"] == []
    assert sorted(info["seconds"]) == sorted(stages)
    assert info["planner"]["total_tflop"] > 0 and set(info["planner"]["stages"]) == set(stages)
    for folder in ("e5/mnist", "e6/cifar_adversarial", "claims"):
        manifest = json.loads((results / "smoke" / folder / "manifest.json").read_text())
        assert manifest["profile"] == "smoke" and manifest["git_revision"] == "test123"
    assert (results / "smoke" / "claims" / "claims.csv").is_file()


@pytest.mark.pipeline  # the `results` fixture runs the whole smoke profile
def test_the_run_lock_hashes_what_the_run_wrote(results):
    lock = yaml.safe_load((results / "smoke" / "run.lock").read_text())["stages"]
    entry = lock["e5@mnist"]
    assert entry["cmd"].startswith("python -m training.stages.e5_partial_noise --item mnist")
    out = next(o for o in entry["outs"] if o["path"] == "artifacts/e5/mnist")
    assert out["md5"] == md5_tree(results / "smoke" / "e5" / "mnist")["md5"]
    assert entry["params"]["e5.mnist"]["n_train"] == 8000          # the section as params.yaml writes it
    assert entry["params"]["profiles.smoke"]["e5"]["mnist"]["n_train"] == 200  # dvc.yaml's profiles.${profile}
    assert any(d["path"] == "training/engine.py" for d in entry["deps"])


@pytest.mark.slow  # run_profile in a subprocess
def test_an_unknown_stage_is_refused_naming_the_allowed_ones(tmp_path):
    done = subprocess.run([sys.executable, "-m", "training.run_profile", "--profile", "smoke", "--out",
                           str(tmp_path / "x"), "--stages", "e9"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "e9" in done.stderr and "e5@mnist" in done.stderr


@pytest.fixture
def app(monkeypatch):
    """AppTest of app.py reading the committed artifacts/ and the result sets in `results` (the env stays
    set for the whole test: every later .run() reads the same sets)."""
    def start(results: Path, page: str | None = None, query: dict | None = None) -> AppTest:
        monkeypatch.setenv(A.ENV, str(ART))
        monkeypatch.setenv(A.RESULTS_ENV, str(results))
        A._sets.clear()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        for k, v in (query or {}).items():
            at.query_params[k] = v
        at.run()
        if page:
            at.switch_page(page)
            at.run()
        return at
    yield start
    A._sets.clear()


def _text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info])


def test_with_the_cpu_set_alone_the_sidebar_says_how_a_gpu_set_is_made(app, tmp_path):
    at = app(tmp_path / "no-results")
    assert not at.exception
    assert not at.sidebar.radio                                   # nothing to switch
    said = "\n".join(c.value for c in at.sidebar.caption)
    assert "python -m training.run_profile --profile gpu" in said and "CPU profile" in said


@pytest.mark.pipeline  # the `results` fixture runs the whole smoke profile
def test_two_sets_the_switch_changes_what_the_pages_read(app, results):
    at = app(results, "chapters/10_conclusion.py")
    assert not at.exception
    switch = at.sidebar.radio[0]
    assert len(switch.options) == 2
    assert switch.options[0].startswith("CPU profile") and switch.options[1].startswith("smoke test")
    assert switch.value == "cpu"                                  # the larger scale is the default
    assert "CPU profile" in at.info[0].value
    switch.set_value("smoke").run()
    assert not at.exception
    assert "smoke test" in at.info[0].value                       # the scoreboard names the set it reads
    assert any("Results: smoke test" in c.value for c in at.caption)  # and so does every chart's caption
    assert "smoke" in at.query_params["results"]                 # the link now names the set


@pytest.mark.pipeline  # the `results` fixture runs the whole smoke profile
def test_a_shared_link_opens_the_set_it_names(app, results):
    at = app(results, query={"results": "smoke"})
    assert not at.exception and at.sidebar.radio[0].value == "smoke"
    assert "smoke test" in _text(at)


@pytest.mark.pipeline  # the `results` fixture runs the whole smoke profile
def test_the_default_is_the_largest_scale_set_present(app, results, tmp_path):
    shutil.copytree(results / "smoke", tmp_path / "big")
    info = json.loads((tmp_path / "big" / "resultset.json").read_text())
    # the smoke set's nets memorize nothing (under-trained), which alone would keep it from being the default
    (tmp_path / "big" / "resultset.json").write_text(json.dumps({**info, "profile": "paper", "under_trained": False}))
    at = app(tmp_path, "chapters/10_conclusion.py")
    assert not at.exception
    assert at.sidebar.radio[0].value == "big" and "paper profile" in at.info[0].value


def _gpu_set(results: Path, under_trained: bool = False) -> None:
    """A GPU set that ended early: e5@cifar10 and e6@cifar_dropout finished (artifacts/' folders stand in for
    them), e6@cifar_adversarial killed at the deadline, every other stage skipped."""
    finished = {"e5@cifar10": "e5/cifar10", "e6@cifar_dropout": "e6/cifar_dropout"}
    for folder in finished.values():
        shutil.copytree(ART / folder, results / "gpu" / folder)
    stages = {s.name: {"status": "finished", "why": ""} if s.name in finished else
              {"status": "skipped", "why": "the deadline (510 s) came before it could start"} for s in pipeline()}
    stages["e6@cifar_adversarial"] = {"status": "timed out", "why": "killed at the deadline after 200 s"}
    (results / "gpu" / "resultset.json").write_text(json.dumps({
        "name": "gpu", "profile": "gpu", "device": "cuda", "device_name": "H200", "stages": stages,
        "under_trained": under_trained, "under_trained_why": "random labels are not memorized (e6/cifar_dropout)"}))


def test_a_partial_set_shows_what_it_has_and_names_the_set_shown_for_the_rest(app, tmp_path):
    _gpu_set(tmp_path)
    at = app(tmp_path)
    assert not at.exception
    switch = at.sidebar.radio[0]
    assert switch.value == "gpu" and "partial, 2 of" in switch.options[0]     # still the default: the largest scale
    said = "\n".join(c.value for c in at.sidebar.caption)
    assert "Partial set" in said and "CPU profile" in said and "`e5/mnist`" in said and "`e5/cifar10`" not in said
    assert any(e.label == "Stages of this set" for e in at.sidebar.expander)
    assert "killed at the deadline" in "\n".join(m.value for m in at.sidebar.markdown)
    shown = [c.value for c in at.caption if "Results:" in c.value]          # a chart of a stage the set lacks
    assert shown and all("CPU profile" in c and "has no `" in c for c in shown), shown
    assert A.source("e5/cifar10").name == "gpu" and A.source("e5/mnist").name == "cpu"   # outside a session too


def test_an_under_trained_set_is_marked_and_never_the_default(app, tmp_path):
    _gpu_set(tmp_path, under_trained=True)
    at = app(tmp_path)
    assert not at.exception and at.sidebar.radio[0].value == "cpu"
    assert "under-trained" in at.sidebar.radio[0].options[1]
    at = app(tmp_path, query={"results": "gpu"})                            # picked by a link, it shows, marked
    assert not at.exception and at.sidebar.radio[0].value == "gpu"
    assert "Under-trained" in at.sidebar.warning[0].value and "not memorized" in at.sidebar.warning[0].value
