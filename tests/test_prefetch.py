"""The background prefetch of the story pages' caches (explainer/prefetch.py): every page runs to its
end outside a session, it starts once per process and only under a real server, and it keeps
Streamlit's "no session" warnings out of the server log."""
from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from explainer import prefetch  # noqa: E402
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
    """prefetch._run on its own thread (as start() runs it, without the delay or the lab's warm-up);
    returns the records Streamlit's context logger emitted meanwhile, from any thread."""
    monkeypatch.setattr(prefetch, "DELAY_S", 0.0)
    monkeypatch.setattr(prefetch, "log", [])
    handler, logger = Records(), logging.getLogger(WARNS)
    logger.addHandler(handler)
    try:
        thread = threading.Thread(target=prefetch._run, args=(files, False), name=prefetch.THREAD)
        thread.start()
        thread.join(300)
        assert not thread.is_alive()
    finally:
        logger.removeHandler(handler)
    return handler.seen


def test_every_story_page_runs_to_its_end_outside_a_session(monkeypatch):
    files = [str(ROOT / c.file) for c in STORY]
    run_in_prefetch_thread(files, monkeypatch)
    assert [f for f, _, _ in prefetch.log] == files
    assert {outcome for _, _, outcome in prefetch.log} == {"ok"}, prefetch.log


def test_its_no_session_warnings_stay_out_of_the_log(monkeypatch):
    seen = run_in_prefetch_thread([str(ROOT / STORY[1].file)], monkeypatch)
    assert prefetch.log and prefetch.log[0][2] == "ok"
    assert not [r for r in seen if r.threadName == prefetch.THREAD]
    # the filter is on only while the prefetch runs
    assert not any(isinstance(f, prefetch._FromThisThread) for f in logging.getLogger(WARNS).filters)


def test_starts_once_per_process(monkeypatch):
    calls = []
    monkeypatch.setattr(prefetch, "_thread", None)
    monkeypatch.setattr(prefetch, "_run", lambda files: calls.append(files))
    assert prefetch.start(["a.py"]) is True
    prefetch._thread.join(10)
    assert prefetch.start(["b.py"]) is False
    assert calls == [["a.py"]]


def test_not_started_without_a_server(monkeypatch):
    started = []
    monkeypatch.setattr(prefetch, "start", lambda files: started.append(files))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    assert not prefetch.serving() and started == []
