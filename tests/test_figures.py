"""The "Paper figures" page with Streamlit's AppTest: one section per figure of the paper (Figs. 1, 3–11),
each with its anchor, the scoreboard's verdict on every claim that cites it and a link to its story page;
`?fig=N` puts that figure first; and its charts are the story pages' own (the same spec, not a copy)."""
from __future__ import annotations

import json
import os
import re

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from test_app_pages import ART, BY_FILE, ROOT, charts, needs, render
from explainer import artifacts as A, paper
from explainer.story import FIGURES, STORY

PAGE = BY_FILE["13_paper_figures"]
NUMBERS = [1, 3, 4, 5, 6, 7, 8, 9, 10, 11]


def open_at(fig: str) -> AppTest:
    """The figures page opened with ?fig=<fig> (set before the first run, as a link would)."""
    old = os.environ.get(A.ENV)
    os.environ[A.ENV] = str(ART)
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params["fig"] = fig
        at.run()
        at.switch_page(PAGE.file)
        return at.run()
    finally:
        if old is None:
            os.environ.pop(A.ENV, None)
        else:
            os.environ[A.ENV] = old


def test_registered_as_a_page_without_torch():
    assert PAGE.file == FIGURES and PAGE.url == "figures" and PAGE in STORY
    assert [f.number for f in paper.FIGURES] == NUMBERS


@pytest.fixture(scope="module")
def page() -> AppTest:
    return render(PAGE)


def test_every_figure_has_a_section_with_its_anchor(page):
    assert not page.exception, [e.value for e in page.exception]
    assert not page.error, [e.value for e in page.error]
    assert page.title and page.title[0].proto.icon == PAGE.icon
    heads = [h for h in page.header if h.value.startswith("Fig. ")]
    assert [int(re.match(r"Fig\. (\d+)", h.value).group(1)) for h in heads] == NUMBERS
    assert [h.proto.anchor for h in heads] == [f"fig-{n}" for n in NUMBERS]
    links = [p.proto.label for p in page.get("page_link")]
    for n in NUMBERS:
        assert f"The story page that tells Fig. {n}" in links
    assert len(charts(page)) >= len(NUMBERS), "at least one chart of ours per figure"


def test_every_section_shows_the_verdicts_of_its_claims(page):
    needs("claims/claims.csv")
    claims = pd.read_csv(ART / "claims/claims.csv").fillna("")
    shown = [m.value for m in page.markdown]
    for n in NUMBERS:
        citing = claims[claims["paper"].str.contains(rf"Fig\. {n}\b")]
        if not len(citing):  # a figure this result set did not run (Fig. 8: CIFAR-10 partial noise) says so
            assert n == 8 and any("Not run in this result set" in i.value for i in page.info), f"no claim cites Fig. {n}"
            continue
        for _, row in citing.iterrows():
            block = next((m for m in shown if m.startswith(f"**Fig. {n} · {row['id']}**")), None)
            assert block, f"Fig. {n}: no verdict for {row['id']}"
            assert f"***{row['verdict']}***" in block and row["paper"] in block and row["ours"] in block


def test_the_figures_charts_are_the_story_pages_own(page):
    """Fig. 6's width chart is page 3's, spec for spec (one builder, one cached spec)."""
    norm = lambda s: re.sub(r"param_\d+", "param", json.dumps(s, sort_keys=True))  # noqa: E731
    mine = {norm(s) for s in charts(page)}
    story = render(BY_FILE["03_factors"])
    shared = [s for s in charts(story) if norm(s) in mine]
    assert len(shared) == len(charts(story)), "every chart of page 3 also stands on the figures page"


def test_fig_query_shows_that_figure_first():
    at = open_at("7")
    assert not at.exception and not at.error
    assert at.header[0].value.startswith("Fig. 7 ·") and at.header[0].proto.anchor == "fig-7"
    assert sum(h.value.startswith("Fig. 7 ·") for h in at.header) == 1, "shown once, not twice"
    assert any("Fig. 7 first" in i.value for i in at.info)


def test_unknown_fig_keeps_the_paper_order():
    at = open_at("2")
    assert not at.exception and not at.error
    assert at.header[0].value.startswith("Fig. 1 ·")
