"""A `serve` worker asks the kernel for a short time slice (core/sched_slice.py): its threads,
those started later included, run on STOCKLEDGER_SERVE_SLICE_MICROSECONDS (default 100 µs); 0
gives the kernel's own (even to a process that inherited another); a policy that takes no slice
and reset-on-fork are left as they are; a value the kernel would clamp is refused. Read from /proc (se.slice)
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
import os, threading
from pathlib import Path
from stockledger.core.sched_slice import ask_slice
asked = threading.Event()
seen = {{}}
def read(name, wait):
    wait.wait()
    seen[name] = Path("/proc/thread-self/sched").read_text()
early = threading.Thread(target=read, args=("early", asked))
early.start()
{before}
print(ask_slice({microseconds}))
asked.set()
early.join()
later = threading.Thread(target=read, args=("later", asked))
later.start(); later.join()
print(Path("/proc/thread-self/sched").read_text())
print(seen["early"])
print(seen["later"])
"""


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def _probe(microseconds: int, before: str = "") -> tuple[str, list[int]]:
    """ask_slice in a fresh interpreter (`before` run first, a thread already started): its
    report, and the slices of the thread that asked, of the thread started before and of one
    started after."""
    out = _run(PROBE.format(microseconds=microseconds, before=before))
    return out.splitlines()[0], [int(x) for x in SLICE.findall(out)]


def _kernels() -> int:
    return _slice_of(Path("/proc/self")) or 0


def test_the_slice_asked_for_is_every_threads_and_their_later_threads() -> None:
    report, slices = _probe(250)
    assert slices == [250_000, 250_000, 250_000]
    assert report == f"a time slice of 0.25 ms (the kernel's own of {_kernels() / 1e6:g} ms)"


def test_zero_leaves_the_kernels_own_slice() -> None:
    report, slices = _probe(0)
    assert slices == [_kernels()] * 3
    assert (
        report
        == f"the kernel's own time slice of {_kernels() / 1e6:g} ms (STOCKLEDGER_SERVE_SLICE_MICROSECONDS=0)"
    )


def test_zero_gives_the_kernels_own_slice_to_a_process_that_inherited_another() -> None:
    """A `serve` started from a process on a slice of its own inherits it: 0 is the kernel's."""
    report, slices = _probe(0, before="ask_slice(300)")  # every thread on 0.3 ms, as if inherited
    assert slices == [_kernels()] * 3
    assert f"of {_kernels() / 1e6:g} ms" in report
    report, slices = _probe(100, before="ask_slice(300)")
    assert slices == [100_000] * 3
    assert report == f"a time slice of 0.1 ms (the kernel's own of {_kernels() / 1e6:g} ms)"


IDLE = "os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))"


def test_a_policy_without_slices_is_left_alone() -> None:
    report, slices = _probe(100, before=IDLE)
    assert report == "the kernel's own time slice (SCHED_IDLE takes none of a task's own)"
    assert slices == [
        _kernels()
    ]  # the thread started before, on SCHED_OTHER, untouched (idle ones show none)
    code = f"import os\nfrom stockledger.core.sched_slice import ask_slice\n{IDLE}\nask_slice(100)\n"
    assert _run(code + "print(os.sched_getscheduler(0) == os.SCHED_IDLE)").strip() == "True"


RESET_ON_FORK = """
import os, subprocess, sys
from stockledger.core.sched_slice import ask_slice
os.sched_setscheduler(0, os.SCHED_BATCH | os.SCHED_RESET_ON_FORK, os.sched_param(0))
print(ask_slice(100))
print(os.sched_getscheduler(0) == os.SCHED_BATCH | os.SCHED_RESET_ON_FORK)
child = "from pathlib import Path; print(Path('/proc/self/sched').read_text())"
print(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout)
"""


def test_reset_on_fork_is_kept() -> None:
    """A process on SCHED_BATCH with reset-on-fork keeps both: its children start on the
    kernel's own slice, not on its 0.1 ms."""
    out = _run(RESET_ON_FORK)
    lines = out.splitlines()
    assert lines[0].startswith("a time slice of 0.1 ms"), out
    assert lines[1] == "True"
    assert [int(x) for x in SLICE.findall(out)] == [_kernels()]  # the child's: reset on fork


@pytest.mark.parametrize("value", ["1", "99", "100001", "-1", "99999999999999999999"])
def test_a_slice_the_kernel_would_clamp_is_refused(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCKLEDGER_SERVE_SLICE_MICROSECONDS", value)
    with pytest.raises(ValidationError, match=r"must be 0 \(the kernel's own slice\) or 100 to 100000"):
        Settings()


def test_a_slice_that_is_no_whole_number_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCKLEDGER_SERVE_SLICE_MICROSECONDS", "0.5")
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
        assert _slice_of(Path(f"/proc/{process.pid}")) == _kernels()  # the supervisor keeps its own
    log = (tmp_path / "serve.log").read_text()
    assert log.count(f"runs on a time slice of {expected / 1e6:g} ms (the kernel's own") == 2, log
