"""A figure's own link in a real browser, on a freshly started server: the very first request a new Streamlit
process gets is /figures?fig=7, and the page opens with the Fig. 7 section in view (inside the app's frame,
not a bare page). Needs Debian's `chromium` (Playwright drives it); skips with a reason otherwise."""
from __future__ import annotations

import re

import browserkit
import pytest

sync_api = browserkit.require()

TIMEOUT_MS = 90_000  # a cold server on a loaded 2-core machine builds every chart of the page first


def drawn(page) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=TIMEOUT_MS)
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=TIMEOUT_MS)


@pytest.mark.browser
def test_fig_link_on_a_fresh_server_opens_at_that_figure():
    with browserkit.streamlit_server() as url, browserkit.chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/figures?fig=7", wait_until="domcontentloaded")  # the server's first request
        drawn(page)
        heading = page.get_by_role("heading", name=re.compile(r"^Fig\. 7 · "))
        sync_api.expect(heading).to_be_visible(timeout=TIMEOUT_MS)
        sync_api.expect(heading).to_be_in_viewport()
        assert page.locator("#fig-7").count() == 1, "the section carries its anchor"
        assert page.get_by_text("Page not found").count() == 0
        assert page.locator('[data-testid="stSidebarNav"]').count() == 1, "inside the app's frame"
        assert page.locator('[data-testid="stException"]').count() == 0
        chart = page.locator('[data-testid="stVegaLiteChart"]').first
        sync_api.expect(chart).to_be_visible(timeout=TIMEOUT_MS)  # Fig. 7's own chart, drawn first
