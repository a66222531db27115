"""The live lab: knobs clamped from hostile input, its fixed settings from params.yaml, the pipeline's
own engine, configs and batches, stop / deadline / crash always freeing the trainer, each preset's
sentence, the session's comparison of runs, and AppTest runs of a real retrain, of hostile query
parameters, of the comparison and of two concurrent runs serialized by the lock."""
from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from explainer.lab import compare, runtime
from explainer.lab.knobs import Arm, Knobs, from_query, lab_config, lab_link, to_query
from explainer.lab.presets import PRESETS, lab_preset
from explainer.lab.trainer import Trainer, spec_of
from training.config import ConfigError, load_params, parse

ROOT = Path(__file__).resolve().parent.parent
LAB = str(ROOT / "chapters" / "12_lab.py")
TINY = {"n_train": "100", "width": "16", "epochs": "2", "noise": "randY", "noise_pct": "50"}
HOSTILE = {"n_train": "-5", "width": "1e12", "depth": "99999999999999999999", "lr": "nan", "epochs": "abc",
           "dropout": "-inf", "noise": "<script>alert(1)</script>", "noise_pct": "[150]", "seed": "9" * 400,
           "batch_size": "", "optimizer": "](javascript:x)", "twin": "maybe", "rotation": "1e999", "unknown": "1"}


@pytest.fixture(scope="module")
def trainer() -> Trainer:
    t = Trainer()
    assert t.wait_warm(600) and not t.warm_error, t.warm_error
    return t


def tiny(seed: int = 0, **kw) -> tuple[Arm, ...]:
    k = dataclasses.replace(Knobs(), n_train=100, width=16, epochs=2, seed=seed, **kw)
    return (Arm("clean", dataclasses.replace(k, noise="none", noise_pct=0)), Arm("noisy", k))


def e6(item: str):
    """The E6 stage's module and its checked settings of one item, at the CPU profile, as the stage reads them."""
    from training.stages import e6_regularizers as E6
    from training.stages.common import stage_config

    _, cfg, _ = stage_config({**load_params(), "profile": "cpu"}, "e6", item, E6.Config)
    return E6, cfg


# ---------------------------------------------------------------------------------------------
# Knobs and fixed settings: every value clamped, every change named, params.yaml the only source


def test_hostile_query_is_clamped_with_a_note_per_key():
    knobs, notes = from_query(HOSTILE)
    for f in dataclasses.fields(Knobs):  # every value is within its declared range or choices
        v, m = getattr(knobs, f.name), f.metadata
        if m.get("choices"):
            assert v in m["choices"]
        if m.get("lo") is not None:
            assert m["lo"] <= v <= m["hi"], f.name
    assert (knobs.n_train, knobs.width, knobs.depth, knobs.seed) == (100, 1024, 4, 9999)
    assert (knobs.lr, knobs.epochs, knobs.noise, knobs.twin) == (Knobs().lr, Knobs().epochs, Knobs().noise, False)
    for key in ("n_train", "width", "depth", "lr", "epochs", "dropout", "noise", "seed", "batch_size", "optimizer"):
        assert any(n.startswith(f"{key}:") for n in notes), key
    assert not any(ch in n for n in notes for ch in "<>()[]"), "quoted values carry no markup"


def test_query_round_trip_and_links():
    for preset in PRESETS.values():
        for arm in preset.arms:
            parse(Knobs, dataclasses.asdict(arm.knobs))  # presets are inside the lab's own limits
            back, notes = from_query(to_query(arm.knobs))
            assert back == arm.knobs and not notes
            assert lab_link(arm.knobs).startswith("lab")
    assert to_query(Knobs()) == {}
    with pytest.raises(ConfigError):
        parse(Knobs, {"width": 4096})


def test_fixed_settings_come_from_params_yaml():
    section = load_params()["lab"]
    assert dataclasses.asdict(lab_config()) == section, "every field read from params.yaml, none defaulted"
    knobs = dataclasses.replace(Knobs(), optimizer="sgd", lr=0.01)
    assert spec_of(knobs)[0].train.momentum == section["momentum"]
    assert spec_of(Knobs())[0].train.momentum == 0.0, "Adam has no momentum"


