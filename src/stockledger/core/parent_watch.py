"""Worker processes of `stockledger serve --workers N` end when their parent does, kill -9 included.

uvicorn's supervisor (the parent) stops its workers on SIGTERM/SIGINT, but a parent killed
with SIGKILL cannot: the workers went on answering, unsupervised, on the inherited socket, and
a new `serve` failed with "Address already in use". So each worker asks the kernel for SIGTERM
when its parent dies (Linux: prctl PR_SET_PDEATHSIG), or elsewhere polls getppid() in a
thread; SIGTERM is uvicorn's graceful shutdown (requests in flight finish).
"""

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

PARENT_ENV = "STOCKLEDGER_SERVE_PARENT_PID"  # set by `serve` for the workers it spawns
PR_SET_PDEATHSIG = 1
POLL_SECONDS = 1.0


def announce_parent() -> None:
    """In `serve`, before uvicorn spawns its workers: they inherit this process's id."""
    os.environ[PARENT_ENV] = str(os.getpid())


def exit_with_parent() -> None:
    """In a worker spawned by `serve`: SIGTERM to itself once the parent is gone. A no-op in
    any other process (no announced parent, or the parent itself with one worker)."""
    announced = os.environ.get(PARENT_ENV, "")
    if not announced.isdigit() or int(announced) == os.getpid():
        return
    parent = int(announced)
    if not _death_signal(signal.SIGTERM):
        threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()
    if os.getppid() != parent:  # it died before we asked
        os.kill(os.getpid(), signal.SIGTERM)


def _death_signal(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0
    return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)
