"""What the real-browser tests share: the system Chromium that Playwright drives and a Streamlit
server on a free localhost port. tests/conftest.py turns them into the module-scoped `server` and
`browser` fixtures; a test module that uses them starts with `sync_api = browserkit.require()`, which
skips it with a reason when Debian's `chromium` or the `playwright` package is missing.
"""
from __future__ import annotations

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
def streamlit_server():
    """`streamlit run app.py` on a free localhost port (the repository's .streamlit/config.toml applies);
    yields its URL once the health check answers, and stops the server afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
