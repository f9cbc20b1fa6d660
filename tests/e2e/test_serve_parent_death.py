"""`stockledger serve --workers 2`: kill -9 of the parent ends its workers and frees the port.

A real subprocess on a SQLite file: the parent (uvicorn's supervisor) is killed with SIGKILL,
which it cannot handle; its workers must notice (core.parent_watch) and exit within seconds,
so that a new `serve` can bind the port again.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

STOCKLEDGER = Path(sys.executable).parent / "stockledger"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(parent: int) -> list[int]:
    """Live (not zombie) processes whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] != "Z" and int(stat[2]) == parent:
                found.append(int(entry.name))
    return found


def _stat(pid: int) -> list[str] | None:
    """state and ppid of /proc/<pid>/stat (after the command name), None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return [str(pid), *raw.rsplit(")", 1)[1].split()]


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[1] != "Z"


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "serve exited at start"
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("serve did not answer")


def _workers(parent: int, count: int, seconds: float = 60) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        workers = [pid for pid in _children(parent) if "spawn_main" in _cmdline(pid)]
        if len(workers) >= count:
            return workers
        time.sleep(0.2)
    raise AssertionError(f"serve did not start {count} workers: {_children(parent)}")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_kill_9_of_serve_ends_its_workers_and_frees_the_port(tmp_path: Path) -> None:
    with serving_workers(tmp_path) as (process, port, _):
        workers = _workers(process.pid, 2)
        assert all(_alive(pid) for pid in workers)

        process.kill()  # SIGKILL to the parent alone: it cannot stop its workers
        assert process.wait(timeout=10) == -signal.SIGKILL
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in workers if _alive(pid)] == [], "workers outlived their parent"
        assert _port_is_free(port)


def _kill_group(group: int) -> None:
    """Whatever happened, nothing of this serve stays behind (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


@contextlib.contextmanager
def serving_workers(
    tmp_path: Path, settings: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], int, dict[str, str]]]:
    """A running `serve --workers 2` on a SQLite file (its own process group, no publisher, no
    access log, `settings` added to its environment): its process, port and environment. Killed,
    group and all, at the end."""
    port = _free_port()
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", **(settings or {})}
    env.pop("STOCKLEDGER_NATS_URL", None)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(STOCKLEDGER), "serve", "--port", str(port), "--workers", "2", "--no-publish", "--no-access-log"],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}", process)
        yield process, port, env
    finally:
        _kill_group(process.pid)
        log.close()
