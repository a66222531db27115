"""The live lab's trainer: one per server process, one run at a time, with the pipeline's own engine.

`Trainer` owns the process-wide lock, the warm-up (torch and the MNIST sample are imported and
loaded in a background thread when the first page that retrains renders, so a click does not pay
for them), and a small cache of finished runs keyed by their exact settings. `run` turns a tuple
of `Arm`s into RunSpecs and corruptions and calls `training.engine.fit` — the same function every
pipeline stage calls; arms that can share one batched model train together.

Memory stays bounded by the knobs' limits: the largest run (two arms of a 4×1,024 MLP on 2,000
digits, Adam) holds ~130 MB of weights and optimizer state; the cache keeps tables, never models.
Nothing here imports Streamlit; the page widget (explainer/live.py) draws what `run` reports.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Sequence

import pandas as pd

from .live_knobs import Arm, Knobs

THREADS = 2           # torch CPU threads of a live run (the demo server has 2 cores)
N_VAL = 1000          # clean validation digits scored every epoch (stratified from the 2,000)
SUBSET_SEED = 0       # the training subset is fixed; the visitor's seed drives init, order and noise
BUDGET_S = 45.0       # wall-clock seconds a run may take; it ends after the epoch that passes this
CACHE_RUNS = 64       # finished runs kept for identical requests (each a small table)


@dataclass
class LiveResult:
    arms: tuple[Arm, ...]
    frame: pd.DataFrame          # the engine's per-epoch rows, plus `arm` (index into arms)
    stopped: str = ""            # "" (finished), "stop", "deadline", "interrupted"
    seconds: float = 0.0         # wall-clock of the training itself
    cached: bool = False


@dataclass
class Trainer:
    lock: threading.Lock = field(default_factory=threading.Lock)
    warm_done: threading.Event = field(default_factory=threading.Event)
    warm_seconds: float = float("nan")
    warm_error: str = ""
    threads: int = 0                                 # torch threads used (THREADS, or 1 if they would spin)
    busy: dict = field(default_factory=dict)         # the current run: started, eta (monotonic seconds)
    log: list = field(default_factory=list)          # (start, end) of every run, for tests and benchmarks
    waits: int = 0                                   # requests that found the trainer busy
    _cache: OrderedDict = field(default_factory=OrderedDict)
    _data: tuple | None = None
    _guard: threading.Lock = field(default_factory=threading.Lock)
    _warm_thread: threading.Thread | None = None
    _warm_now: threading.Event = field(default_factory=threading.Event)

    # -- warm-up ---------------------------------------------------------------------------------

    def warm(self, delay: float = 0.0) -> None:
        """Start the warm-up in the background (once); returns at once. With `delay`, the thread first
        waits that many seconds (cut short by `wait_warm`), so importing torch does not compete for the
        CPU with the page that is being drawn."""
        if not delay:
            self._warm_now.set()
        with self._guard:
            if self._warm_thread is None:
                self._warm_thread = threading.Thread(target=self._warm, args=(delay,), name="live-lab-warmup",
                                                     daemon=True)
                self._warm_thread.start()

    def _warm(self, delay: float) -> None:
        self._warm_now.wait(delay)
        t0 = time.monotonic()
        try:
            fresh = "torch" not in sys.modules
            if fresh:  # idle OpenMP workers sleep instead of spinning: on a shared machine spinning costs 10x
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            import torch

            from training import data as D
            from training.engine import fit

            passive = os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"
            self.threads = THREADS if (fresh or passive) else 1
            torch.set_num_threads(self.threads)
            train, val = D.mnist10k()
            self._data = (train, D.stratified_subset(val, N_VAL, SUBSET_SEED))
            knobs = Knobs(n_train=100, width=8, epochs=1)  # one tiny fit, so the first real one is not the first
            if self.lock.acquire(blocking=False):  # never delay a visitor's run for it
                try:
                    fit(*self._inputs([Arm("warm-up", knobs)]))
                finally:
                    self.lock.release()
        except Exception as err:  # the page shows it; the next click retries nothing and says why
            self.warm_error = f"{type(err).__name__}: {err}"
        finally:
            self.warm_seconds = time.monotonic() - t0
            self.warm_done.set()

    def wait_warm(self, timeout: float | None = None) -> bool:
        self.warm()
        return self.warm_done.wait(timeout)

    # -- one run at a time -----------------------------------------------------------------------

    @contextmanager
    def slot(self, waiting: Callable[[float], None] = lambda s: None, give_up_s: float = 300.0):
        """Hold the trainer for one run. While another run holds it, call `waiting(seconds waited)`
        about four times a second (it may raise to abandon the wait). Always released."""
        t0 = time.monotonic()
        got = self.lock.acquire(blocking=False)
        if not got:
            self.waits += 1
        while not got:
            waiting(time.monotonic() - t0)
            if time.monotonic() - t0 > give_up_s:
                raise TimeoutError("the trainer stayed busy; try again in a minute")
            got = self.lock.acquire(timeout=0.25)
        start = time.monotonic()
        self.busy = {"started": start, "eta": start + 5.0}
        try:
            yield time.monotonic() - t0
        finally:
            self.log.append((start, time.monotonic()))
            del self.log[:-100]
            self.busy = {}
            self.lock.release()

    def left_s(self) -> float:
        """Seconds the current run probably still needs (0 when idle)."""
        busy = self.busy
        return max(0.0, busy.get("eta", 0.0) - time.monotonic()) if busy else 0.0

    # -- cache -----------------------------------------------------------------------------------

    def cached(self, arms: Sequence[Arm]) -> LiveResult | None:
        with self._guard:
            hit = self._cache.get(tuple(arms))
            if hit is not None:
                self._cache.move_to_end(tuple(arms))
        return None if hit is None else LiveResult(hit.arms, hit.frame, hit.stopped, hit.seconds, cached=True)

    def remember(self, result: LiveResult) -> None:
        if result.stopped:  # only complete runs are reproducible answers
            return
        with self._guard:
            self._cache[tuple(result.arms)] = result
            while len(self._cache) > CACHE_RUNS:
                self._cache.popitem(last=False)

    # -- training --------------------------------------------------------------------------------

    def _inputs(self, arms: Sequence[Arm]):
        """(specs, train set, val) for arms that share one batched model and one training subset."""
        from training import data as D
        from training.engine import make_train_set

        train, val = self._data
        subset = D.stratified_subset(train, arms[0].knobs.n_train, SUBSET_SEED)
        specs, corruptions = zip(*(spec_of(arm.knobs) for arm in arms))
        return list(specs), make_train_set(subset, corruptions), val

    def run(self, arms: Sequence[Arm], on_epoch: Callable[[dict], None] | None = None,
            stop: Callable[[], bool] | None = None, budget_s: float = BUDGET_S) -> LiveResult:
        """Train every arm (the caller holds `slot()`), batching arms that can share a model.

        on_epoch gets {rows: {arm index: that arm's engine rows so far}, done, total (epochs over
        all groups), seconds}. Returns the per-epoch table of all arms with an `arm` column."""
        self.wait_warm()
        if self.warm_error:
            raise RuntimeError(f"the trainer could not start ({self.warm_error})")
        from training.engine import fit

        arms = tuple(arms)
        groups: dict = {}
        for i, arm in enumerate(arms):
            groups.setdefault(_group_key(arm.knobs), []).append(i)
        total = sum(arms[m[0]].knobs.epochs for m in groups.values())
        rows: dict[int, list] = {i: [] for i in range(len(arms))}
        t0 = time.monotonic()
        deadline = t0 + budget_s
        done, stopped = 0, ""
        for members in groups.values():
            specs, data, val = self._inputs([arms[i] for i in members])

            def report(r, members=members, base=done):
                for row in r["rows"]:
                    rows[members[row["run"]]].append({**row, "arm": members[row["run"]]})
                elapsed = time.monotonic() - t0
                finished = base + r["epoch"]
                if self.busy:
                    self.busy["eta"] = time.monotonic() + elapsed / max(finished, 1) * (total - finished)
                if on_epoch is not None:
                    on_epoch({"rows": rows, "done": finished, "total": total, "seconds": elapsed})

            hist = fit(specs, data, val, on_epoch=report, deadline=deadline, stop=stop)
            done += arms[members[0]].knobs.epochs
            if hist.stopped:
                stopped = hist.stopped
                break
        frame = pd.DataFrame([row for i in sorted(rows) for row in rows[i]])
        return LiveResult(arms, frame, stopped, time.monotonic() - t0)


def _group_key(k: Knobs) -> tuple:
    """Arms with equal keys share a training subset and a batched model (per-run: seed, noise,
    dropout, weight decay, augmentation)."""
    return (k.n_train, k.width, k.depth, k.optimizer, k.lr, k.batch_size, k.epochs)


def spec_of(k: Knobs):
    """The RunSpec and Corruption of one live run: the pipeline's own config classes, so a preset
    with seed 0 is exactly the pipeline run it is drawn over (same subset, labels and init)."""
    from training import data as D
    from training.config import AugmentConfig, ModelConfig, RunSpec, TrainConfig

    model = ModelConfig(arch="mlp", width=k.width, depth=k.depth, dropout=k.dropout)
    train = TrainConfig(optimizer=k.optimizer, lr=k.lr, momentum=0.9 if k.optimizer == "sgd" else 0.0,
                        batch_size=k.batch_size, epochs=k.epochs, weight_decay=k.weight_decay,
                        augment=AugmentConfig(rotation=k.rotation, pixel_noise=k.pixel_noise))
    return RunSpec(seed=k.seed, model=model, train=train), D.Corruption(k.kind, k.p, k.seed)
