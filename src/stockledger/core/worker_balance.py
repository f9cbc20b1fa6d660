"""`stockledger serve --workers N`: one listening socket, and each new connection taken by the
worker holding the fewest.

Why: keep-alive connections stay with the worker that accepted them, so how they are first
shared decides each worker's load for as long as they last. On one shared socket the worker
whose event loop wakes first accepts whatever is queued (8 of wrk's connections split 6/2).
A socket per worker with SO_REUSEPORT (sessions 7-10) lets the kernel hash each connection to
a socket: even on average, but 8 connections land 4/4 only 27 % of the time (5/3 44 %, 6/2 or
worse 29 %), and those hashed to a busy or hung worker wait for it.

Here the workers share one socket, and each publishes how many connections it holds in a small
shared array (`ConnectionBoard`: one slot per live worker, -1 when none). A worker woken by a
new connection accepts it only when it holds no more than the least loaded live worker; one
that holds more steps aside, looks again each millisecond (it takes the connection as soon as
it is the least loaded), and once `accept_defer_seconds` (STOCKLEDGER_ACCEPT_DEFER_SECONDS) pass
with no sibling's count changing, takes it anyway (its siblings are busy, hung or gone). A sibling
whose count changes is running and taking the queue, so each change starts the deferral again: a
burst its siblings drain more slowly than the deferral is still shared by the rule. A worker that
has taken a connection late goes on taking the ones queued with it at once until the queue is
empty or a sibling's count changes: a burst behind a hung sibling waits one deferral in all, not
one each.
16 connections opened at once to two idle workers: 8 and 8.

uvicorn's supervisor is kept (health checks, restarts, SIGHUP, SIGTTIN and SIGTTOU); a worker
gets a free slot of the board when it starts and the slot is cleared when it ends. The port
stays `serve`'s alone: the socket binds without SO_REUSEPORT, so a second `serve` on it fails
with "Address already in use". One worker is uvicorn as it comes (cli.py).
"""

import asyncio
import errno
import logging
import pickle
import select
import socket
import time
from collections.abc import Callable, Iterable
from ctypes import c_long
from multiprocessing.sharedctypes import RawArray
from typing import Any, cast

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.server import Server
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from stockledger.core.worker_stop import BoundedStops, told_to_exit

logger = logging.getLogger("uvicorn.error")

NO_WORKER = -1
# accept() failures that say the process or the host is out of something: wait, then try again
_EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_EXHAUSTED_PAUSE = 1.0  # seconds, as asyncio's own accept loop
# How often a worker leaving a queued connection to its siblings looks again (a select() of the
# socket and a read of the board): a sibling wakes within about this of becoming the least loaded.
_LOOK_AGAIN = 0.001
_PING_SLICE = 0.1  # how often the supervisor, waiting for a worker's health answer, looks at its signals


class ConnectionBoard:
    """How many connections each live worker holds, in memory shared by the supervisor and its
    workers. Each worker writes its own slot only; a slot of no worker holds NO_WORKER."""

    def __init__(self, slots: int) -> None:
        self.counts = RawArray(c_long, [NO_WORKER] * slots)  # handed to the workers when spawned

    def __len__(self) -> int:
        return len(self.counts)

    def publish(self, slot: int, held: int) -> None:
        self.counts[slot] = held

    def clear(self, slot: int) -> None:
        self.counts[slot] = NO_WORKER

    def least(self) -> int:
        """The fewest connections a live worker holds (NO_WORKER when none is live)."""
        live = [held for held in self.counts[:] if held != NO_WORKER]
        return min(live) if live else NO_WORKER

    def free_slot(self, used: Iterable[int]) -> int | None:
        taken = set(used)
        return next((slot for slot in range(len(self)) if slot not in taken), None)


class CountedConnections(set[Any]):
    """uvicorn's set of a worker's open connections, which says when one arrives and when the
    set changes."""

    on_arrival: Callable[[Any], None] = staticmethod(lambda element: None)
    on_change: Callable[[], None] = staticmethod(lambda: None)

    def add(self, element: Any) -> None:
        super().add(element)
        self.on_arrival(element)
        self.on_change()

    def discard(self, element: Any) -> None:
        super().discard(element)
        self.on_change()


