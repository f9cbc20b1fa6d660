"""The connections that run statements alone in threads (core.db `Database.run_alone` and
`fetch_one`, PostgreSQL): a pool lighter than SQLAlchemy's for a path that takes a connection for
one statement.

SQLAlchemy's checkout and checkin (its connection proxy, its queue's condition, its pool events)
are ≈ 50 Python calls a statement, ≈ 30 µs of a worker's CPU with 8 workers on 2 CPUs
(bench/RESULTS.md, session 12); here they are a lock, a list and the checks of core.db's pool
listeners, made in place. What they keep: at most `2 × size` connections open and `size` kept
idle (SQLAlchemy's pool_size and max_overflow), a caller waiting `timeout` seconds for one at most
(then SQLAlchemy's TimeoutError); an idle connection whose socket is readable (the server said
goodbye) or idle `idle_ping` seconds or more and failing a ping is replaced at checkout;
`invalidate` closes a connection found lost; `dispose` closes the idle ones, and those in use as
they come back. Connections are made by the engine (`connect`: its URL, options, autocommit).

Why not psycopg_pool's ConnectionPool (the async path's pool): tried in session 13 (in place of
this module, same tests), a checkout and checkin cost 4.6 µs against 2.0 here and `run_alone` of
`SELECT 1` ≈ 10 µs more; it keeps a caller waiting its whole timeout while the server is down
(here the connect error reaches the caller at once: a 503) unless its private `_connect` is
overridden; and `min_size` either opens every connection at once in each process or hands out
idle connections in rotation. SQLAlchemy's pool (session 12) cost 7.4 µs a pair measured the same way.
"""

import select
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import RawCursor
from sqlalchemy import exc

from stockledger.core.prepared_alone import PreparedAlone

POOL_TIMEOUT_SECONDS = 30.0  # SQLAlchemy's pool_timeout default, which the engine's pool had


class AloneConnection:
    """A pooled connection and what its statements keep on it: its prepared statements
    (core.prepared_alone) and its raw cursor, made once; when it was last used."""

    __slots__ = ("_cursor", "_prepared", "conn", "generation", "used_at")

    def __init__(self, conn: psycopg.Connection[Any], generation: int) -> None:
        self.conn = conn
        self.generation = generation
        self.used_at = 0.0  # set as it comes back (a new connection goes to its caller at once)
        self._prepared: PreparedAlone | None = None
        self._cursor: RawCursor[Any] | None = None

    @property
    def prepared(self) -> PreparedAlone:
        prepared = self._prepared
        if prepared is None:
            prepared = self._prepared = PreparedAlone(self.conn)
        return prepared

    @property
    def cursor(self) -> RawCursor[Any]:
        cursor = self._cursor
        if cursor is None:
            cursor = self._cursor = RawCursor(self.conn)
        return cursor


class AlonePool:
    """Up to `2 × size` connections that `connect` makes, `size` of them kept idle."""

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[Any]],
        size: int,
        idle_ping: float,
        timeout: float = POOL_TIMEOUT_SECONDS,
    ) -> None:
        self._connect = connect
        self._size = size
        self._most = 2 * size
        self._idle_ping = idle_ping
        self._timeout = timeout
        self._idle: list[AloneConnection] = []
        self._open = 0  # idle, in use (of any generation), or being made
        self._generation = 0  # one more at each dispose: older connections close as they come back
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._waiting = 0

    def checkout(self) -> AloneConnection:
        """An idle connection still usable, else a new one (its slot counted), waiting `timeout`
        seconds at most when `2 × size` are in use."""
        with self._lock:
            pooled = self._idle.pop() if self._idle else self._take()
        if pooled is not None:
            if self._usable(pooled):
                return pooled
            pooled.conn.close()  # its slot goes to its replacement
        return self._connected()

    def checkin(self, pooled: AloneConnection) -> None:
        pooled.used_at = time.monotonic()
        with self._lock:
            kept = pooled.generation == self._generation and len(self._idle) < self._size
            if kept:
                self._idle.append(pooled)
            else:
                self._open -= 1
            if self._waiting:
                self._freed.notify()
        if not kept:
            pooled.conn.close()

    def invalidate(self, pooled: AloneConnection) -> None:
        """`pooled` is lost (its statement found it so): closed, its slot freed."""
        pooled.conn.close()
        with self._lock:
            self._open -= 1
            if self._waiting:
                self._freed.notify()

    def dispose(self) -> None:
        """Close the idle connections; those in use are closed when they come back."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
            self._open -= len(idle)
            if self._waiting:
                self._freed.notify_all()
        for pooled in idle:
            pooled.conn.close()

    def checkedin(self) -> int:
        return len(self._idle)

    def _take(self) -> AloneConnection | None:
        """Under the lock: an idle connection, else None and a slot held for a new one, waiting
        `timeout` seconds at most when `2 × size` are open."""
        deadline = None
        while not self._idle:
            if self._open < self._most:
                self._open += 1
                return None
            deadline = deadline or time.monotonic() + self._timeout
            left = deadline - time.monotonic()
            if left <= 0:
                raise exc.TimeoutError(
                    f"AlonePool limit of size {self._size} overflow {self._most - self._size} "
                    f"reached, connection timed out, timeout {self._timeout:.2f}",
                    code="3o7r",
                )
            self._waiting += 1
            try:
                self._freed.wait(left)
            finally:
                self._waiting -= 1
        return self._idle.pop()

    def _connected(self) -> AloneConnection:
        """A new connection in the slot the caller holds (freed if connecting fails)."""
        try:
            return AloneConnection(self._connect(), self._generation)
        except BaseException:
            with self._lock:
                self._open -= 1
                if self._waiting:
                    self._freed.notify()
            raise

    def _usable(self, pooled: AloneConnection) -> bool:
        """core.db's pool check: nothing to read on an idle socket (else the server has closed
        it), and a connection idle `idle_ping` seconds or more answers a ping."""
        conn = pooled.conn
        try:
            if select.select([conn.fileno()], [], [], 0)[0]:
                return False
            if time.monotonic() - pooled.used_at < self._idle_ping:
                return True
            conn.execute("SELECT 1")
        except (psycopg.Error, OSError, ValueError):
            return False
        return True
