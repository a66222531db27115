"""The live lab in a real browser: click Train and watch the chart redraw and the summary appear;
Stop ends a long run and frees the trainer; five concurrent sessions all train, one after another,
without an error. The app runs on a free localhost port; every wait is bounded.

Needs Debian's `chromium` at /usr/bin/chromium (driven by Playwright); skips with a reason otherwise.
Screenshots land in tests/screenshots/live-*.png (git-ignored) for a human to look at.
"""
from __future__ import annotations

import re
import time

import browserkit
import pytest
from browserkit import SHOTS

pytestmark = pytest.mark.browser
sync_api = browserkit.require()

VIEW = {"width": 1280, "height": 1000}
RUN_S = 300  # the longest any wait here may take (a loaded 2-core machine)


def open_lab(browser, url: str, query: str):
    ctx = browser.new_context(viewport=VIEW)
    page = ctx.new_page()
    page.goto(f"{url}/lab?{query}", wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=RUN_S * 1000)
    page.wait_for_selector(".st-key-lab-train button", timeout=RUN_S * 1000)
    return ctx, page


def shown(page) -> str:
    return page.locator('[data-testid="stMainBlockContainer"]').inner_text()


def problems(page) -> int:
    return (page.locator('[data-testid="stException"]').count()
            + page.get_by_text("tripped over something unexpected").count()
            + page.get_by_text("This run failed").count())


WATCH = """() => {
  // Record, inside the page, every "epoch N of M" the progress bar shows and every redraw of a chart,
  // so even a progress bar that lives for a few frames is seen.
  const seen = window.__seen = {epochs: [], redraws: 0};
  new MutationObserver(records => {
    for (const r of records) {
      const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      if (el && el.closest('[data-testid="stVegaLiteChart"]')) seen.redraws += 1;
    }
    const bar = document.querySelector('[data-testid="stProgress"]');
    const m = bar && bar.innerText.match(/epoch (\\d+) of/);
    if (m && !seen.epochs.includes(+m[1])) seen.epochs.push(+m[1]);
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def test_train_redraws_the_chart_and_ends_with_a_summary(server, browser):
    ctx, page = open_lab(browser, server, "n_train=1000&width=256&epochs=40&noise_pct=50&seed=21")
    try:
        page.evaluate(WATCH)
        page.locator(".st-key-lab-train button").click()
        page.get_by_text("What you just saw").wait_for(timeout=RUN_S * 1000)
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=RUN_S * 1000)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "live-lab-done.png"), full_page=True)
        seen = page.evaluate("() => window.__seen")
        text = shown(page)
        assert "Done." in text and "best validation" in text and "What you just saw" in text
        assert len(seen["epochs"]) >= 2, f"the progress moved through epochs while training (saw {seen['epochs']})"
        assert seen["redraws"] >= 2, "the chart was redrawn as epochs came in"
        assert page.locator('[data-testid="stVegaLiteChart"]').count() == 2, "the run's chart and the comparison"
        assert problems(page) == 0
    finally:
        ctx.close()


def train_and_wait(page, runs_before: int) -> None:
    """Click Train and wait until this run's summary and its place in the comparison are drawn."""
    page.locator(".st-key-lab-train button").click()
    page.get_by_text(f"#{runs_before + 1} ").first.wait_for(timeout=RUN_S * 1000)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=RUN_S * 1000)


def set_seed(page, seed: int) -> None:
    box = page.locator(".st-key-lab-seed input")
    box.fill(str(seed))
    box.press("Enter")
    page.wait_for_function(f"() => new URLSearchParams(location.search).get('seed') === '{seed}'",
                           timeout=RUN_S * 1000)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=RUN_S * 1000)


@pytest.mark.browser
def test_two_runs_are_compared_each_with_its_link(server, browser):
    ctx, page = open_lab(browser, server, "n_train=200&width=32&epochs=4&noise_pct=40&seed=41")
    try:
        train_and_wait(page, 0)
        set_seed(page, 42)
        train_and_wait(page, 1)
        text = shown(page)
        assert "Your last runs" in text and "#1 40 % random labels" in text and "#2 40 % random labels" in text
        assert "seed 41" in text and "seed 42" in text
        links = [page.get_by_role("link", name="open in the Lab").nth(i).get_attribute("href") for i in (0, 1)]
        assert all("lab?" in h for h in links) and {"seed=41" in links[0], "seed=42" in links[1]} == {True}
        assert page.locator('[data-testid="stVegaLiteChart"]').count() == 2, "the run's chart and the comparison"
        page.locator(".st-key-lab-pin-1 button").click()
        page.get_by_text("#1 40 % random labels · seed 41 (pinned)").first.wait_for(timeout=RUN_S * 1000)
        page.screenshot(path=str(SHOTS / "live-lab-compare.png"), full_page=True)
        assert problems(page) == 0
    finally:
        ctx.close()


def test_stop_ends_a_long_run_and_frees_the_trainer(server, browser):
    ctx, page = open_lab(browser, server, "n_train=1000&width=512&epochs=200&seed=22")
    try:
        page.locator(".st-key-lab-train button").click()
        page.get_by_text(re.compile(r"epoch [1-9]\d* of 200")).wait_for(timeout=RUN_S * 1000)
        page.locator(".st-key-lab-stop button").click()
        page.get_by_text("Stopped", exact=True).wait_for(timeout=RUN_S * 1000)  # the summary, not the comparison
        page.screenshot(path=str(SHOTS / "live-lab-stopped.png"), full_page=True)
        after = int(re.search(r"after (\d+) epochs", shown(page)).group(1))
        assert after < 200 and problems(page) == 0
    finally:
        ctx.close()
    ctx, page = open_lab(browser, server, "n_train=200&width=16&epochs=3&seed=23")
    try:  # the next visitor trains at once: the stopped run released the trainer
        page.locator(".st-key-lab-train button").click()
        page.get_by_text("What you just saw").wait_for(timeout=RUN_S * 1000)
        assert "Waiting for the trainer" not in shown(page) and problems(page) == 0
    finally:
        ctx.close()


def test_five_concurrent_sessions_all_train(server, browser):
    sessions = [open_lab(browser, server, f"n_train=1000&width=256&epochs=20&noise_pct=40&seed={30 + i}")
                for i in range(5)]
    waited = set()
    try:
        for _, page in sessions:
            page.locator(".st-key-lab-train button").click()
        deadline = time.monotonic() + RUN_S
        done: set[int] = set()
        while len(done) < len(sessions) and time.monotonic() < deadline:
            for i, (_, page) in enumerate(sessions):
                text = shown(page)
                if "Waiting for the trainer" in text or "waited" in text:
                    waited.add(i)
                if "What you just saw" in text:
                    done.add(i)
            time.sleep(0.2)
        for i, (_, page) in enumerate(sessions):
            page.screenshot(path=str(SHOTS / f"live-load-{i}.png"), full_page=True)
            assert problems(page) == 0, f"session {i} shows an error"
        assert done == set(range(len(sessions))), f"only sessions {sorted(done)} finished"
        assert waited, "with five runs at once, some sessions waited for the trainer (one run at a time)"
    finally:
        for ctx, _ in sessions:
            ctx.close()
