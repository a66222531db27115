"""Predict, then reveal (pages 3, 4, 6 and 8): a question before the key chart; the chart and the measured
answer appear once the visitor answers or presses "Just show me", and the page says whether the guess
matched our runs. The right answer is recomputed here from the artifact with plain pandas."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from test_app_pages import ART, BY_FILE, charts, needs, render, show_me, text

pytestmark = pytest.mark.slow  # each test renders a page through AppTest and answers its question (about 1 s)

GUESSES = {  # page: (radio key, right answer from the artifact)
    "03_factors": "guess-factors-width",
    "04_experiment_time": "guess-exp-faster-mnist",
    "06_data_augmentation": "guess-aug-mnist",
    "08_training_time": "guess-time-mnist",
}


def truth_width() -> str:
    needs("e4/width/summary.csv")
    s = pd.read_csv(ART / "e4/width/summary.csv")
    widest = s[s["width"] == s["width"].max()]
    clean = widest[widest["p"] == 0]["normalised"].mean()
    noise = widest[widest["p"] == 1].groupby("kind")["normalised"].mean().min()
    return "about the same for both" if abs(clean - noise) < 0.1 else "pure noise" if noise < clean else "real digits"


def truth_faster() -> str:
    needs("e5/mnist/curves.csv")
    c = pd.read_csv(ART / "e5/mnist/curves.csv")
    c = c[c["p"] == 1.0]
    fit = {}
    for kind, g in c.groupby("kind"):
        mean = g.groupby("epoch")["train_acc"].mean()
        fit[kind] = mean.index[mean >= 0.99].min() if (mean >= 0.99).any() else np.inf
    if np.isinf(fit.get("randY", np.inf)) and np.isinf(fit.get("randX", np.inf)):
        return "neither fits at all"
    return "shuffled labels" if fit["randY"] < fit["randX"] else "pure static"


def truth_augment() -> str:
    needs("augment/mnist/summary.csv")
    s = pd.read_csv(ART / "augment/mnist/summary.csv")
    rand = s[s["p"] == 1.0].groupby(["augment", "strength"])["final_train_acc"].mean()     # random labels
    gap = rand.drop("none", level=0).mean() - rand.loc["none"].mean()
    return "no difference" if abs(gap) < 0.02 else "harder" if gap < 0 else "easier"


def truth_stop() -> str:
    needs("e5/mnist/curves.csv")
    c = pd.read_csv(ART / "e5/mnist/curves.csv")
    levels = sorted(p for p in c.loc[c["kind"] == "randY", "p"].unique() if p < 1)
    p = levels[len(levels) // 2]
    val = c[(c["kind"] == "randY") & np.isclose(c["p"], p)].groupby("epoch")["val_acc"].mean()
    return ("early, before it memorizes the shuffled labels" if val.max() - val.iloc[-1] > 0.005
            else "at the end, once it fits everything")


TRUTH = {"03_factors": truth_width, "04_experiment_time": truth_faster, "06_data_augmentation": truth_augment,
         "08_training_time": truth_stop}


@pytest.mark.parametrize("page", list(GUESSES))
def test_the_chart_waits_for_a_guess(page):
    TRUTH[page]()  # skips where the artifact is missing
    at = render(BY_FILE[page], answer=False)
    assert not at.exception
    radio = at.radio(key=GUESSES[page])
    assert radio.value is None and len(radio.options) >= 2
    assert any(b.label == "Just show me" for b in at.button)
    assert any("appear once you answer" in c.value for c in at.caption)
    before = len(charts(at))
    show_me(at)
    assert len(charts(at)) > before, "the key chart appears after Just show me"
    assert any("What our runs say" in s.value for s in at.success)


@pytest.mark.parametrize("page", list(GUESSES))
def test_a_right_guess_is_confirmed_and_a_wrong_one_corrected(page):
    truth = TRUTH[page]()
    at = render(BY_FILE[page], answer=False)
    radio = at.radio(key=GUESSES[page])
    assert truth in radio.options, (truth, radio.options)
    radio.set_value(truth).run()
    assert not at.exception
    assert any(f"Your guess matches our runs:** {truth}" in s.value for s in at.success)
    wrong = next(o for o in radio.options if o != truth)
    at.radio(key=GUESSES[page]).set_value(wrong).run()
    assert any("Our runs say otherwise" in w.value and truth in w.value and wrong in w.value for w in at.warning)
    assert not any("Your guess matches" in s.value for s in at.success)


def test_nothing_is_asked_twice_in_a_session():
    """Switching away and back keeps the guess (per session, st.session_state), so the chart stays."""
    truth_faster()
    at = render(BY_FILE["04_experiment_time"], answer=False)
    at.radio(key=GUESSES["04_experiment_time"]).set_value("pure static").run()
    shown = len(charts(at))
    at.switch_page(BY_FILE["03_factors"].file).run()
    at.switch_page(BY_FILE["04_experiment_time"].file).run()
    assert at.radio(key=GUESSES["04_experiment_time"]).value == "pure static"
    assert len(charts(at)) == shown and "Validation accuracy at the end" in text(at)
