"""A `serve` worker's time slice: how long the kernel lets a task run before a woken request
thread gets its CPU.

Linux 6.12+ schedules ordinary tasks by EEVDF, and lets a task ask for a slice of its own
(sched_setattr's sched_runtime, 0.1 to 100 ms; no privilege needed): the shorter its slice, the
sooner its virtual deadline when it wakes, so the sooner it runs. A worker wakes for each request
and each database answer, on a host where PostgreSQL's backends (and, in the benchmarks, the load
generator) want the same CPUs: with the kernel's own slice (1.4 ms on 2 CPUs) a woken worker
waited behind them in whole slices. bench/availability_p99.py, 2 workers, 8 connections, the
2-CPU machine, interleaved runs: p99 3.9-6.6 ms at 0.1 ms against 5.7-9.0 ms at the kernel's,
and 4,000-4,700 requests/s against 3,700-3,900. The slice is asked for by the worker's main
thread for each of the worker's threads, and the threads they start later inherit it; an older
kernel ignores the field (reported as "kept"), another system has no such call.
"""

import ctypes
import os
import platform
import sys
import threading
from errno import ESRCH

SYS_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}
SYS_SCHED_GETATTR = {"x86_64": 315, "aarch64": 275}
SCHED_OTHER, SCHED_BATCH = 0, 3  # the policies a slice of the task's own means something to
SCHED_FLAG_RESET_ON_FORK = 0x01
POLICIES = {1: "SCHED_FIFO", 2: "SCHED_RR", 5: "SCHED_IDLE", 6: "SCHED_DEADLINE"}


class _SchedAttr(ctypes.Structure):
    """struct sched_attr (include/uapi/linux/sched/types.h), its first version and utilisation clamps."""

    _fields_ = (
        ("size", ctypes.c_uint32),
        ("sched_policy", ctypes.c_uint32),
        ("sched_flags", ctypes.c_uint64),
        ("sched_nice", ctypes.c_int32),
        ("sched_priority", ctypes.c_uint32),
        ("sched_runtime", ctypes.c_uint64),
        ("sched_deadline", ctypes.c_uint64),
        ("sched_period", ctypes.c_uint64),
        ("sched_util_min", ctypes.c_uint32),
        ("sched_util_max", ctypes.c_uint32),
    )


def ask_slice(microseconds: int) -> str:
    """Give every thread of this process a slice of `microseconds` (0: the kernel's own, even
    where the process inherited another one), which the threads they start inherit; what came
    of it, for the log. The threads' policy, nice and reset-on-fork stay as they are; a policy
    that takes no slice (SCHED_IDLE, the real-time ones) is left alone. Never raises."""
    machine = platform.machine()
    if not sys.platform.startswith("linux") or machine not in SYS_SCHED_SETATTR:
        return "the kernel's own time slice (no per-task slice on this system)"
    libc = ctypes.CDLL(None, use_errno=True)
    mine, errno = _attr(libc, machine, 0)
    if errno:
        return f"the kernel's own time slice (sched_getattr: {os.strerror(errno)})"
    if mine.sched_policy not in (SCHED_OTHER, SCHED_BATCH):
        policy = POLICIES.get(mine.sched_policy, f"policy {mine.sched_policy}")
        return f"the kernel's own time slice ({policy} takes none of a task's own)"
    failed = _set_slice(libc, machine, 0, 0)  # the kernel's own, to name it
    kernels = current_slice_ns(libc, machine)
    if microseconds == 0:
        for task in _other_threads():
            failed = failed or _set_slice(libc, machine, task, 0)
        if failed:
            return f"the time slice it had ({failed})"
        return f"the kernel's own time slice{_of(kernels)} (STOCKLEDGER_SERVE_SLICE_MICROSECONDS=0)"
    for task in [0, *_other_threads()]:  # 0: the calling thread, first
        failed = failed or _set_slice(libc, machine, task, microseconds * 1000)
    if failed:
        return f"the kernel's own time slice ({failed})"
    now = current_slice_ns(libc, machine)
    if now != microseconds * 1000:  # before 6.12 the field means nothing to an ordinary task
        return "the kernel's own time slice (this kernel takes none of a task's own; Linux 6.12+ does)"
    return f"a time slice of {_ms(now)} (the kernel's own{_of(kernels)})"


def _of(ns: int) -> str:
    return f" of {_ms(ns)}" if ns else ""


def _other_threads() -> list[int]:
    me = threading.get_native_id()
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task") if int(tid) != me]
    except OSError:
        return []


def _set_slice(libc: ctypes.CDLL, machine: str, task: int, ns: int) -> str:
    """Thread `task`'s slice set to `ns` (0: the kernel's own; "" when done), its policy, nice
    and reset-on-fork kept as they are (read first: a lower nice would need privilege). A
    thread ended meanwhile is no failure."""
    attr, errno = _attr(libc, machine, task)
    if errno:
        return "" if errno == ESRCH else f"sched_getattr: {os.strerror(errno)}"
    attr.size = ctypes.sizeof(attr)
    attr.sched_flags &= SCHED_FLAG_RESET_ON_FORK
    attr.sched_runtime = ns
    if libc.syscall(SYS_SCHED_SETATTR[machine], task, ctypes.byref(attr), 0) != 0:
        errno = ctypes.get_errno()
        return "" if errno == ESRCH else f"sched_setattr: {os.strerror(errno)}"
    return ""


def current_slice_ns(libc: ctypes.CDLL, machine: str) -> int:
    """The calling thread's slice as sched_getattr reports it (0 where it reports none)."""
    attr, errno = _attr(libc, machine, 0)
    return 0 if errno else int(attr.sched_runtime)


def _attr(libc: ctypes.CDLL, machine: str, task: int) -> tuple[_SchedAttr, int]:
    """Thread `task`'s sched_attr (0: the calling thread's), and the errno of sched_getattr (0: read)."""
    attr = _SchedAttr()
    if libc.syscall(SYS_SCHED_GETATTR[machine], task, ctypes.byref(attr), ctypes.sizeof(attr), 0) != 0:
        return attr, ctypes.get_errno() or -1
    return attr, 0


def _ms(ns: int) -> str:
    return f"{ns / 1e6:g} ms"
