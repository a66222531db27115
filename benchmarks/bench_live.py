"""How fast the live lab answers a click, measured by hand (not a test; no timing is asserted).

    python benchmarks/bench_live.py              # the trainer alone, then the app in a real browser
    python benchmarks/bench_live.py --no-browser # the trainer alone

1. Trainer (in this process, like the server): the background warm-up (importing torch, loading the
   digits, one tiny fit), then every story preset with its default seed: seconds to the first
   per-epoch report (the data of the first chart update), to the end, the process CPU seconds, and
   an identical second request (served from the cache).
2. Browser (streamlit run app.py on a free localhost port, headless Chromium): each preset's page
   and the Lab; seconds from the click on Train to the first drawn progress/chart update, to the
   summary, and for the same click again (cache). First of all, one tiny Lab run on the fresh server
   (clicked as soon as the page is drawn) times a click that has to wait for the warm-up.

The load average is printed next to the numbers: on a shared machine wall-clock seconds grow with
it, while CPU seconds show what the run itself costs. Results go to benchmarks/out/bench_live.json.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explainer.lab.knobs import describe  # noqa: E402  (no torch yet: the warm-up imports it)
from explainer.lab.presets import PRESETS  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
PAGES = {"capacity": "factors", "twin": "experiment-time", "regularization": "regularization",
         "augmentation": "data-augmentation", "early-stopping": "training-time"}
PANEL_KEY = {"capacity": "factors-live", "twin": "exp-live", "regularization": "reg-live",
             "augmentation": "aug-live", "early-stopping": "time-live"}
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def bench_trainer() -> dict:
    from explainer.lab.trainer import Trainer

    t = Trainer()
    t0 = time.monotonic()
    t.warm()
    t.wait_warm()
    out = {"warm_up_s": round(time.monotonic() - t0, 2), "threads": t.threads, "presets": {}}
    print(f"warm-up (import torch, load digits, one tiny fit): {out['warm_up_s']:.2f} s, "
          f"{t.threads} torch threads, load {load()}")
    for name, preset in PRESETS.items():
        first: list[float] = []
        c0, w0 = time.process_time(), time.monotonic()
        with t.slot():
            res = t.run(preset.arms, on_epoch=lambda r: first or first.append(time.monotonic() - w0))
        total, cpu = time.monotonic() - w0, time.process_time() - c0
        t.remember(res)
        h0 = time.monotonic()
        hit = t.cached(preset.arms)
        hit_s = time.monotonic() - h0
        row = {"first_report_s": round(first[0], 3), "total_s": round(total, 2), "cpu_s": round(cpu, 2),
               "epochs": int(res.frame["epoch"].max()), "arms": len(preset.arms), "stopped": res.stopped,
               "cache_hit_s": round(hit_s, 5), "cache_hit": hit is not None, "load": load()}
        out["presets"][name] = row
        print(f"{name:15s} first report {row['first_report_s']:.2f} s · total {row['total_s']:.2f} s · "
              f"CPU {row['cpu_s']:.2f} s · {row['arms']} arms × {row['epochs']} epochs · cache hit "
              f"{row['cache_hit_s'] * 1000:.2f} ms · load {row['load']}")
        print(f"{'':15s} " + " | ".join(describe(a.knobs) for a in preset.arms[:1]))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


WATCH = """(key) => {
  // Timestamps in the page itself: the click, the first progress/chart update (or the cached answer),
  // and the summary of *this* run (the script has run since the click and is idle again).
  const t = window.__live = {};
  const main = () => document.querySelector('[data-testid="stMainBlockContainer"]');
  const state = () => document.querySelector('[data-testid="stApp"]').dataset.testScriptState;
  document.querySelector(`.st-key-${key}-train button`)
          .addEventListener('click', () => { t.click = performance.now(); }, {once: true});
  new MutationObserver(() => {
    if (!t.click) return;
    const text = main().innerText;
    if (state() === 'running') t.ran = true;
    if (!t.first && (document.querySelector('[data-testid="stProgress"]') || text.includes('Served from the cache')))
      t.first = performance.now();
    if (t.ran && !t.done && state() === 'notRunning' && /What you just saw|Served from the cache/.test(text))
      t.done = performance.now();
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def click_and_time(page, key: str, timeout_s: float = 300) -> tuple[float, float]:
    """(seconds to the first progress/chart update, seconds to the summary) after a click on Train,
    timed inside the page (a MutationObserver sees even a progress bar that shows for one frame)."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_s * 1000)
    button = page.locator(f".st-key-{key}-train button")
    button.scroll_into_view_if_needed()
    page.evaluate(WATCH, key)
    button.click()
    page.wait_for_function("() => window.__live.done", timeout=timeout_s * 1000, polling=100)
    t = page.evaluate("() => window.__live")
    first = (t["first"] - t["click"]) / 1000 if "first" in t else float("nan")  # a one-frame run may show none
    return first, (t["done"] - t["click"]) / 1000


def bench_browser() -> dict:
    from playwright.sync_api import sync_playwright

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url, out = f"http://127.0.0.1:{port}", {}
    try:
        for _ in range(300):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{url}/lab?n_train=100&width=8&epochs=1&seed=999")
            # the first click on a fresh server, right after the page is drawn: it waits for the warm-up
            # (torch, the digits, one tiny fit), which a visitor who reads for a few seconds never sees
            first, total = click_and_time(page, "lab")
            out["cold click"] = {"first_update_s": round(first, 2), "summary_s": round(total, 2), "load": load()}
            print(f"{'cold click':15s} tiny Lab run on a fresh server: click → first chart update {first:.2f} s · "
                  f"→ summary {total:.2f} s · load {load()}")
            targets = [(name, f"{url}/{PAGES[name]}", PANEL_KEY[name]) for name in PRESETS]
            targets.append(("lab (defaults)", f"{url}/lab", "lab"))
            for name, address, key in targets:
                page.goto(address)
                page.wait_for_selector(f".st-key-{key}-train button", timeout=300_000)
                page.wait_for_load_state("networkidle")
                try:
                    first, total = click_and_time(page, key)
                    _, again = click_and_time(page, key)
                except Exception as err:  # a page without its panel yet: say so and go on
                    print(f"{name:15s} not measured ({type(err).__name__}: {str(err).splitlines()[0][:80]})")
                    continue
                out[name] = {"first_update_s": round(first, 2), "summary_s": round(total, 2),
                             "cached_summary_s": round(again, 2), "load": load()}
                print(f"{name:15s} click → first chart update {first:.2f} s · → summary {total:.2f} s · "
                      f"same click again (cache) {again:.2f} s · load {load()}")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-browser", action="store_true", help="skip the end-to-end browser measurement")
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPU cores, load average {load()} (1, 5, 15 min)")
    result = {"cores": os.cpu_count(), "trainer": bench_trainer()}
    if not args.no_browser and Path("/usr/bin/chromium").exists():
        result["browser"] = bench_browser()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_live.json").write_text(json.dumps(result, indent=2))
    print(f"written to {OUT / 'bench_live.json'}")


if __name__ == "__main__":
    main()