class BalancedAccept:
    """A worker's accept of the shared listening socket: one connection per wake-up, taken when
    this worker holds no more than the least loaded one, or once it has left the queued
    connection to its siblings for `defer` seconds. Looks like an asyncio Server to uvicorn
    (close, wait_closed)."""

    def __init__(
        self,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
        connections: CountedConnections,
        board: ConnectionBoard,
        slot: int,
        defer: float,
    ) -> None:
        self.sock = sock
        self.protocol_factory = protocol_factory
        self.connections = connections
        self.board = board
        self.slot = slot
        self.defer = defer
        self.loop = asyncio.get_running_loop()
        # Accepted and not yet among the connections: sockets whose protocol is not made yet, and
        # protocols made whose connection_made has not run (each counted once on its way in: a
        # connection counted twice for a moment shows a sibling one more than this worker holds).
        self.pending = 0
        self.unplaced: set[asyncio.Protocol] = set()
        self.deferring_since: float | None = None  # when it began to leave the queue to others
        self.siblings_seen: list[int] = []  # their counts then (a change: they are taking it)
        self.late = False  # the connection about to be accepted is one they left waiting
        self.closed = False
        self.timer: asyncio.TimerHandle | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, backlog: int) -> None:
        self.sock.setblocking(False)
        self.sock.listen(backlog)
        self.connections.on_arrival = self.unplaced.discard
        self.connections.on_change = self.publish
        self.publish()
        self.loop.add_reader(self.sock.fileno(), self._readable)

    def held(self) -> int:
        return len(self.connections) + self.pending + len(self.unplaced)

    def publish(self) -> None:
        if not self.closed:
            self.board.publish(self.slot, self.held())

    def _leaves_it(self) -> bool:
        """Whether a queued connection is a sibling's to take: this worker holds more than the
        least loaded, and has not yet waited `defer` since a sibling's count last changed (the
        clock runs on through a burst taken `late`)."""
        self.late = False
        if self.held() <= self.board.least():
            self.deferring_since = None
            return False
        now = self.loop.time()
        siblings = self.board.counts[:]
        siblings[self.slot] = NO_WORKER
        if self.deferring_since is None or siblings != self.siblings_seen:
            self.deferring_since, self.siblings_seen = now, siblings
        if now - self.deferring_since < self.defer:
            return True
        self.late = True
        return False

    def _readable(self) -> None:
        if self._leaves_it():
            self.loop.remove_reader(self.sock.fileno())
            self.timer = self.loop.call_later(_LOOK_AGAIN, self._look_again)
            return
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # a sibling took it, or the client gave up
        except OSError as exc:
            if exc.errno not in _EXHAUSTED:
                raise
            logger.error("accept() failed (%s); trying again in %.0f s", exc, _EXHAUSTED_PAUSE)
            self.loop.remove_reader(self.sock.fileno())
            self.timer = self.loop.call_later(_EXHAUSTED_PAUSE, self._listen)
            return
        if self.late and not select.select([self.sock], [], [], 0)[0]:
            self.deferring_since = None  # the burst is taken: the next one left waits the deferral again
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending += 1
        self.publish()
        task = self.loop.create_task(self._serve(conn))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _serve(self, conn: socket.socket) -> None:
        made: list[asyncio.Protocol] = []

        def protocol() -> asyncio.Protocol:  # the socket's count moves to its protocol
            made.append(self.protocol_factory())
            self.unplaced.add(made[0])
            self.pending -= 1
            return made[0]

        try:
            await self.loop.connect_accepted_socket(protocol, conn)
        except OSError:
            conn.close()  # gone before its transport was made
        finally:
            if made:
                self.unplaced.discard(made[0])  # arrived (no change), or never will
            else:
                self.pending -= 1
            self.publish()

    def _look_again(self) -> None:
        """While it leaves a connection to its siblings: listen again once the queue is empty (a
        sibling took it), once this worker is the least loaded, or once `defer` has passed."""
        self.timer = None
        if self.closed:
            return
        queued = select.select([self.sock], [], [], 0)[0]
        if queued and self._leaves_it():
            self.timer = self.loop.call_later(_LOOK_AGAIN, self._look_again)
            return
        if not queued:  # a sibling took it
            self.deferring_since = None
        self._listen()

    def _listen(self) -> None:
        self.timer = None
        if not self.closed:
            self.loop.add_reader(self.sock.fileno(), self._readable)

    def close(self) -> None:
        """Stop accepting; the siblings stop counting on this worker."""
        if self.closed:
            return
        self.closed = True
        self.board.clear(self.slot)
        if self.timer is not None:
            self.timer.cancel()
        else:
            self.loop.remove_reader(self.sock.fileno())

    async def wait_closed(self) -> None:
        """Nothing to wait for: the connections are uvicorn's to close."""


class BalancedServer(Server):
    """uvicorn's worker server, its connections accepted by a BalancedAccept."""

    def __init__(self, config: Config, board: ConnectionBoard, slot: int, defer: float) -> None:
        super().__init__(config)
        self.board = board
        self.slot = slot
        self.defer = defer
        self.counted = CountedConnections()
        self.server_state.connections = self.counted

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the lifespan, and no listener of uvicorn's own
        if not self.started or not sockets:
            return
        config = self.config

        def protocol() -> asyncio.Protocol:  # as uvicorn's own create_protocol
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        accept = BalancedAccept(sockets[0], protocol, self.counted, self.board, self.slot, self.defer)
        self.servers = [cast(asyncio.Server, accept)]  # closed by uvicorn's shutdown
        accept.start(config.backlog)


