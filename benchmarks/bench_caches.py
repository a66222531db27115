"""Does each cache of the live lab and the catalog pay? Each one timed with and without, by hand.

    python benchmarks/bench_caches.py            # every measurement (about a minute on 2 cores)

1. The trainer's cache of finished runs: a story preset trained vs the same click answered from it.
2. The warm-up: a first Train click on a cold trainer (import torch, load the digits) vs a warm one.
3. `catalog.measured()` (every summary.csv as configurations), uncached vs its `A.derived` cache.
4. The band behind a live run: `band.nearest` with the band's curves read again (as in the app) vs
   cached by `A.derived`.
5. Page 9's `catalog.lookup`, computed (as in the app) vs cached by `A.derived`.
6. The prefetch: a visitor's first switch to a page (AppTest, in a fresh process) with and without the
   background prefetch having run that page first.
The median of `--reps` repetitions (default 5) of the quick ones; the load average is printed beside.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def median_s(fn, reps: int) -> float:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def show(what: str, without: float, with_: float) -> None:
    print(f"{what:55s} without {without * 1000:9.1f} ms · with {with_ * 1000:8.2f} ms · "
          f"{without / max(with_, 1e-9):7.0f}x · load {os.getloadavg()[0]:.1f}")


PAGE_SWITCH = """
import sys, threading, time
sys.path.insert(0, {root!r})
from streamlit.testing.v1 import AppTest
from explainer.lab import runtime
page = {page!r}
at = AppTest.from_file({root!r} + "/app.py", default_timeout=300); at.run()
if {prefetch}:
    runtime.DELAY_S = 0
    t = threading.Thread(target=runtime._run, args=([{root!r} + "/" + page], False), name=runtime.THREAD)
    t.start(); t.join()
t0 = time.perf_counter(); at.switch_page(page); at.run()
print("SWITCH", time.perf_counter() - t0)
"""


def page_switch(page: str, prefetch: bool) -> float:
    code = PAGE_SWITCH.format(root=str(ROOT), page=page, prefetch=prefetch)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT)
    line = next(x for x in out.stdout.splitlines() if x.startswith("SWITCH"))
    return float(line.split()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    reps = ap.parse_args().reps
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")

    from explainer import artifacts as A, catalog as C
    from explainer.lab import band
    from explainer.lab.presets import PRESETS
    from explainer.lab.trainer import Trainer

    t = Trainer()
    twin = PRESETS["twin"].arms
    t0 = time.perf_counter()
    with t.slot():
        first = t.run(twin)
    cold = time.perf_counter() - t0
    with t.slot():
        warm = median_s(lambda: t.run(PRESETS["twin"].with_seed(1).arms), 1)
    show("warm-up: first Train click (twin preset), cold vs warm", cold, warm)
    t.remember(first)
    show("run cache: twin preset retrained vs answered from the cache", warm, median_s(lambda: t.cached(twin), reps))

    C.measured()
    show("catalog.measured(): built vs cached", median_s(C.measured.__wrapped__, reps), median_s(C.measured, reps))
    # the two below are not cached in the app (they did not pay): A.derived is put on here to see what it would give
    arm = PRESETS["regularization"].arms[1]
    uncached = median_s(lambda: band.nearest(arm.knobs), reps)
    frame, band._frame = band._frame, A.derived(band._frame)
    try:
        band.nearest(arm.knobs)
        show("band.nearest (one arm): band curves read vs cached", uncached,
             median_s(lambda: band.nearest(arm.knobs), reps))
    finally:
        band._frame = frame
    want = {"width": 128, "n_train": 500, "kind": "randY", "p": 0.4, "regularizer": "none", "strength": 0.0}
    lookup = A.derived(C.lookup)
    lookup("mnist10k", "mlp", **want)
    show("page 9 catalog.lookup: computed vs cached", median_s(lambda: C.lookup("mnist10k", "mlp", **want), reps),
         median_s(lambda: lookup("mnist10k", "mlp", **want), reps))

    for page in ("chapters/05_regularization.py", "chapters/09_model_design.py"):
        show(f"prefetch: first switch to {page.split('/')[1]}", page_switch(page, False), page_switch(page, True))


if __name__ == "__main__":
    main()
