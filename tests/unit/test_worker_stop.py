"""core.worker_stop.stop_workers on real processes that ignore SIGTERM: killed once the bound has
passed, or at once when the supervisor is told to exit, and the log line says which (an outside
tester: "did not end within 15 s" was logged 3 ms after SIGTERM, on the way out)."""

import logging
import multiprocessing
import signal
import time
from typing import Any

import pytest

from stockledger.core.worker_stop import stop_workers


def _deaf() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(60)


class Worker:
    """The parts of uvicorn's Process that stop_workers uses, over a real process."""

    def __init__(self) -> None:
        ready = multiprocessing.get_context("fork")
        self.process: Any = ready.Process(target=_deaf, daemon=True)
        self.process.start()
        time.sleep(0.3)  # its SIGTERM handler set

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def terminate(self) -> None:
        self.process.terminate()


def test_a_worker_deaf_to_sigterm_is_killed_after_the_bound(caplog: pytest.LogCaptureFixture) -> None:
    worker = Worker()
    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="uvicorn.error"):
        stop_workers([worker], within=0.5, exiting=lambda: False)
    assert 0.5 <= time.monotonic() - began < 10
    assert not worker.process.is_alive()
    assert f"[{worker.pid}] did not end within 0.5 s: killed" in caplog.text


def test_a_worker_is_killed_at_once_when_the_supervisor_is_exiting(caplog: pytest.LogCaptureFixture) -> None:
    worker = Worker()
    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="uvicorn.error"):
        stop_workers([worker], within=30, exiting=lambda: True)
    assert time.monotonic() - began < 10
    assert not worker.process.is_alive()
    assert f"[{worker.pid}] had not ended: killed, the parent is exiting" in caplog.text
    assert "did not end within" not in caplog.text
