"""End to end in a real browser: start the app on localhost, open every page in headless Chromium at
desktop and phone width (and once in dark mode), and check that the script finished without an
exception element, that every chart was drawn (or a friendly note stands in for it) and that a phone
never scrolls sideways. Screenshots land in tests/screenshots/ (git-ignored) for a human to look at.

Needs Debian's `chromium` at /usr/bin/chromium (Playwright drives it); skips with a reason otherwise.
Set EXPLAINER_ARTIFACTS to test against another artifacts folder.
"""
from __future__ import annotations

import sys

import browserkit
import pytest
from browserkit import DESKTOP, PHONE, OVERFLOW, ROOT, SHOTS, full_height_screenshot, open_page, slug, wait_until_drawn

pytestmark = pytest.mark.browser
sync_api = browserkit.require()
sys.path.insert(0, str(ROOT))
from explainer.story import CHAPTERS, STORY  # noqa: E402



def visit(browser, url: str, viewport: dict, name: str, dark: bool = False) -> dict:
    errors: list[str] = []
    ctx, page = open_page(browser, url, viewport, dark, errors)
    try:
        # measured before the screenshot, which resizes the viewport
        overflow = page.evaluate(OVERFLOW)
        SHOTS.mkdir(parents=True, exist_ok=True)
        full_height_screenshot(page, SHOTS / f"{name}.png")
        return {
            "exceptions": page.locator('[data-testid="stException"]').count(),
            "charts": page.locator('[data-testid="stVegaLiteChart"]').count(),
            "notes": page.get_by_text("Waiting for numbers").count(),
            "guesses": page.get_by_text("Your guess first").count(),
            "safety_net": page.get_by_text("tripped over something unexpected").count(),
            "not_found": page.get_by_text("Page not found").count(),
            "overflow": overflow,
            "title": page.locator('[data-testid="stMainBlockContainer"] h1').first.inner_text(),
            "errors": errors,
        }
    finally:
        ctx.close()


NO_CHART_PAGES = {"final-thoughts"}  # a page of commands and tables, no chart by design


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[slug(c) for c in CHAPTERS])
def test_page_in_browser(server, browser, chapter):
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        seen = visit(browser, f"{server}/{chapter.url}", viewport, f"{slug(chapter)}-{label}")
        where = f"{slug(chapter)} ({label})"
        assert seen["title"], f"{where}: no page title"
        assert seen["not_found"] == 0, f"{where}: Streamlit says the page does not exist"
        assert seen["exceptions"] == 0, f"{where}: an exception element is shown"
        assert seen["safety_net"] == 0, f"{where}: the app's safety net caught an error"
        assert (seen["charts"] > 0 or seen["notes"] > 0 or seen["guesses"] > 0 or chapter.url in NO_CHART_PAGES
                or chapter not in STORY), f"{where}: neither a chart, a missing-artifact note nor a question"
        assert not seen["errors"], f"{where}: JavaScript errors {seen['errors']}"
        if label == "phone":
            assert seen["overflow"] <= 1, f"{where}: the page scrolls sideways by {seen['overflow']} px"


def test_dark_mode_renders(server, browser):
    seen = visit(browser, f"{server}/{CHAPTERS[0].url}", DESKTOP, "introduction-dark", dark=True)
    assert seen["exceptions"] == 0 and seen["safety_net"] == 0


def test_page_switch_keeps_working(server, browser):
    """Clicking through the sidebar navigation (no reload) renders each page in turn."""
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    try:
        page.goto(f"{server}/{CHAPTERS[0].url}")
        wait_until_drawn(page)
        for chapter in CHAPTERS[1:4]:
            page.locator(f'[data-testid="stSidebarNav"] a[href$="/{chapter.url}"]').click()
            page.wait_for_url(f"**/{chapter.url}")
            wait_until_drawn(page)
            assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        ctx.close()


def test_predict_then_reveal_in_the_browser(server, browser):
    """A visitor answers page 4's question: the chart and the verdict on the guess appear; page 6's
    "Just show me" reveals its charts without a guess."""
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    try:
        page.goto(f"{server}/experiment-time", wait_until="domcontentloaded")
        wait_until_drawn(page)
        page.get_by_text("Your guess first").first.wait_for(timeout=30000)
        charts_before = page.locator('[data-testid="stVegaLiteChart"]').count()
        page.get_by_text("pure static", exact=True).first.click()
        page.get_by_text("Your guess matches our runs").or_(page.get_by_text("Our runs say otherwise")).first \
            .wait_for(timeout=30000)
        wait_until_drawn(page)
        assert page.locator('[data-testid="stVegaLiteChart"]').count() > charts_before
        page.goto(f"{server}/data-augmentation", wait_until="domcontentloaded")
        wait_until_drawn(page)
        page.get_by_role("button", name="Just show me").first.click()
        page.get_by_text("What our runs say").first.wait_for(timeout=30000)
        wait_until_drawn(page)
        assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 2
        full_height_screenshot(page, SHOTS / "predict-reveal-augmentation.png")
    finally:
        ctx.close()



def test_a_chapter_embeds_without_the_toolbar(server, browser):
    """The final page tells teachers to add ?embed=true to a chapter's address: the chapter's content is
    drawn without the app's toolbar (which the same address without it shows)."""
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    try:
        counts = {}
        for query in ("", "?embed=true"):
            page.goto(f"{server}/experiment-time{query}", wait_until="domcontentloaded")
            wait_until_drawn(page)
            page.get_by_text("Your guess first").first.wait_for(timeout=30000)
            assert page.locator('[data-testid="stMainBlockContainer"] h1').first.inner_text()
            assert page.locator('[data-testid="stException"]').count() == 0
            counts[query] = page.locator('[data-testid="stToolbar"]').count()
        assert counts[""] >= 1 and counts["?embed=true"] == 0, counts
        full_height_screenshot(page, SHOTS / "embed-experiment-time.png")
    finally:
        ctx.close()
