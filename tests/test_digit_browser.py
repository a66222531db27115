"""Page 2's "Draw a digit" in a real browser: a visitor draws a 7 on the canvas with the mouse (desktop)
and a 1 with a finger-sized viewport (phone), and both students answer with a sentence and a bar chart
each; the page keeps its exception-free, no-sideways-scroll promises. Screenshots go to tests/screenshots/.

streamlit-drawable-canvas 0.13 is a Components-v2 element: it renders in an open shadow root of the
page itself, not in an iframe, and Playwright's CSS locators reach into that shadow root directly.
"""
from __future__ import annotations

import time

import browserkit
import pytest
from browserkit import (DESKTOP, OVERFLOW, PAGE_TIMEOUT_MS, PHONE, SHOTS, full_height_screenshot,
                        wait_until_drawn)

sync_api = browserkit.require()

pytestmark = pytest.mark.browser

STROKES = {  # one press-move-release each (so one rerun), in canvas pixels (280 x 280)
    "7": [(70, 60), (210, 60), (120, 235)],   # the bar, then the slanted stem
    "1": [(150, 45), (140, 240)],
}


def draw(page, digit: str) -> None:
    """Draws `digit` on the canvas with the mouse in one stroke: pressed at the first point, moved
    through the others, released at the last (the canvas sends the drawing on release)."""
    canvas = page.locator("canvas.upper-canvas").first   # fabric's event layer, inside the shadow root
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] > 0, "the drawing canvas was not drawn"
    points = STROKES[digit]
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for t in range(1, 21):
            page.mouse.move(box["x"] + x0 + (x1 - x0) * t / 20, box["y"] + y0 + (y1 - y0) * t / 20)
    page.mouse.up()


def settled_count(locator, quiet_s: float = 1.5, limit_s: float = 30.0) -> int:
    """How many elements match once the count has stopped changing for quiet_s: on a loaded machine the
    page's other charts may still be arriving when the drawing section is ready."""
    deadline = time.monotonic() + limit_s
    count = locator.count()
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = locator.count()
        if now == count:
            break
        count = now
    return count


def draw_and_read(browser, server, viewport: dict, digit: str, name: str) -> dict:
    ctx = browser.new_context(viewport=viewport, device_scale_factor=1)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{server}/what-is-memorization", wait_until="domcontentloaded")
        wait_until_drawn(page)
        page.get_by_text("The square is empty").first.wait_for(timeout=PAGE_TIMEOUT_MS)
        charts_before = settled_count(page.locator('[data-testid="stVegaLiteChart"]'))
        draw(page, digit)
        page.get_by_text("shuffled-label student says").first.wait_for(timeout=PAGE_TIMEOUT_MS)
        wait_until_drawn(page)
        sentence = page.get_by_text("real-label student says").first.inner_text()
        seen = {
            "sentence": sentence,
            "new_charts": page.locator('[data-testid="stVegaLiteChart"]').count() - charts_before,
            "input_shown": page.get_by_text("What the networks see").count(),
            "empty_note": page.get_by_text("The square is empty").count(),
            "exceptions": page.locator('[data-testid="stException"]').count(),
            "overflow": page.evaluate(OVERFLOW),
            "canvas_width": page.locator("canvas.upper-canvas").first.bounding_box()["width"],
            "input_width": page.get_by_role("img", name="your drawing as the 28 by 28 pixel input")
                               .first.bounding_box()["width"],
            "errors": errors,
        }
        page.locator("h3", has_text="Draw a digit").first.scroll_into_view_if_needed()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"digit-{name}.png"))
        full_height_screenshot(page, SHOTS / f"digit-{name}-full.png")
        # "Wipe and draw another" gives an empty canvas and the prompt again
        page.get_by_role("button", name="Wipe and draw another").click()
        page.get_by_text("The square is empty").first.wait_for(timeout=PAGE_TIMEOUT_MS)
        seen["wiped"] = page.get_by_text("shuffled-label student says").count() == 0
        return seen
    finally:
        ctx.close()


@pytest.mark.parametrize("label,viewport,digit", [("desktop", DESKTOP, "7"), ("phone", PHONE, "1")],
                         ids=["desktop", "phone"])
def test_drawn_digit_gets_both_students_answers(server, browser, label, viewport, digit):
    seen = draw_and_read(browser, server, viewport, digit, label)
    assert seen["exceptions"] == 0 and not seen["errors"], seen
    assert "shuffled-label student says" in seen["sentence"], seen["sentence"]
    assert seen["new_charts"] == 2, f"expected both students' bar charts, got {seen['new_charts']} new charts"
    assert seen["input_shown"] == 1 and seen["empty_note"] == 0
    assert seen["canvas_width"] <= 300 and seen["input_width"] <= 170, seen
    assert seen["wiped"], "after wiping, the students' answers are still shown"
    assert f"real-label student says {digit}" in seen["sentence"], seen["sentence"]
    if label == "phone":
        assert seen["overflow"] <= 1, f"the phone page scrolls sideways by {seen['overflow']} px"
