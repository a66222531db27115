"""Predict, then reveal (pages 3, 4, 6 and 8): a question before the key chart; the chart and the measured
answer appear once the visitor answers or presses "Just show me", and the page says whether the guess
matched our runs. The right answer is the scoreboard's (artifacts/claims/findings.csv): a page never
judges by itself (tests/test_findings.py drives every item and level)."""
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


def finding(key: str, item: str = "", p: float | None = None) -> str:
    """The answer the claims stage wrote to findings.csv: the scoreboard's, which every reveal must show."""
    needs("claims/findings.csv")
    f = pd.read_csv(ART / "claims/findings.csv")
    rows = f[(f["key"] == key) & (f["item"].fillna("") == item)]
    if p is not None:
        rows = rows[np.isclose(rows["p"], p)]
    if rows.empty:
        pytest.skip(f"findings.csv has no {key} {item}")
    return str(rows["answer"].iloc[0])


def truth_width() -> str:
    return finding("WIDTH")


def truth_faster() -> str:
    return finding("FASTER", "mnist")


def truth_augment() -> str:
    return finding("AUGMENT", "mnist")


def truth_stop() -> str:
    """At the page's default slider value: the middle partial randY level."""
    needs("e5/mnist/curves.csv")
    c = pd.read_csv(ART / "e5/mnist/curves.csv")
    levels = sorted(p for p in c.loc[c["kind"] == "randY", "p"].unique() if p < 1)
    return finding("STOP", "mnist", levels[len(levels) // 2])


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
    truth = TRUTH[page]()
    if truth == "not resolved":
        assert any("cannot tell" in i.value for i in at.info)
    else:
        assert any("What our runs say" in s.value and truth in s.value for s in at.success)


@pytest.mark.parametrize("page", list(GUESSES))
def test_a_right_guess_is_confirmed_and_a_wrong_one_corrected(page):
    truth = TRUTH[page]()
    at = render(BY_FILE[page], answer=False)
    radio = at.radio(key=GUESSES[page])
    if truth == "not resolved":                                      # no option is right: the page says so
        radio.set_value(radio.options[0]).run()
        assert any("cannot tell" in i.value for i in at.info) and not at.success
        return
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
