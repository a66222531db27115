"""What the real-browser tests share: the system Chromium that Playwright drives, a Streamlit server on
a free localhost port, the two viewports, waiting until a page is drawn, and axe-core (the accessibility
scanner that tests/test_a11y.py injects, pinned in package.json). tests/conftest.py turns them into the
module-scoped `server` and `browser` fixtures and the session-scoped `axe`; a test module that uses them
starts with `sync_api = browserkit.require()`, which skips it with a reason when Debian's `chromium` or
the `playwright` package is missing.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "tests" / "screenshots"   # git-ignored; for a human to look at
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SERVER_START_S = 90  # the longest a server may take to answer its health check (a loaded 2-core machine)
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # package.json pins the version, package-lock.json its hash


def require():
    """Skip the calling test module unless the browser and Playwright are there; returns playwright.sync_api."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (install Debian's `chromium` package to run the browser tests)",
                    allow_module_level=True)
    return pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(env: dict[str, str] | None = None):
    """`streamlit run app.py` on a free localhost port (the repository's .streamlit/config.toml applies),
    with `env` added to the environment; yields its URL once the health check answers, and stops the
    server afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"the Streamlit server did not come up:\n{proc.stdout.read()[-3000:]}")
    if proc.poll() is not None:
        pytest.fail(f"the Streamlit server exited:\n{proc.stdout.read()[-3000:]}")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def chromium():
    """Headless system Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


def axe_pinned() -> str:
    """The axe-core version package.json pins (exact; package-lock.json holds its integrity hash)."""
    return json.loads((ROOT / "package.json").read_text())["devDependencies"]["axe-core"]


def axe_installed() -> str | None:
    try:
        return json.loads((AXE.parent / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def install_axe() -> str | None:
    """Make sure node_modules/ holds the pinned axe-core, running `npm ci` (package-lock.json) when it is
    missing or another version; returns why it could not, or None once it is there."""
    if AXE.is_file() and axe_installed() == axe_pinned():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "no npm to install the pinned axe-core (install Debian's `npm` package, or run `npm ci`)"
    try:
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"`npm ci` could not install axe-core: {err}"
    if done.returncode != 0 or not AXE.is_file() or axe_installed() != axe_pinned():
        return f"`npm ci` could not install axe-core {axe_pinned()}: {(done.stderr or done.stdout)[-600:]}"
    return None


DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PAGE_TIMEOUT_MS = 60_000


def wait_until_drawn(page) -> None:
    """The script has finished and every chart container holds a drawn canvas/svg."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=PAGE_TIMEOUT_MS)
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
                 .every(c => { const g = c.querySelector('canvas, svg.marks');
                               return g && g.getBoundingClientRect().width > 0; })""",
        timeout=PAGE_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")


# sideways scroll of the page or of Streamlit's own scrolling containers, in px
OVERFLOW = """() => Math.max(...[document.documentElement, document.body,
    ...document.querySelectorAll('[data-testid=stMain], [data-testid=stAppViewContainer], [data-testid=stMainBlockContainer]')]
    .map(e => e.scrollWidth - e.clientWidth))"""


def slug(chapter) -> str:
    """A chapter's name in test ids, screenshots and reports (the home page has no URL path)."""
    return chapter.url or "introduction"


def open_page(browser, url: str, viewport: dict, dark: bool = False, errors: list[str] | None = None):
    """A fresh context on `url` (a phone viewport is a touch device), drawn; JavaScript errors go to `errors`."""
    phone = viewport is PHONE
    ctx = browser.new_context(viewport=viewport, device_scale_factor=1, is_mobile=phone, has_touch=phone,
                              color_scheme="dark" if dark else "light")
    page = ctx.new_page()
    if errors is not None:
        page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="domcontentloaded")
    wait_until_drawn(page)
    return ctx, page


def grow(page, limit: int = 20000) -> None:
    """A window as tall as the page's content (Streamlit scrolls inside its own container), regrown while
    the charts reflow to the new size."""
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    for _ in range(4):
        needed = page.evaluate("() => { const m = document.querySelector('[data-testid=stMain]');"
                               " return m ? m.scrollHeight : document.body.scrollHeight; }")
        if needed <= height:
            break
        height = min(needed + 40, limit)
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(400)


@contextmanager
def whole_page(page):
    """The window grown to the whole page (`grow`) for what runs inside, then its size again."""
    size = page.viewport_size
    grow(page)
    try:
        yield
    finally:
        page.set_viewport_size(size)


def full_height_screenshot(page, path: Path) -> None:
    """The whole page in one picture."""
    with whole_page(page):
        page.screenshot(path=str(path))
