"""`stockledger serve --workers N`: a listening socket per worker, so the kernel shares the connections.

uvicorn's multiprocess mode hands every worker one shared socket; the worker whose event loop
wakes first accepts whatever is queued, and keep-alive connections stay where they landed
(measured: 8 connections split 6/2 over two workers, one core idle while the other queued).
On Linux each worker here listens on a socket of its own, all bound to the port with
SO_REUSEPORT: the kernel hashes each new connection to one of them, evenly.

The port stays exclusive: the first socket binds without SO_REUSEPORT (a second serve, or
anything else on the port, is refused with "Address already in use") and only then allows
its siblings to join. uvicorn's supervisor is kept (health checks, restarts, SIGHUP, SIGTTIN
and SIGTTOU); each worker slot keeps its socket, so a restarted worker takes over the
connections queued for the one it replaces. Elsewhere: uvicorn's shared socket.
"""

import logging
import socket
import sys

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

logger = logging.getLogger("uvicorn.error")


def spreads_connections() -> bool:
    """Whether the kernel balances connections over sockets sharing a port (Linux SO_REUSEPORT)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def worker_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets bound to (host, port), not yet listening (each worker's server listens).
    Raises OSError (EADDRINUSE) when anything holds the port already."""
    first = _socket(host, reuse_port=False)
    try:
        first.bind((host, port))
    except OSError:
        first.close()
        raise
    first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # now, and only now, others may join
    sockets = [first]
    bound_port = first.getsockname()[1]  # port 0: the one the kernel chose
    for _ in range(count - 1):
        sockets.append(_sibling(host, bound_port))
    logger.info("Uvicorn running on http://%s:%d, a socket per worker (SO_REUSEPORT)", host, bound_port)
    return sockets


def _sibling(host: str, port: int) -> socket.socket:
    sibling = _socket(host, reuse_port=True)
    sibling.bind((host, port))
    return sibling


def _socket(host: str, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: no wait on TIME_WAIT
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.set_inheritable(True)
    return sock


class SocketPerWorker(Multiprocess):
    """uvicorn's supervisor, with worker slot i serving `sockets[i]` only."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        self.host = config.host
        self.port = sockets[0].getsockname()[1]

    def _process(self, slot: int) -> Process:
        return Process(self.config, [self.sockets[slot]])

    def init_processes(self) -> None:
        for slot in range(self.processes_num):
            process = self._process(slot)
            process.start()
            self.processes.append(process)

    def restart_all(self) -> None:
        """SIGHUP: each worker replaced once its replacement (same socket) is ready."""
        for slot, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._process(slot)
            new.start()
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                logger.error(f"New child process [{new.pid}] was not ready in time; restart aborted.")
                return
            old.terminate()
            old.join()
            self.processes[slot] = new

    def keep_subprocess_alive(self) -> None:
        """A worker that died or stopped answering is replaced on its slot's socket."""
        if self.should_exit.is_set():
            return
        for slot, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # it would fail the same way again
                logger.error(f"Child process [{process.pid}] failed to start, stopping the parent process.")
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.info(f"Child process [{process.pid}] died")
            self.processes[slot] = self._process(slot)
            self.processes[slot].start()

    def handle_ttin(self) -> None:
        logger.info("Received SIGTTIN, increasing the number of processes.")
        self.sockets.append(_sibling(self.host, self.port))
        self.processes_num += 1
        process = self._process(len(self.processes))
        process.start()
        self.processes.append(process)

    def handle_ttou(self) -> None:
        """One worker fewer, and its socket closed (the kernel would go on queueing to it)."""
        logger.info("Received SIGTTOU, decreasing number of processes.")
        if self.processes_num <= 1:
            logger.info("Already reached one process, cannot decrease the number of processes anymore.")
            return
        self.processes_num -= 1
        self.sockets.pop().close()
        process = self.processes.pop()
        process.terminate()
        process.join()
