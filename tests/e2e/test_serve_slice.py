"""A `serve` worker asks the kernel for a short time slice (core/sched_slice.py): its threads,
those started later included, run on STOCKLEDGER_SERVE_SLICE_MICROSECONDS (default 100 µs); 0
leaves the kernel's own; a value the kernel would clamp is refused. Read from /proc (se.slice)
of real processes: a real `serve --workers 2` and fresh interpreters."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from stockledger.core.config import Settings
from tests.e2e.test_serve_parent_death import _workers, serving_workers

SLICE = re.compile(r"^se\.slice\s*:\s*(\d+)$", re.MULTILINE)


def _slice_of(task: Path) -> int | None:
    found = SLICE.search((task / "sched").read_text())
    return int(found.group(1)) if found else None


def _kernel_slices() -> bool:
    """Linux 6.12+ (EEVDF with per-task slices): /proc shows se.slice and sched_attr takes it."""
    if not Path("/proc/self/sched").exists() or _slice_of(Path("/proc/self")) is None:
        return False
    major, minor = (int(x) for x in re.findall(r"\d+", Path("/proc/sys/kernel/osrelease").read_text())[:2])
    return (major, minor) >= (6, 12)


pytestmark = pytest.mark.skipif(not _kernel_slices(), reason="per-task time slices: Linux 6.12+")

PROBE = """
import threading
from pathlib import Path
from stockledger.core.sched_slice import ask_slice
asked = threading.Event()
seen = {{}}
def read(name, wait):
    wait.wait()
    seen[name] = Path("/proc/thread-self/sched").read_text()
early = threading.Thread(target=read, args=("early", asked))
early.start()
print(ask_slice({microseconds}))
asked.set()
early.join()
later = threading.Thread(target=read, args=("later", asked))
later.start(); later.join()
print(Path("/proc/thread-self/sched").read_text())
print(seen["early"])
print(seen["later"])
"""


def _probe(microseconds: int) -> tuple[str, list[int]]:
    """ask_slice in a fresh interpreter: its report, and the slices of the thread that asked, of
    a thread started before and of one started after."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(microseconds=microseconds)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return out.splitlines()[0], [int(x) for x in SLICE.findall(out)]


def test_the_slice_asked_for_is_every_threads_and_their_later_threads() -> None:
    kernels = _slice_of(Path("/proc/self")) or 0
    report, slices = _probe(250)
    assert slices == [250_000, 250_000, 250_000]
    assert report == f"a time slice of 0.25 ms (the kernel's {kernels / 1e6:g} ms)"


def test_zero_leaves_the_kernels_own_slice() -> None:
    kernels = _slice_of(Path("/proc/self"))
    report, slices = _probe(0)
    assert slices == [kernels] * 3
    assert "the kernel's own time slice" in report


@pytest.mark.parametrize("value", ["1", "99", "100001", "-1", "0.5"])
def test_a_slice_the_kernel_would_clamp_or_refuse_is_refused(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKLEDGER_SERVE_SLICE_MICROSECONDS", value)
    with pytest.raises(ValidationError, match="serve_slice_microseconds"):
        Settings()


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("100", 100), ("100000", 100_000)])
def test_the_bounds_are_accepted(value: str, expected: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCKLEDGER_SERVE_SLICE_MICROSECONDS", value)
    assert Settings().serve_slice_microseconds == expected


def _answers(port: int) -> None:
    import httpx

    for _ in range(8):  # a few requests: the worker threads of the routes that need them start
        assert httpx.get(f"http://127.0.0.1:{port}/v1/facilities").status_code == 401


@pytest.mark.parametrize(("setting", "expected"), [(None, 100_000), ("2000", 2_000_000)])
def test_serve_workers_run_on_the_slice(tmp_path: Path, setting: str | None, expected: int) -> None:
    settings = {} if setting is None else {"STOCKLEDGER_SERVE_SLICE_MICROSECONDS": setting}
    with serving_workers(tmp_path, settings) as (process, port, _):
        workers = _workers(process.pid, 2)
        _answers(port)
        for pid in workers:
            assert _slice_of(Path(f"/proc/{pid}")) == expected  # the event loop's thread
            threads = {_slice_of(task) for task in Path(f"/proc/{pid}/task").iterdir()}
            assert threads == {expected}, f"worker {pid}'s threads: {threads}"
        assert _slice_of(Path(f"/proc/{process.pid}")) == _slice_of(
            Path("/proc/self")
        )  # the supervisor's own
    log = (tmp_path / "serve.log").read_text()
    assert log.count(f"runs on a time slice of {expected / 1e6:g} ms") == 2, log
