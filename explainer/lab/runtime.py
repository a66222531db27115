"""The lab's place in the Streamlit server process: the one trainer, whether a script run serves a
visitor, the check that ends a run when its visitor clicked again or left, and the background
prefetch of the story pages.

Prefetch: a moment after the first page of a fresh server has been drawn, a daemon thread runs the
story chapters' scripts in Streamlit's bare mode (no session, so widgets return their defaults and
elements go nowhere), which fills the same process-wide caches a visitor's run reads (the artifact
readers and derived tables, `explainer.ui.chart`'s specs); a page that fails here is skipped
silently. Last, it starts the trainer's warm-up (torch, the digits, one tiny fit), so the lab is
ready by the time a reader reaches a "Try it yourself" panel. The win of each was measured:
benchmarks/README.md, "Caches".

Public Streamlit APIs throughout, except `stop_check`, which has no public equivalent (see there).
"""
from __future__ import annotations

import logging
import runpy
import threading
import time
from pathlib import Path
from typing import Callable

import streamlit as st

from .trainer import Trainer

WARM_DELAY_S = 2.0  # the warm-up waits this long after a panel first renders (a Train click starts it at once)
DELAY_S = 1.0       # the prefetch lets the first page's messages reach the browser before competing for the CPU
THREAD = "story-prefetch"
# Streamlit warns on every element call made outside a session; from the prefetch thread that is expected.
QUIET = ("streamlit.runtime.scriptrunner_utils.script_run_context", "streamlit.runtime.state.session_state_proxy",
         "streamlit.runtime.caching.cache_data_api", "streamlit")

_lock = threading.Lock()
_thread: threading.Thread | None = None
log: list[tuple[str, float, str]] = []  # (file, seconds, "ok" or what stopped it), for tests


@st.cache_resource(show_spinner=False)
def trainer() -> Trainer:
    """The one trainer of this server process (its warm-up is started by `panel_trainer` or the prefetch)."""
    return Trainer()


def serving() -> bool:
    """True in a visitor's script run under `streamlit run`; False in bare mode (no runtime), in AppTest
    and in the prefetch's background runs (both have a runtime but no browser, so no request headers)."""
    return st.runtime.exists() and bool(st.context.headers)


def panel_trainer() -> Trainer:
    """The trainer, for a panel being drawn: in a visitor's run its warm-up starts in the background a
    moment after the first panel renders; in bare runs, AppTest and the prefetch torch is first
    imported by a Train click."""
    t = trainer()
    if serving():
        t.warm(delay=WARM_DELAY_S)
    return t


def stop_check() -> Callable[[], bool]:
    """A check, run after every epoch, that turns True when this visitor clicked again inside the
    panel (Stop, or Train) or closed the page.

    Streamlit has no public API for either. The panel is a fragment, and a click in a fragment queues a
    rerun that Streamlit does not let interrupt the running one, so we look at that queue (the script
    run's private `script_requests._state`); a closed page is a session the runtime no longer counts as
    active (`Runtime.is_active_session`). Both are internal and may change with a Streamlit upgrade:
    this is the one place that reads them, and if they fail the run simply ends at its time budget.
    (A click elsewhere on the page reruns the whole script and interrupts the run by itself.)"""
    checks = []
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        requests = getattr(ctx, "script_requests", None)
        if requests is not None and hasattr(requests, "_state"):
            checks.append(lambda: getattr(requests._state, "name", "CONTINUE") != "CONTINUE")
        if ctx is not None and st.runtime.exists():
            runtime, session = st.runtime.get_instance(), ctx.session_id
            checks.append(lambda: not runtime.is_active_session(session))
    except Exception:  # an internal API changed: the run then ends at its time budget
        pass
    return lambda: any(check() for check in checks)


# ---------------------------------------------------------------------------------------------
# Prefetch


class _FromThisThread(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != THREAD


def start(files: list[str | Path]) -> bool:
    """Start the prefetch of `files` (chapter scripts) and then the lab's warm-up, once per process;
    True if this call started it."""
    global _thread
    with _lock:
        if _thread is not None:
            return False
        _thread = threading.Thread(target=_run, args=([str(f) for f in files],), name=THREAD, daemon=True)
        _thread.start()
        return True


def _run(files: list[str], warm_lab: bool = True) -> None:
    time.sleep(DELAY_S)
    quiet = _FromThisThread()
    loggers = [logging.getLogger(name) for name in QUIET]
    for logger in loggers:
        logger.addFilter(quiet)
    try:
        for file in files:
            t0 = time.perf_counter()
            try:
                runpy.run_path(file, run_name="__main__")
                outcome = "ok"
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as err:  # noqa: BLE001  st.stop() / st.rerun() end a script with a BaseException
                outcome = type(err).__name__
            log.append((file, round(time.perf_counter() - t0, 3), outcome))
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)
    if warm_lab:
        trainer().warm()
