"""Charts for readers who cannot see them or tell colours apart, in a real browser: every chart's accessible
name is its text alternative (what it shows, with numbers; Streamlit hands `alt=` to Vega as the spec's
description, which Vega puts on the chart's container as the aria-label of a role="graphics-document"), the
numbers behind a chart open as a real HTML table, and page 7's memorization clock, its stacked shares and the
Fig. 4 class maps are shot in greyscale (tests/screenshots/greyscale-*.png, desktop and phone) for a human to
check that their categories read without colour.

Needs Debian's `chromium` at /usr/bin/chromium (Playwright drives it); skips with a reason otherwise.
"""
from __future__ import annotations

import re

import browserkit
import pytest
from browserkit import SHOTS

pytestmark = pytest.mark.browser
sync_api = browserkit.require()
from browserkit import DESKTOP, OVERFLOW, PHONE, full_height_screenshot, grow, open_page  # noqa: E402

GREYSCALE = "html { filter: grayscale(1) !important; }"
CHART = '[data-testid="stVegaLiteChart"]'
FAMILIES = {"clock": r"^Timeline of ", "shares": r"^Stacked area chart of share of examples",
            "class-maps": r"heat map of share of the row"}



def accessible(page) -> list[tuple[str, str]]:
    """(role, name) of every chart in Chromium's own accessibility tree: what a screen reader is handed."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("Accessibility.enable")
    root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    out = []
    for node in cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": CHART})["nodeIds"]:
        ax = cdp.send("Accessibility.getPartialAXTree", {"nodeId": node, "fetchRelatives": False})["nodes"][0]
        out.append((ax["role"]["value"], (ax.get("name") or {}).get("value", "")))
    cdp.detach()
    return out


def charts_named(page, pattern: str):
    return [c for c in page.locator(CHART).all() if re.search(pattern, c.get_attribute("aria-label") or "")]


def test_every_chart_is_named_by_what_it_draws(server, browser):
    """Page 7 draws every kind of chart the story has but bars: each is named by its own numbers."""
    ctx, page = open_page(browser, f"{server}/memorization-vs-generalization", DESKTOP)
    try:
        named = accessible(page)
        assert len(named) >= 5, named
        captions = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
        for role, name in named:
            assert role == "graphics-document" and re.search(r"\d", name), (role, name)
            assert not any(c.startswith(name) for c in captions), f"the caption stands in for the text: {name}"
        for family, pattern in FAMILIES.items():
            assert any(re.search(pattern, n) for _, n in named), f"no {family} chart named {pattern!r}: {named}"
    finally:
        ctx.close()


def test_the_numbers_behind_a_chart_open_as_a_table(server, browser):
    """On a phone, the widest table (a 10 x 10 class map's) opens under its chart as an HTML table with row
    and column headers, and the page still does not scroll sideways."""
    ctx, page = open_page(browser, f"{server}/memorization-vs-generalization", PHONE)
    try:
        (chart, *_) = charts_named(page, FAMILIES["class-maps"])
        panel = chart.locator("xpath=following::*[@data-testid='stExpander'][1]")
        panel.get_by_text("Where these numbers come from").click()
        table = panel.locator("table").first
        table.wait_for(timeout=30_000)
        assert table.locator("thead th").count() == 11 and table.locator("tbody th").count() == 10
        assert re.search(r"\d+%", table.inner_text())
        assert (table.get_attribute("aria-label") or "").startswith("The chart's numbers: 10 rows")
        page.wait_for_timeout(300)
        assert page.evaluate(OVERFLOW) <= 1, "the page scrolls sideways"
        SHOTS.mkdir(parents=True, exist_ok=True)
        panel.scroll_into_view_if_needed()
        panel.screenshot(path=str(SHOTS / "table-class-map-phone.png"))
    finally:
        ctx.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_greyscale_screenshots_of_the_colour_coded_charts(server, browser, viewport):
    """The page in greyscale, whole and chart by chart; the charts' printed names, stripes and values must be
    there (a human looks at the pictures)."""
    ctx, page = open_page(browser, f"{server}/memorization-vs-generalization", viewport)
    label = "desktop" if viewport is DESKTOP else "phone"
    try:
        page.add_style_tag(content=GREYSCALE)
        SHOTS.mkdir(parents=True, exist_ok=True)
        full_height_screenshot(page, SHOTS / f"greyscale-memorization-vs-generalization-{label}.png")
        grow(page)  # the shots below are whole charts, not cut by the window or covered by the page's header
        for family, pattern in FAMILIES.items():
            found = charts_named(page, pattern)
            assert found, f"no {family} chart on page 7"
            shot = found[0]
            if family == "class-maps":  # both conditions, side by side (stacked on a phone)
                shot = shot.locator("xpath=ancestor::*[@data-testid='stHorizontalBlock'][1]")
            shot.screenshot(path=str(SHOTS / f"greyscale-{family}-{label}.png"))
    finally:
        ctx.close()