def test_presets_use_the_pipeline_configs():
    """A preset's seed-0 run is the E6 stage's own run of the same setting (same RunSpec, labels and digits)."""
    arms = PRESETS["regularization"].arms
    for family, strength, arm in (("dropout", 0.6, arms[1]), ("weight_decay", 0.01, arms[2])):
        E6, cfg = e6(family)
        theirs = E6.spec_for(cfg, 0, strength, 0.0)
        mine, corruption = spec_of(arm.knobs)
        assert mine == dataclasses.replace(theirs, train=dataclasses.replace(
            theirs.train, adv_steps=mine.train.adv_steps, precision=mine.train.precision))
        assert (corruption.kind, corruption.p, corruption.seed) == ("randY", 1.0, cfg.data_seed)
        assert arm.knobs.n_train == cfg.n_train
        assert (lab_config().n_val, lab_config().subset_seed) == (cfg.n_val, cfg.data_seed), \
            "the same validation digits and the same training subset"
        assert lab_config().dataset == cfg.dataset


@pytest.mark.slow
def test_the_lab_trains_on_the_pipelines_digits(trainer):
    """The digits themselves: the trainer's validation set and a preset's training subset are E6's."""
    from training import data as D

    _, cfg = e6("dropout")
    train, val = D.load(cfg.dataset)
    assert trainer._data[1].index.tolist() == D.stratified_subset(val, cfg.n_val, cfg.data_seed).index.tolist()
    _, _, subset = trainer._inputs(PRESETS["regularization"].arms)
    assert subset.index.tolist() == D.stratified_subset(train, cfg.n_train, cfg.data_seed).index.tolist()
    with pytest.raises(ValueError, match="share their training digits"):
        trainer._inputs(tiny()[:1] + (Arm("bigger", dataclasses.replace(Knobs(), n_train=200)),))


def test_every_preset_says_what_its_runs_showed():
    """Each preset owns its sentence: one for any numbers its arms can give, none before every arm has some."""
    numbers = {"epochs": 30, "fit_epoch": 12, "best_epoch": 8, "best_val": 0.8, "corrupted_at_best": 0.2,
               "train": 0.95, "clean": 1.0, "corrupted": 0.9, "val": 0.7, "seconds": 1.0}
    presets = [*PRESETS.values(), lab_preset(Knobs()), lab_preset(dataclasses.replace(Knobs(), twin=True)),
               lab_preset(dataclasses.replace(Knobs(), noise="none"))]
    for preset in presets:
        assert preset.sentence([numbers] * len(preset.arms)), preset.title
        assert preset.sentence([numbers] * (len(preset.arms) - 1) + [{}]) == ""
    assert "clean twin" in lab_preset(dataclasses.replace(Knobs(), twin=True)).sentence([numbers] * 2)
    assert "On clean labels" in lab_preset(dataclasses.replace(Knobs(), noise="none")).sentence([numbers])


# ---------------------------------------------------------------------------------------------
# The trainer: the pipeline's batches and engine, same seed same result, stop / deadline / crash free it


@pytest.mark.slow
def test_runs_through_the_pipeline_engine_in_its_batches(trainer, monkeypatch):
    import training.engine as E
    import training.stages.common as common

    calls, grouped = [], []
    real_fit, real_batches = E.fit, common.batches
    monkeypatch.setattr(E, "fit", lambda *a, **kw: calls.append(len(a[0])) or real_fit(*a, **kw))
    monkeypatch.setattr(common, "batches", lambda specs: grouped.append(len(specs)) or real_batches(specs))
    arms = tiny() + (Arm("wider", dataclasses.replace(tiny()[1].knobs, width=32)),)
    reports = []
    with trainer.slot():
        res = trainer.run(arms, on_epoch=reports.append)
    assert grouped == [3] and calls == [2, 1], "the pipeline's batches: same-shape arms share one batched model"
    assert sorted(res.frame["run"].unique()) == [0, 1, 2] and res.frame["epoch"].max() == 2
    clean = res.frame[res.frame["run"] == 0]
    assert clean["train_acc_corrupted"].isna().all() and clean["train_acc_clean"].notna().all()
    last = reports[-1]
    assert last["done"] == last["total"] == 4
    assert all(row["run"] == i for i, rows in last["rows"].items() for row in rows), "callbacks get the arm's id"


