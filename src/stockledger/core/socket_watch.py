"""psycopg's waits on an async pool connection, its socket watched by the event loop between them.

psycopg's own wait (waiting.wait_async) registers the socket with the loop before every wait,
removes it after, and arms a timer: on uvloop a new poll handle (and its ioctl), two to four
epoll_ctl calls and a timer per statement; under wrk, POST /v1/reservations spent ≈ 6 % of a
worker's GIL-holding samples (py-spy) in those two calls (bench/RESULTS.md, session 12). Here the
socket stays registered from one statement to the next. A readiness nobody waits for (the server
closing an idle connection, a notice) stops the watch until the next wait, so a readable socket
never spins the loop; and the watch stops before the socket can close (libpq drops a broken
connection's socket itself: then at once, in the wait), so the loop never watches a closed or
reused descriptor.

What the loop reports is trusted, but not forever: a wait that has seen no readiness for a whole
OVERDUE_SECONDS is taken up by its loop's watchdog (one timer a loop, not one a statement), which
registers the socket with the loop afresh and looks at it itself. Under connections killed by the
server (pg_terminate_backend), 12 requests in 1,050 kill rounds waited forever on uvloop: the
socket readable, the watch registered, yet not in the loop's epoll set, and no watch of ours had
removed it (tests/stress/test_connection_kills_bounded.py); psycopg's own wait never hangs so
because its timer polls.

Only where readiness of the socket is the whole truth: no SSL or GSS layer, whose buffers can hold
data the socket no longer signals (psycopg's timer polls for that). `watches` says which.
"""

import asyncio
import select
import weakref

from psycopg import errors
from psycopg.abc import RV, PQGen
from psycopg.pq import ConnStatus
from psycopg.pq.abc import PGconn
from psycopg.waiting import READY_R, READY_W, WAIT_R, WAIT_W

# How long a wait goes without readiness before the watchdog looks at its socket itself: a lost
# registration costs a request this long at most; a statement that legitimately runs longer (a
# lock wait) has its socket registered afresh once in each such period, two epoll_ctl calls.
OVERDUE_SECONDS = 1.0


def watches(pgconn: PGconn) -> bool:
    """Whether a SocketWatch may wait for `pgconn`: a plain socket (no SSL, no GSS encryption)."""
    return not pgconn.ssl_in_use and not pgconn.used_gssapi


class SocketWatch:
    """The waits of one connection's socket on the running loop."""

    __slots__ = ("__weakref__", "_fileno", "_loop", "_overdue", "_reading", "_waiter", "_wanted")

    def __init__(self, fileno: int, loop: asyncio.AbstractEventLoop) -> None:
        self._fileno = fileno
        self._loop = loop
        self._reading = False
        self._waiter: asyncio.Future[int] | None = None
        self._wanted = 0
        self._overdue: asyncio.Future[int] | None = None  # the waiter the watchdog saw last time
        _watchdog(loop).add(self)

    async def wait(self, gen: PQGen[RV], pgconn: PGconn) -> RV:
        """Run psycopg's generator `gen` on `pgconn` to its end: what it returns."""
        try:
            state = next(gen)
            while True:
                state = gen.send(await self._ready(state))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        except OSError as error:
            raise errors.OperationalError("connection socket closed") from error
        finally:
            self._waiter = None
            if pgconn.status != ConnStatus.OK:  # libpq may have closed the socket: stop now
                self.stop()

    @property
    def watching(self) -> bool:
        """Whether the loop watches the socket now."""
        return self._reading

    def stop(self) -> None:
        """Stop watching the socket (before it closes)."""
        if self._reading:
            self._reading = False
            if not self._loop.is_closed():  # a closed loop watches nothing any more
                self._loop.remove_reader(self._fileno)

    async def _ready(self, state: int) -> int:
        if not self._reading:
            self._loop.add_reader(self._fileno, self._readable)
            self._reading = True
        self._wanted = state
        waiter: asyncio.Future[int] = self._loop.create_future()
        self._waiter = waiter
        if not state & WAIT_W:
            return await waiter
        self._loop.add_writer(self._fileno, self._writable)  # rare: a full send buffer
        try:
            return await waiter
        finally:
            self._loop.remove_writer(self._fileno)

    def look(self) -> None:
        """The watchdog's look: a wait pending since its last look gets its socket registered
        afresh, and the readiness the socket has now."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            self._overdue = None
            return
        if self._overdue is not waiter:
            self._overdue = waiter  # pending now: overdue if still pending at the next look
            return
        self.stop()
        self._loop.add_reader(self._fileno, self._readable)
        self._reading = True
        readable, writable, _ = select.select([self._fileno], [self._fileno], [], 0)
        if self._wanted & WAIT_R and readable:
            waiter.set_result(READY_R)
        elif self._wanted & WAIT_W and writable:
            waiter.set_result(READY_W)

    def _readable(self) -> None:
        waiter = self._waiter
        if waiter is None:
            # Nobody waits. Either the readiness was seen before the last wait's reader took
            # the data (the loop polled between the two: nothing left), or data came that nobody
            # waits for: stop until the next wait, the data stays for it.
            if select.select([self._fileno], [], [], 0)[0]:
                self.stop()
        elif self._wanted & WAIT_R and not waiter.done():
            waiter.set_result(READY_R)

    def _writable(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(READY_W)


class _Watchdog:
    """The live watches of one loop, looked at every OVERDUE_SECONDS while there are any."""

    __slots__ = ("_loop", "_timer", "_watches")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._watches: weakref.WeakSet[SocketWatch] = weakref.WeakSet()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, watch: SocketWatch) -> None:
        self._watches.add(watch)
        if self._timer is None:
            self._timer = self._loop.call_later(OVERDUE_SECONDS, self._look)

    def _look(self) -> None:
        for watch in list(self._watches):
            watch.look()
        if self._watches:
            self._timer = self._loop.call_later(OVERDUE_SECONDS, self._look)
        else:  # no connection watched any more: no timer, and the next watch starts one
            self._timer = None
            if _WATCHDOGS.get(id(self._loop)) is self:
                del _WATCHDOGS[id(self._loop)]


_WATCHDOGS: dict[int, _Watchdog] = {}  # by id(loop): one a running loop that has watches


def _watchdog(loop: asyncio.AbstractEventLoop) -> _Watchdog:
    dog = _WATCHDOGS.get(id(loop))
    if dog is None or dog._loop is not loop:  # a loop made where a closed one was
        dog = _WATCHDOGS[id(loop)] = _Watchdog(loop)
    return dog
