"""`stockledger serve --workers 2` never waits without end for a worker that does not end
(core/worker_stop.py): a worker stopped with SIGSTOP is killed once its bound after SIGTERM has
passed, on SIGHUP (the parent replaces it and keeps serving) and on SIGTERM (everything ends).

Before: the parent joined the old worker with no timeout, SIGHUP wedged it and SIGTERM was then
ignored. Real subprocesses on a SQLite file, real signals, real HTTP.
"""

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from stockledger.core.worker_stop import EXIT_SECONDS
from tests.e2e.test_serve_parent_death import (
    _alive,
    _workers,
    serving_workers,
)

pytestmark = pytest.mark.skipif(not Path("/proc").exists(), reason="who the workers are: Linux /proc")

GRACEFUL = 10  # serve's timeout_graceful_shutdown
BOUND = GRACEFUL + EXIT_SECONDS  # after SIGTERM, a worker that has not ended is killed
SLACK = 30.0  # a replacement worker starting (imports, migrations checked) on a loaded machine
# The parent pings each worker every 0.5 s: by then it waits for the stopped one's answer (an
# outside tester: it waited its whole 60 s health check before it looked at SIGHUP or SIGTERM).
PINGED = 2.0


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A running `serve --workers 2` (its own process group) and its URL."""
    with serving_workers(tmp_path) as (process, port, _):
        yield process, f"http://127.0.0.1:{port}"


def _until(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Seconds until `condition` held (polled), failing after `seconds`."""
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < seconds, f"{what}: not within {seconds:g} s"
        time.sleep(0.2)
    return time.monotonic() - began


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def test_a_stopped_worker_is_replaced_on_sighup_and_sigterm_still_ends_serve(
    serve: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, url = serve
    first = _workers(process.pid, 2)
    stopped = first[0]
    os.kill(stopped, signal.SIGSTOP)  # it will not end on SIGTERM
    time.sleep(PINGED)
    os.kill(process.pid, signal.SIGHUP)

    _until(lambda: not _alive(stopped), SLACK + BOUND, "the stopped worker killed")
    _until(lambda: not set(_workers(process.pid, 2)) & set(first), SLACK, "both workers replaced")
    assert process.poll() is None
    assert _answers(url)

    stuck = _workers(process.pid, 2)[0]
    os.kill(stuck, signal.SIGSTOP)
    time.sleep(PINGED)
    os.kill(process.pid, signal.SIGTERM)
    process.wait(timeout=BOUND + 10)  # all within the bound, not after the stopped worker's end
    _until(lambda: not _alive(stuck), 5, "the stopped worker killed at exit")