class WorkerProcess(Process):
    """uvicorn's worker process, on slot `slot` of the board."""

    def __init__(
        self, config: Config, sockets: list[socket.socket], board: ConnectionBoard, slot: int, defer: float
    ) -> None:
        super().__init__(config, sockets)
        self.board = board
        self.slot = slot
        self.defer = defer
        self.pinged_at: float | None = None  # a health ping not yet answered, sent then

    def answering(self, timeout: float, interrupted: Callable[[], bool]) -> bool | None:
        """uvicorn's health check (a ping its worker's thread answers), looked at in slices: True
        once answered, False when `timeout` has passed since the ping with no answer (or the
        process ended), None as soon as `interrupted()` (a signal for the supervisor: handled
        first; the ping stays out and its answer is read next time). uvicorn waits the whole
        timeout (60 s in serve) in one poll, its signals queued behind a stopped worker."""
        if not self.process.is_alive():
            return False
        try:
            if self.pinged_at is None:
                self.parent_conn.send(b"ping")
                self.pinged_at = time.monotonic()
            while not self.parent_conn.poll(_PING_SLICE):
                if time.monotonic() - self.pinged_at >= timeout:
                    return False
                if interrupted():
                    return None
            self.parent_conn.recv()
        except (OSError, EOFError, pickle.UnpicklingError):
            return False
        self.pinged_at = None
        return True

    @property
    def server(self) -> Server:
        if self._server is None:
            self._server = BalancedServer(self.config, self.board, self.slot, self.defer)
        return self._server


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket every worker accepts from, bound, not yet listening (a worker listens once its
    app has started). Raises OSError (EADDRINUSE) when anything holds the port already."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: no wait on TIME_WAIT
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    logger.info(
        "Uvicorn running on http://%s:%d, connections shared by the workers", host, sock.getsockname()[1]
    )
    return sock


class BalancedWorkers(BoundedStops, Multiprocess):
    """uvicorn's supervisor, each worker on a slot of a ConnectionBoard, stopped within a bound."""

    def __init__(self, config: Config, sock: socket.socket, defer: float) -> None:
        super().__init__(config, [sock])
        # room for the workers, a restart's replacement (SIGHUP) and some added by SIGTTIN
        self.board = ConnectionBoard(max(2 * config.workers, config.workers + 64))
        self.defer = defer

    def _start(self) -> WorkerProcess | None:
        slot = self.board.free_slot(process.slot for process in self._workers())
        if slot is None:
            logger.error("No slot left for another worker (%d)", len(self.board))
            return None
        process = WorkerProcess(self.config, self.sockets, self.board, slot, self.defer)
        process.start()
        return process

    def _workers(self) -> list[WorkerProcess]:
        return cast(list[WorkerProcess], self.processes)

    def _ended(self, process: Process) -> None:
        """A worker that ended (or was killed) holds nothing."""
        self.board.clear(cast(WorkerProcess, process).slot)

    def init_processes(self) -> None:
        for _ in range(self.processes_num):
            process = self._start()
            if process is not None:
                self.processes.append(process)

    def restart_all(self) -> None:
        """SIGHUP: each worker replaced once its replacement (on a slot of its own) is ready."""
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set() or told_to_exit(self.signal_queue):
                return
            new = self._start()
            if new is None:
                return
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                self._ended(new)
                logger.error(f"New child process [{new.pid}] was not ready in time; restart aborted.")
                return
            self._stop([old])
            self.processes[index] = new

    def keep_subprocess_alive(self) -> None:
        """A worker that died or stopped answering is replaced."""
        if self.should_exit.is_set():
            return
        timeout = self.config.timeout_worker_healthcheck
        for index, worker in enumerate(self._workers()):
            answer = worker.answering(timeout, lambda: bool(self.signal_queue) or self.should_exit.is_set())
            if answer is None:  # a signal first; this worker's answer is awaited next time
                return
            if answer:
                continue
            worker.kill()
            worker.join()
            self._ended(worker)
            if worker.exitcode == STARTUP_FAILURE:  # it would fail the same way again
                logger.error(f"Child process [{worker.pid}] failed to start, stopping the parent process.")
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.info(f"Child process [{worker.pid}] died")
            replacement = self._start()
            if replacement is not None:
                self.processes[index] = replacement

    def handle_ttin(self) -> None:
        logger.info("Received SIGTTIN, increasing the number of processes.")
        process = self._start()
        if process is not None:
            self.processes_num += 1
            self.processes.append(process)

    def handle_ttou(self) -> None:
        logger.info("Received SIGTTOU, decreasing number of processes.")
        if self.processes_num <= 1:
            logger.info("Already reached one process, cannot decrease the number of processes anymore.")
            return
        self.processes_num -= 1
        self._stop([self.processes.pop()])
