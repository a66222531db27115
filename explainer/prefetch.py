"""Fills the page caches of every chapter once per server process, in the background, so that a
visitor's first visit of each page finds its tables read and its charts built (the first build of a
page's Altair charts costs 0.2-1 s; a cached page switch about 0.3 s in all).

A moment after the first page of a fresh server has been drawn, a daemon thread runs the other
chapters' scripts in Streamlit's bare mode: no session, so widgets return their defaults and
elements go nowhere, while the cached loaders (`explainer.artifacts`) and the chart-spec cache
(`explainer.ui.chart`) are the same process-wide caches a visitor's run reads. A page that fails
here is skipped silently: the visitor's own run shows its friendly note as usual. Last, it starts the
live lab's warm-up (torch, the digits, one tiny fit), so the lab is ready by the time a reader
reaches a "Try it yourself" panel; the pages' own runs here do not start it (`serving()` is False).
"""
from __future__ import annotations

import logging
import runpy
import threading
import time
from pathlib import Path

from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

DELAY_S = 1.0            # let the first page's messages reach the browser before competing for the CPU
THREAD = "story-prefetch"
# Streamlit warns on every element call made outside a session; from this thread that is expected.
QUIET = ("streamlit.runtime.scriptrunner_utils.script_run_context", "streamlit.runtime.state.session_state_proxy",
         "streamlit.runtime.caching.cache_data_api", "streamlit")

_lock = threading.Lock()
_thread: threading.Thread | None = None
log: list[tuple[str, float, str]] = []  # (file, seconds, "ok" or what stopped it), for tests


class _FromThisThread(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != THREAD


def serving() -> bool:
    """True in a visitor's script run under `streamlit run`: not in bare mode, nor in AppTest (which mocks
    the runtime), nor in this module's own background runs (no session)."""
    try:
        from streamlit import config
        from streamlit.runtime import Runtime
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

        return (Runtime.exists() and not config.get_option("global.appTest")
                and get_script_run_ctx(suppress_warning=True) is not None)
    except Exception:
        return False


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
            except (Exception, ScriptControlException) as err:  # st.stop() / st.rerun() end a script early
                outcome = type(err).__name__
            log.append((file, round(time.perf_counter() - t0, 3), outcome))
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)
    if warm_lab:
        from .live import trainer

        trainer().warm()
