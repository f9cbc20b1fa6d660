"""`stockledger serve --workers 2` shares keep-alive connections evenly between its workers (each
new connection to the one holding the fewest, core/worker_balance.py), a stopped worker strands
no connection, and the port stays its own: a second serve on it fails.

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
    _workers,
    serving_workers,
)

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="who holds a socket: Linux /proc")

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: keep-alive\r\n\r\n"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[int, int, dict[str, str]]]:
    """(port, parent pid, environment) of a running `serve --workers 2`."""
    # A worker runnable but not run for longer than the deferral (a loaded CI machine) is taken for
    # hung and its turn given away; the rule asserted here is the sharing among workers that run.
    with serving_workers(tmp_path, {"STOCKLEDGER_ACCEPT_DEFER_SECONDS": "1.0"}) as (process, port, env):
        yield port, process.pid, env


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


def _sockets_of(pid: int, port: int, clients: set[int] | None, established: bool) -> int:
    """Server-side TCP sockets on local `port` that process `pid` holds: of the connections from
    the `clients`' ports (all when None), ESTABLISHED ones or any but LISTEN (`established` False)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except (FileNotFoundError, OSError):  # closed since listed (a connection going away)
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        remote_port = int(fields[2].rsplit(":", 1)[1], 16)
        in_state = fields[3] == ESTABLISHED if established else fields[3] != LISTEN
        ours = clients is None or remote_port in clients
        if local_port == port and in_state and ours and fields[9] in inodes:
            count += 1
    return count


def _held(workers: list[int], port: int, clients: list[socket.socket]) -> list[int]:
    """How many of the `clients`' connections each worker holds open. (Counted by client, not all
    a worker holds: uvicorn closes a connection idle for 5 s, which a loaded machine can reach.)"""
    ports = {client.getsockname()[1] for client in clients}
    return [_sockets_of(pid, port, ports, established=True) for pid in workers]


def _kept(workers: list[int], port: int) -> list[int]:
    """Connections each worker has not closed yet. A connection its client closed leaves
    ESTABLISHED at once (CLOSE_WAIT), but the worker counts it on the board until it has seen
    the close and closed its side (asyncio drops a connection before closing its socket)."""
    return [_sockets_of(pid, port, None, established=False) for pid in workers]


def _open(port: int, count: int) -> list[socket.socket]:
    """`count` connections opened at once (all queued before a worker accepts), then one request
    on each: each answered within 10 s, and kept open."""
    connections = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    for sock in connections:
        sock.sendall(REQUEST)
        assert _answered(sock)
    return connections


def _close(connections: list[socket.socket], workers: list[int], port: int) -> None:
    for sock in connections:
        sock.close()
    deadline = time.monotonic() + 30
    while any(_kept(workers, port)):  # each worker has seen its connections go
        assert time.monotonic() < deadline, _kept(workers, port)
        time.sleep(0.05)


def _until_both_serve(workers: list[int], port: int, seconds: float = 120) -> None:
    """Until each worker has started its app and served: two connections land on two workers."""
    deadline = time.monotonic() + seconds
    while True:
        pair = _open(port, 2)
        held = _held(workers, port, pair)
        _close(pair, workers, port)
        if held == [1, 1]:
            return
        assert time.monotonic() < deadline, f"the workers never both served: {held}"
        time.sleep(0.5)


def test_connections_opened_together_are_split_evenly(serve: tuple[int, int, dict[str, str]]) -> None:
    """16 keep-alive connections at once: 8 and 8, every time (hashed by the kernel to a socket per
    worker, as before, 8 and 8 came one time in five)."""
    port, parent, _ = serve
    workers = _workers(parent, 2)
    _until_both_serve(workers, port)
    for _ in range(3):
        connections = _open(port, 16)
        try:
            assert _held(workers, port, connections) == [8, 8]
        finally:
            _close(connections, workers, port)


def test_a_stopped_worker_strands_no_connection(serve: tuple[int, int, dict[str, str]]) -> None:
    """While one worker is stopped the other answers every new connection (after the accept
    deferral, STOCKLEDGER_ACCEPT_DEFER_SECONDS); once it runs again, the new ones go to it."""
    port, parent, _ = serve
    workers = _workers(parent, 2)
    _until_both_serve(workers, port)
    os.kill(workers[1], signal.SIGSTOP)
    try:
        first = _open(port, 10)
        assert _held(workers, port, first) == [10, 0]
    finally:
        os.kill(workers[1], signal.SIGCONT)
    woken = _until_it_serves(workers, port, 1)
    second = _open(port, 5)  # it holds 1 to its sibling's 10: each goes to it
    try:
        assert _held(workers, port, [woken, *second]) == [0, 6]
    finally:
        _close([*first, woken, *second], workers, port)


def _until_it_serves(workers: list[int], port: int, index: int, seconds: float = 60) -> socket.socket:
    """A connection the worker `index` holds, once it accepts again (a worker just resumed may
    take longer than the accept deferral to run on a busy machine: the connections opened before
    it does go to the other, as they should); the ones that went to the other are closed."""
    deadline = time.monotonic() + seconds
    while True:
        (sock,) = _open(port, 1)
        if _held(workers, port, [sock])[index]:
            return sock
        stray = {sock.getsockname()[1]}
        sock.close()
        while any(_sockets_of(pid, port, stray, established=False) for pid in workers):
            assert time.monotonic() < deadline, "the connection it did not take stays open"
            time.sleep(0.05)
        assert time.monotonic() < deadline, f"worker {index} never accepted again"
        time.sleep(0.1)


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
