"""The background prefetch of the story pages' caches (explainer/lab/runtime.py): every page runs to its
end outside a session, it starts once per process and only under a real server, and it keeps
Streamlit's "no session" warnings out of the server log."""
from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from explainer.lab import runtime  # noqa: E402
from explainer.story import STORY  # noqa: E402

from streamlit.testing.v1 import AppTest  # noqa: E402

WARNS = "streamlit.runtime.scriptrunner_utils.script_run_context"


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.seen: list[logging.LogRecord] = []

    def emit(self, record):
        self.seen.append(record)


def run_in_prefetch_thread(files, monkeypatch) -> list[logging.LogRecord]:
    """runtime._run (the prefetch) on its own thread (as start() runs it, without the delay or the lab's warm-up);
    returns the records Streamlit's context logger emitted meanwhile, from any thread."""
    monkeypatch.setattr(runtime, "DELAY_S", 0.0)
    monkeypatch.setattr(runtime, "log", [])
    handler, logger = Records(), logging.getLogger(WARNS)
    logger.addHandler(handler)
    try:
        thread = threading.Thread(target=runtime._run, args=(files, False), name=runtime.THREAD)
        thread.start()
        thread.join(300)
        assert not thread.is_alive()
    finally:
        logger.removeHandler(handler)
    return handler.seen


@pytest.mark.slow  # runs every story page
def test_every_story_page_runs_to_its_end_outside_a_session(monkeypatch):
    files = [str(ROOT / c.file) for c in STORY]
    run_in_prefetch_thread(files, monkeypatch)
    assert [f for f, _, _ in runtime.log] == files
    assert {outcome for _, _, outcome in runtime.log} == {"ok"}, runtime.log


def test_its_no_session_warnings_stay_out_of_the_log(monkeypatch):
    seen = run_in_prefetch_thread([str(ROOT / STORY[1].file)], monkeypatch)
    assert runtime.log and runtime.log[0][2] == "ok"
    assert not [r for r in seen if r.threadName == runtime.THREAD]
    # the filter is on only while the prefetch runs
    assert not any(isinstance(f, runtime._FromThisThread) for f in logging.getLogger(WARNS).filters)


def test_starts_once_per_process(monkeypatch):
    calls = []
    monkeypatch.setattr(runtime, "_thread", None)
    monkeypatch.setattr(runtime, "_run", lambda files: calls.append(files))
    assert runtime.start(["a.py"]) is True
    runtime._thread.join(10)
    assert runtime.start(["b.py"]) is False
    assert calls == [["a.py"]]


def test_not_started_without_a_server(monkeypatch):
    started = []
    monkeypatch.setattr(runtime, "start", lambda files: started.append(files))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    assert not runtime.serving() and started == []