@pytest.mark.slow
def test_same_seed_same_result_and_cache(trainer):
    with trainer.slot():
        a, b = trainer.run(tiny(seed=3)), trainer.run(tiny(seed=3))
        c = trainer.run(tiny(seed=4))
    drop = ["seconds"]
    pd.testing.assert_frame_equal(a.frame.drop(columns=drop), b.frame.drop(columns=drop))
    assert not a.frame.drop(columns=drop).equals(c.frame.drop(columns=drop)), "another seed, another run"
    trainer.remember(a)
    hit = trainer.cached(tiny(seed=3))
    assert hit is not None and hit.cached and hit.frame.equals(a.frame)
    assert trainer.cached(tiny(seed=5)) is None


@pytest.mark.slow
def test_stop_ends_the_run_within_one_epoch(trainer):
    arms = tuple(Arm(a.label, dataclasses.replace(a.knobs, epochs=50)) for a in tiny())
    with trainer.slot():
        res = trainer.run(arms, stop=lambda: True)
    assert res.stopped == "stop" and res.frame["epoch"].max() == 1
    trainer.remember(res)
    assert trainer.cached(arms) is None, "a stopped run is not served as the answer"
    assert not trainer.lock.locked()


@pytest.mark.slow
def test_time_budget_ends_the_run(trainer):
    arms = tuple(Arm(a.label, dataclasses.replace(a.knobs, epochs=50)) for a in tiny())
    with trainer.slot():
        res = trainer.run(arms, budget_s=0.0)
    assert res.stopped == "deadline" and res.frame["epoch"].max() == 1


@pytest.mark.slow
def test_a_crashed_run_releases_the_trainer(trainer):
    def boom(report):
        raise RuntimeError("the visitor's browser vanished mid-epoch")

    with pytest.raises(RuntimeError):
        with trainer.slot():
            trainer.run(tiny(), on_epoch=boom)
    assert not trainer.lock.locked()
    with trainer.slot():  # and the next visitor gets it
        pass


# ---------------------------------------------------------------------------------------------
# The comparison: per session, at most CAP runs, the pinned one kept


def test_comparison_keeps_the_last_runs_and_the_pinned_one():
    state: dict = {}
    arm = tiny()[1]
    rows = {0: [{"epoch": 0, "val_acc": 0.1}]}
    for seed in range(3):
        compare.remember(state, (Arm(arm.label, dataclasses.replace(arm.knobs, seed=seed)),), rows, "done")
    assert [r["id"] for r in compare.runs(state)] == [1, 2, 3]
    compare.pin(state, 1)
    for seed in range(3, 8):
        compare.remember(state, (Arm(arm.label, dataclasses.replace(arm.knobs, seed=seed)),), rows, "done")
    kept = compare.runs(state)
    assert len(kept) == compare.CAP and kept[0]["id"] == 1 and kept[0]["pinned"], "the pinned run stays"
    assert [r["id"] for r in kept[1:]] == [5, 6, 7, 8], "newer runs push the oldest unpinned ones out"
    compare.remember(state, (Arm(arm.label, dataclasses.replace(arm.knobs, seed=0)),), rows, "cached")
    kept = compare.runs(state)
    assert [r["id"] for r in kept] == [5, 6, 7, 8, 9]
    assert kept[-1]["pinned"] and sum(r["knobs"].seed == 0 for r in kept) == 1, "the same run once, still pinned"
    compare.pin(state, 9)
    assert not any(r["pinned"] for r in compare.runs(state)), "pinning the pinned run unpins it"
    compare.clear(state)
    assert compare.runs(state) == []


# ---------------------------------------------------------------------------------------------
# AppTest: the Lab page and a story panel, end to end without a browser


def lab(query: dict) -> AppTest:
    at = AppTest.from_file(LAB, default_timeout=300)
    at.query_params.update(query)
    return at


def compared(at: AppTest) -> set[str] | None:
    """The runs drawn in the comparison chart (the one chart whose curves are named by run), or None."""
    for chart in at.get("vega_lite_chart"):
        layer = json.loads(chart.proto.spec).get("layer", [{}])[0]
        if layer.get("encoding", {}).get("color", {}).get("field") == "run":
            return {v["run"] for v in layer["data"]["values"]}
    return None


