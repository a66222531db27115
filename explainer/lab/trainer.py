"""The live lab's trainer: one per server process, one run at a time, with the pipeline's own engine.

`Trainer` owns the process-wide lock, the warm-up (torch and the MNIST sample are imported and
loaded in a background thread when the first page that retrains renders, so a click does not pay
for them), and a small cache of finished runs keyed by their exact settings. `run` turns a tuple
of `Arm`s into RunSpecs and corruptions and trains them in the pipeline's own batches
(`training.stages.common.batches`) with `training.engine.fit` — the function every stage calls.
Its fixed settings (validation digits, subset seed, SGD momentum, threads, time budget) are
params.yaml's `lab:` section.

Memory stays bounded by the knobs' limits: the largest run (two arms of a 4×1,024 MLP on 2,000
digits, Adam) holds ~130 MB of weights and optimizer state; the cache keeps tables, never models.
Nothing here imports Streamlit; the panel (explainer/lab/page.py) draws what `run` reports.
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

from .knobs import Arm, Knobs, lab_config

WARM_UP = Knobs(n_train=100, width=8, epochs=1)  # one tiny fit, so that a visitor's is not the first


@dataclass
class LiveResult:
    arms: tuple[Arm, ...]
    frame: pd.DataFrame          # the engine's per-epoch rows; `run` is the index into arms
    stopped: str = ""            # "" (finished), "stop", "deadline"
    seconds: float = 0.0         # wall-clock of the training itself
    cached: bool = False


@dataclass
class Trainer:
    lock: threading.Lock = field(default_factory=threading.Lock)
    warm_done: threading.Event = field(default_factory=threading.Event)
    warm_seconds: float = float("nan")
    warm_error: str = ""
    threads: int = 0                                 # torch threads used (lab.threads, or 1 if they would spin)
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
            cfg = lab_config()
            fresh = "torch" not in sys.modules
            if fresh:  # idle OpenMP workers sleep instead of spinning: on a shared machine spinning costs 10x
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            import torch

            from training import data as D
            from training.engine import fit, make_train_set

            passive = os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"
            self.threads = cfg.threads if (fresh or passive) else 1
            torch.set_num_threads(self.threads)
            train, val = D.load(cfg.dataset)
            self._data = (train, D.stratified_subset(val, cfg.n_val, cfg.subset_seed))
            if self.lock.acquire(blocking=False):  # never delay a visitor's run for it
                try:
                    specs, corruptions, subset = self._inputs([Arm("warm-up", WARM_UP)])
                    fit(specs, make_train_set(subset, corruptions), self._data[1])
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
    def slot(self, waiting: Callable[[float], None] = lambda s: None, give_up_s: float | None = None):
        """Hold the trainer for one run. While another run holds it, call `waiting(seconds waited)`
        about four times a second (it may raise to abandon the wait). Always released."""
        give_up_s = lab_config().wait_s if give_up_s is None else give_up_s
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

    # -- cache of finished runs: an identical click (a preset at its default seed, above all) is answered
    # from here in ~0.01 ms instead of retraining for seconds (measured: benchmarks/README.md, "Caches")

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
            while len(self._cache) > lab_config().cache_runs:
                self._cache.popitem(last=False)

    # -- training --------------------------------------------------------------------------------

    def _inputs(self, arms: Sequence[Arm]):
        """(specs, corruptions, training subset) of arms that share one training subset."""
        from training import data as D

        sizes = {arm.knobs.n_train for arm in arms}
        if len(sizes) != 1:
            raise ValueError(f"the arms of one live run share their training digits; got n_train {sorted(sizes)}")
        specs, corruptions = zip(*(spec_of(arm.knobs) for arm in arms))
        return list(specs), list(corruptions), D.stratified_subset(self._data[0], sizes.pop(), lab_config().subset_seed)

    def run(self, arms: Sequence[Arm], on_epoch: Callable[[dict], None] | None = None,
            stop: Callable[[], bool] | None = None, budget_s: float | None = None) -> LiveResult:
        """Train every arm (the caller holds `slot()`), in the pipeline's batches of runs that share a model.

        on_epoch gets {rows: {arm index: that arm's engine rows so far}, done, total (epochs over
        all batches), seconds}; every row's `run` is its arm's index. Returns the per-epoch table of all arms."""
        self.wait_warm()
        if self.warm_error:
            raise RuntimeError(f"the trainer could not start ({self.warm_error})")
        from training.engine import fit, make_train_set
        from training.stages.common import batches

        arms = tuple(arms)
        specs, corruptions, subset = self._inputs(arms)
        chunks = batches(specs)
        total = sum(specs[chunk[0]].train.epochs for chunk in chunks)
        rows: dict[int, list] = {i: [] for i in range(len(arms))}
        t0 = time.monotonic()
        deadline = t0 + (lab_config().budget_s if budget_s is None else budget_s)
        done, stopped = 0, ""
        for chunk in chunks:
            def report(r, chunk=chunk, base=done):
                for row in r["rows"]:  # the engine numbers a batch's runs from 0: name them by their arm
                    rows[chunk[row["run"]]].append({**row, "run": chunk[row["run"]]})
                elapsed, finished = time.monotonic() - t0, base + r["epoch"]
                if self.busy:
                    self.busy["eta"] = time.monotonic() + elapsed / max(finished, 1) * (total - finished)
                if on_epoch is not None:
                    on_epoch({"rows": rows, "done": finished, "total": total, "seconds": elapsed})

            data = make_train_set(subset, [corruptions[i] for i in chunk])
            hist = fit([specs[i] for i in chunk], data, self._data[1], on_epoch=report, deadline=deadline, stop=stop)
            done += specs[chunk[0]].train.epochs
            if hist.stopped:
                stopped = hist.stopped
                break
        frame = pd.DataFrame([row for i in sorted(rows) for row in rows[i]])
        return LiveResult(arms, frame, stopped, time.monotonic() - t0)


def spec_of(k: Knobs):
    """The RunSpec and Corruption of one live run: the pipeline's own config classes, so a preset
    with seed 0 is exactly the pipeline run it is drawn over (same subset, labels and init)."""
    from training import data as D
    from training.config import AugmentConfig, ModelConfig, RunSpec, TrainConfig

    model = ModelConfig(arch="mlp", width=k.width, depth=k.depth, dropout=k.dropout)
    train = TrainConfig(optimizer=k.optimizer, lr=k.lr, momentum=lab_config().momentum if k.optimizer == "sgd" else 0.0,
                        batch_size=k.batch_size, epochs=k.epochs, weight_decay=k.weight_decay,
                        augment=AugmentConfig(rotation=k.rotation, pixel_noise=k.pixel_noise))
    return RunSpec(seed=k.seed, model=model, train=train), D.Corruption(k.kind, k.p, k.seed)
