"""`stockledger serve --workers 2` shares keep-alive connections evenly between its workers
(a socket per worker, SO_REUSEPORT), and the port stays its own: a second serve on it fails.

Real subprocesses on a SQLite file, real HTTP; who holds each connection is read from /proc.
"""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_serve_parent_death import (
    STOCKLEDGER,
    _free_port,
    _kill_group,
    _wait_until_up,
    _workers,
)

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="Linux SO_REUSEPORT")

CONNECTIONS = 200
FAIR_SHARE = 0.30  # each of two workers holds at least this share of them
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: keep-alive\r\n\r\n"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[int, int, dict[str, str]]]:
    """(port, parent pid, environment) of a running `serve --workers 2`."""
    port = _free_port()
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
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
        yield port, process.pid, env
    finally:
        _kill_group(process.pid)
        log.close()


def _answered(sock: socket.socket) -> bool:
    """Reads one response of /healthz (small: headers and body come together)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            return False
        received += chunk
    return received.startswith(b"HTTP/1.1 200")


ESTABLISHED, LISTEN = "01", "0A"  # /proc/net/tcp states


def _sockets_of(pid: int, port: int, state: str) -> int:
    """TCP sockets on local `port` in `state` that process `pid` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == state and fields[9] in inodes:
            count += 1
    return count


def _until_all_listen(workers: list[int], port: int, seconds: float = 120) -> None:
    """A worker listens once its app has started: wait for every one (the first answered /healthz)."""
    deadline = time.monotonic() + seconds
    while not all(_sockets_of(pid, port, LISTEN) for pid in workers):
        assert time.monotonic() < deadline, "a worker never listened"
        time.sleep(0.2)


def _until_settled(pid: int, port: int, seconds: float = 60) -> None:
    """Until the connections `pid` holds stop changing for a second (it accepted what it could)."""
    deadline = time.monotonic() + seconds
    held, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = _sockets_of(pid, port, ESTABLISHED)
        if now != held:
            held, since = now, time.monotonic()
        elif time.monotonic() - since >= 1.0:
            return
        time.sleep(0.1)


def test_two_workers_each_hold_a_fair_share_of_keep_alive_connections(
    serve: tuple[int, int, dict[str, str]],
) -> None:
    port, parent, _ = serve
    workers = _workers(parent, 2)
    _until_all_listen(workers, port)
    # The connections arrive while one worker is busy (stopped here, so it cannot wake first):
    # on one shared socket the other accepts them all; on a socket per worker, those the kernel
    # gave the busy worker wait for it. Then one request on each, in turn.
    os.kill(workers[1], signal.SIGSTOP)
    try:
        connections = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(CONNECTIONS)]
        _until_settled(workers[0], port)
    finally:
        os.kill(workers[1], signal.SIGCONT)
    try:
        for sock in connections:
            sock.sendall(REQUEST)
            assert _answered(sock)  # accepted, served, and kept open
        held = [_sockets_of(pid, port, ESTABLISHED) for pid in workers]
        assert sum(held) == CONNECTIONS, held
        assert min(held) >= FAIR_SHARE * CONNECTIONS, held
    finally:
        for sock in connections:
            sock.close()


def test_a_second_serve_on_the_port_fails_with_address_already_in_use(
    serve: tuple[int, int, dict[str, str]],
) -> None:
    port, _, env = serve
    second = subprocess.run(
        [str(STOCKLEDGER), "serve", "--port", str(port), "--workers", "2", "--no-publish"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert second.returncode != 0
    assert b"Address already in use" in second.stdout + second.stderr