@pytest.mark.slow
def test_lab_trains_a_tiny_run():
    at = lab(TINY)
    at.run()
    assert not at.exception
    at.button(key="lab-train").click().run()
    assert not at.exception and not at.error
    result = at.session_state["lab-result"]
    assert result["status"] == "done"
    rows = pd.DataFrame(result["rows"][0])
    assert rows["epoch"].tolist() == [0, 1, 2]
    assert rows["val_acc"].between(0, 1).all() and rows["train_acc_corrupted"].notna().all()
    shown = "\n".join(m.value for m in at.markdown)
    assert "Done." in shown and "best validation" in shown
    assert any("What you just saw" in i.value for i in at.info)
    assert len(at.get("vega_lite_chart")) == 2, "the run's chart and the comparison"
    at.button(key="lab-train").click().run()  # the identical run again: served from the cache
    assert at.session_state["lab-result"]["status"] == "cached"
    assert any("Served from the cache" in m.value for m in at.markdown)
    assert len(at.session_state[compare.RUNS]) == 1, "the same run is compared once"


@pytest.mark.slow
def test_lab_compares_the_last_runs_pins_and_clears():
    at = lab(TINY)
    at.run()
    for seed in (1, 2):
        at.number_input(key="lab-seed").set_value(seed).run()
        at.button(key="lab-train").click().run()
        assert not at.exception and not at.error
    assert compared(at) == {"#1 50 % random labels · seed 1", "#2 50 % random labels · seed 2"}, \
        "each run named by what sets it apart"
    listed = next(m.value for m in at.markdown if "open in the Lab" in m.value)
    assert "seed 1" in listed and "seed 2" in listed and "lab?" in listed and "seed=2" in listed
    at.button(key="lab-pin-1").click().run()
    for seed in (3, 4, 5, 6):
        at.number_input(key="lab-seed").set_value(seed).run()
        at.button(key="lab-train").click().run()
    runs = at.session_state[compare.RUNS]
    assert [r["id"] for r in runs] == [1, 3, 4, 5, 6], "five at most; the pinned #1 stays, #2 was pushed out"
    assert len(compared(at)) == 5 and "#1 50 % random labels · seed 1 (pinned)" in compared(at)
    at.button(key="lab-clear").click().run()
    assert not at.exception and at.session_state[compare.RUNS] == [] and compared(at) is None


@pytest.mark.slow
def test_lab_clamps_hostile_query_parameters():
    at = lab(HOSTILE)
    at.run()
    assert not at.exception and not at.error
    notes = [w.value for w in at.warning]
    assert any("width" in n and "1024" in n for n in notes) and any("n_train" in n for n in notes)
    assert at.select_slider(key="lab-width").value == 1024
    assert at.slider(key="lab-n_train").value == 100 and at.slider(key="lab-epochs").value == Knobs().epochs
    assert at.query_params["width"] == ["1024"] or at.query_params["width"] == "1024"
    assert "unknown" not in at.query_params, "the URL is rewritten to the clamped settings"


def twin_page():
    from explainer import lab

    lab.retrain_panel("twin", key="p4")


@pytest.mark.slow
def test_story_panel_twin_run_shows_memorization():
    """Page 4's preset: the same network fits real and random labels, only one generalizes."""
    at = AppTest.from_function(twin_page, default_timeout=300)
    at.run()
    assert not at.exception and not at.info, "before a click: no chart, no note"
    at.button(key="p4-train").click().run()
    assert not at.exception and not at.error
    result = at.session_state["p4-result"]
    assert result["status"] in ("done", "cached")
    real, rand = (pd.DataFrame(result["rows"][i]).iloc[-1] for i in (0, 1))
    assert real["val_acc"] > 0.75 and rand["val_acc"] < 0.2, "real labels generalize, random ones do not"
    assert rand["train_acc"] > 0.8, "yet the random labels are largely fitted"
    assert len(at.get("vega_lite_chart")) == 3, "one chart per arm, and the comparison (folded away)"
    assert any(e.label.startswith("Compare your last runs (2)") for e in at.expander)


