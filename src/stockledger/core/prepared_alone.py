"""A numbered statement run alone (core.db `run_alone`, PostgreSQL) on psycopg's protocol calls.

psycopg's cursor wraps each statement in a round of Python (its query object, the prepared-cache
bookkeeping, result selection and row maker) that cost ≈ 27 µs of a worker's CPU a reservation
with 8 workers on 2 CPUs (bench/RESULTS.md, session 12). Here the statement is prepared once per
connection, under a name of its own, and each run dumps its values, sends them, waits with
psycopg's own generator and loads the rows with psycopg's own transformer: the server sees the
same prepared statement psycopg sends from its sixth run on, errors are psycopg's (the same
classes, from the same result), and a lost connection fails in the same wait.

Where that is not sure (a connection not idle in autocommit, psycopg's preparing switched off, a
connection that already holds `PREPARED_MOST` of ours) the cursor runs the statement instead.

A prepared statement's result columns are fixed: after an `ALTER TABLE … ALTER COLUMN … TYPE` on a
column it returns (an operator widening a column), PostgreSQL refuses every later run of it on
that connection ("cached plan must not change result type", `stale_plan`), before running
anything. Then the name is dropped, prepared again and the values sent once more: the statement
runs alone, an implicit transaction of its own, which that error ended (the connection is idle
again), so nothing of it ran and nothing is undone. A run that succeeds does no more than before.
"""

from typing import Any

import psycopg
from psycopg import errors
from psycopg.adapt import PyFormat, Transformer
from psycopg.generators import execute
from psycopg.pq import ConnStatus, ExecStatus, Format, TransactionStatus

PREPARED_MOST = 64  # names one connection prepares (a few hundred statements exist; few run alone)
STALE_PLAN = "cached plan must not change result type"
# Where PostgreSQL raises it (plancache.c): the test that holds with any lc_messages.
STALE_PLAN_SOURCE = "RevalidateCachedQuery"


def stale_plan(error: BaseException | None) -> bool:
    """Whether `error` is PostgreSQL refusing a prepared statement whose result columns changed
    type since it was prepared (an ALTER … TYPE): nothing of it ran; prepared again, it runs."""
    if not isinstance(error, errors.FeatureNotSupported):
        return False
    diag = error.diag
    return diag.source_function == STALE_PLAN_SOURCE or diag.message_primary == STALE_PLAN


def stale_on_cursor(error: BaseException) -> bool:
    """A stale plan (`stale_plan`) of a statement that psycopg's cursor prepared (from its sixth
    run): psycopg keeps using a name it prepared, so the connection refuses it from now on and
    only a new connection runs it. Not a statement of ours refused once more after it was
    prepared again (`PreparedAlone.run` raises that while handling the first refusal)."""
    return stale_plan(error) and not stale_plan(error.__context__)


def sendable(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """Whether a statement of ours may be sent on `conn`'s protocol calls now (here and in
    core.prepared_alone_async): idle in autocommit, psycopg allowed to prepare."""
    pgconn = conn.pgconn
    return (
        conn.autocommit
        and conn.prepare_threshold is not None
        and pgconn.status == ConnStatus.OK
        and pgconn.transaction_status == TransactionStatus.IDLE
    )


class PreparedAlone:
    """One connection's prepared statements of ours, and its transformer."""

    __slots__ = ("_made", "_names", "_tx", "conn")

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._names: dict[tuple[str, tuple[int, ...]], bytes] = {}
        self._made = 0  # names made: a forgotten one (`_prepared_again`) is never made again
        self._tx = Transformer(conn)

    def sendable(self) -> bool:
        """Whether `run` may send now: idle in autocommit, psycopg allowed to prepare."""
        return sendable(self.conn)

    def run(self, sql: str, values: list[Any]) -> list[tuple[Any, ...]] | None:
        """The rows of `sql` ($1, $2… placeholders) with `values`; None, nothing sent: the
        connection holds too many names of ours already (the caller uses a cursor)."""
        conn = self.conn
        tx = self._tx
        with conn.lock:
            params = tx.dump_sequence(values, [PyFormat.AUTO] * len(values))
            types = tx.types or ()
            name = self._prepared(sql, types)
            if name is None:
                return None
            pgconn = conn.pgconn
            pgconn.send_query_prepared(name, params, param_formats=tx.formats, result_format=Format.TEXT)
            results = conn.wait(execute(pgconn))
        try:  # free while nothing is raised
            result = self._checked(results)
        except errors.FeatureNotSupported as error:
            if not (stale_plan(error) and self.sendable()):
                raise
            result = self._checked(self._prepared_again(name, sql, types, params))
        if not result.nfields:
            return []
        tx.set_pgresult(result)
        return tx.load_rows(0, result.ntuples, tuple)

    def _prepared(self, sql: str, types: tuple[int, ...]) -> bytes | None:
        """The statement's name, prepared now if it is new (under the connection's lock)."""
        key = (sql, types)
        name = self._names.get(key)
        if name is not None:
            return name
        if len(self._names) >= PREPARED_MOST:
            return None
        name = f"stockledger_alone_{self._made}".encode()
        self._made += 1
        self._prepare(name, sql, types)
        self._names[key] = name
        return name

    def _prepare(self, name: bytes, sql: str, types: tuple[int, ...]) -> None:
        pgconn = self.conn.pgconn
        pgconn.send_prepare(name, sql.encode(self._tx.encoding), param_types=types)
        self._checked(self.conn.wait(execute(pgconn)))

    def _prepared_again(self, name: bytes, sql: str, types: tuple[int, ...], params: Any) -> list[Any]:
        """After a stale plan (`stale_plan`): `name` dropped, prepared again under the same name, and
        the results of `params` sent once more. If dropping or preparing fails, the statement is
        forgotten (its next run prepares it afresh, under a new name)."""
        conn = self.conn
        key = (sql, types)
        with conn.lock:
            del self._names[key]
            pgconn = conn.pgconn
            pgconn.send_query(b"DEALLOCATE " + name)
            self._checked(conn.wait(execute(pgconn)))
            self._prepare(name, sql, types)
            self._names[key] = name
            formats = self._tx.formats
            pgconn.send_query_prepared(name, params, param_formats=formats, result_format=Format.TEXT)
            return conn.wait(execute(pgconn))

    def _checked(self, results: list[Any]) -> Any:
        return one_result(results, self._tx.encoding)


def one_result(results: list[Any], encoding: str) -> Any:
    """The one result, or the server's error as psycopg raises it (core.prepared_alone_async too)."""
    if not results:
        raise errors.InternalError("got no result from the query")
    for result in results:
        if result.status == ExecStatus.FATAL_ERROR:
            raise errors.error_from_result(result, encoding=encoding)
        if result.status not in (ExecStatus.TUPLES_OK, ExecStatus.COMMAND_OK):
            raise errors.InternalError(f"unexpected result status: {ExecStatus(result.status).name}")
    return results[0]
