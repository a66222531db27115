"""How fast the story app feels in a real browser (headless Chromium driven by Playwright).

Measures, for a freshly started server:
  server_ready   launching `streamlit run` until its health endpoint answers
  cold_first     opening the first page in a new browser until its script finished and every chart is drawn
                 (the first run imports pandas/Altair and reads the artifacts: the slowest visit)
  cold_total     server_ready + cold_first: process launch to the first page on screen
  warm_first     the same page in a new browser tab once the server is warm
  switch_first   clicking a page in the sidebar until the new page's script finished and charts are drawn,
                 first visit of each page (its tables are read and its charts built: caches are cold)
  switch_repeat  the same on later rounds (`--rounds` - 1 more passes over every page; caches are warm)
The clicking starts at once, or after `--pause` seconds on the first page (a reader, during which the
server fills the other pages' caches in the background: explainer/lab/runtime.py).

Run by hand, not in CI (timings depend on the machine):
    python benchmarks/bench_app.py [--rounds 3] [--pause 0] [--json out.json]
Set EXPLAINER_ARTIFACTS to benchmark against another artifacts folder.
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from explainer.story import STORY as CHAPTERS  # noqa: E402  (the lab page trains; not timed here)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
DRAWN = """() => { const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (!document.querySelector('[data-testid="stMainBlockContainer"] h1')) return false;
  return [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')].every(c => {
    const g = c.querySelector('canvas, svg.marks'); return g && g.getBoundingClientRect().width > 0; }); }"""


def start_server(port: int) -> tuple[subprocess.Popen, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--server.fileWatcherType", "none"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read() == b"ok":
                return proc, time.perf_counter() - t0
        except OSError:
            if proc.poll() is not None or time.perf_counter() - t0 > 60:
                raise SystemExit("the server did not start")
            time.sleep(0.05)


def wait_drawn(page, title: str | None = None) -> None:
    page.wait_for_function(DRAWN, timeout=60_000, polling=20)
    if title:  # after a switch: wait for the new page's heading, not the old one's
        page.wait_for_function("t => document.title.includes(t)", arg=title, timeout=60_000, polling=20)
        page.wait_for_function(DRAWN, timeout=60_000, polling=20)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="passes over all pages (the first with cold caches)")
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    ap.add_argument("--pause", type=float, default=0.0,
                    help="seconds to stay on the first page before clicking on (a reader; 0: click at once)")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc, ready = start_server(port)
    out: dict = {"server_ready_s": round(ready, 3)}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for label in ("cold_first", "warm_first"):
                ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                page = ctx.new_page()
                t0 = time.perf_counter()
                page.goto(f"{url}/{CHAPTERS[0].url}", wait_until="commit")
                wait_drawn(page)
                out[f"{label}_s"] = round(time.perf_counter() - t0, 3)
                if label == "warm_first":
                    time.sleep(args.pause)
                    rounds: list[dict[str, float]] = []
                    for _ in range(args.rounds):
                        times = {}
                        for chapter in [*CHAPTERS[1:], CHAPTERS[0]]:
                            t0 = time.perf_counter()
                            page.locator(f'[data-testid="stSidebarNav"] a[href$="/{chapter.url}"]').click()
                            wait_drawn(page, chapter.title)
                            times[chapter.url or "introduction"] = time.perf_counter() - t0
                        rounds.append(times)
                    for label, rs in (("switch_first", rounds[:1]), ("switch_repeat", rounds[1:])):
                        every = [t for r in rs for t in r.values()]
                        if every:
                            out[f"{label}_median_s"] = round(statistics.median(every), 3)
                            out[f"{label}_max_s"] = round(max(every), 3)
                            out[f"{label}_by_page_s"] = {k: round(statistics.median([r[k] for r in rs]), 3)
                                                         for k in rs[0]}
                ctx.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    out["cold_total_s"] = round(out["server_ready_s"] + out["cold_first_s"], 3)
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