@pytest.mark.slow
def test_two_concurrent_runs_are_serialized():
    t = runtime.trainer()
    t.wait_warm(600)
    apps = [lab({**TINY, "seed": str(seed)}) for seed in (11, 12)]
    for at in apps:
        at.run()
    runs_before = len(t.log)
    t.lock.acquire()  # someone else's run is in progress
    waits = t.waits
    threads = [threading.Thread(target=lambda at=at: at.button(key="lab-train").click().run()) for at in apps]
    try:
        for th in threads:
            th.start()
        deadline = time.monotonic() + 120
        while t.waits < waits + 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert t.waits == waits + 2, "both sessions found the trainer busy"
        time.sleep(1.2)
    finally:
        t.lock.release()
        for th in threads:
            th.join(600)
    for at in apps:
        assert not at.exception and not at.error
        assert at.session_state["lab-result"]["status"] == "done"
        assert any("waited" in c.value for c in at.caption), "the session says it waited for the trainer"
    (s1, e1), (s2, e2) = t.log[runs_before:runs_before + 2]
    assert e1 <= s2, "the second run started only after the first had finished"


# ---------------------------------------------------------------------------------------------
# The band: the nearest pipeline configuration in the catalog, read from what the real stages write


@pytest.fixture(scope="module")
def stage_outputs(tmp_path_factory) -> Path:
    """artifacts/ as the E6 dropout and augmentation stages write it (smoke profile, seconds)."""
    import re
    import subprocess
    import sys

    tmp = tmp_path_factory.mktemp("live-band")
    params = tmp / "params.yaml"
    text = re.sub(r"^profile: *\S+", "profile: smoke", (ROOT / "params.yaml").read_text(), count=1, flags=re.M)
    params.write_text(re.sub(r"^threads: *\S+", "threads: 1", text, count=1, flags=re.M))
    for module, item, out in (("e6_regularizers", "dropout", "e6/dropout"), ("augment", "mnist", "augment/mnist")):
        done = subprocess.run([sys.executable, "-m", f"training.stages.{module}", "--params", str(params),
                               "--item", item, "--out", str(tmp / "art" / out), "--metrics", str(tmp / f"{item}.json")],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    return tmp / "art"


@pytest.mark.slow
@pytest.mark.pipeline
def test_band_is_the_nearest_pipeline_configuration(stage_outputs, monkeypatch):
    from explainer import artifacts as A
    from explainer.lab.band import nearest

    monkeypatch.setenv(A.ENV, str(stage_outputs))
    smoke = dataclasses.replace(Knobs(), n_train=60, width=16, noise="randY", noise_pct=100)
    band = nearest(dataclasses.replace(smoke, dropout=0.5))
    assert band.distance == 0 and band.differences == ""
    assert "artifacts/e6/dropout" in band.name and "dropout 0.5" in band.name and "smoke profile" in band.name
    curves = A._vocabulary(pd.read_csv(stage_outputs / "e6" / "dropout" / "curves.csv"))
    runs = curves[(curves["p"] == 1) & (curves["strength"] == 0.5)]
    val = band.frame[band.frame["metric"] == "val_acc"].set_index("epoch")
    assert val["mean"].round(6).tolist() == runs.groupby("epoch")["val_acc"].mean().round(6).tolist()
    assert (val["lo"] <= val["mean"]).all() and (val["mean"] <= val["hi"]).all() and (val["n"] == 2).all()
    assert "train_acc_clean" not in set(band.frame["metric"]), "random labels everywhere: no clean examples"
    rotated = nearest(dataclasses.replace(smoke, rotation=20.0))
    assert "artifacts/augment/mnist" in rotated.name and "rotation 20" in rotated.name and rotated.distance == 0
    wider = nearest(dataclasses.replace(smoke, width=32))
    assert wider.distance > 0 and "width 16 instead of 32" in wider.differences
    both = nearest(dataclasses.replace(smoke, rotation=20.0, pixel_noise=0.2))
    assert "no pipeline run combines" in both.differences
    assert nearest(dataclasses.replace(smoke, noise="randX")) is None, "no stage ran randX here: no band"
