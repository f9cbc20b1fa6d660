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
"""

from typing import Any

import psycopg
from psycopg import errors
from psycopg.adapt import PyFormat, Transformer
from psycopg.generators import execute
from psycopg.pq import ConnStatus, ExecStatus, Format, TransactionStatus

PREPARED_MOST = 64  # names one connection prepares (a few hundred statements exist; few run alone)


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

    __slots__ = ("_names", "_tx", "conn")

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._names: dict[tuple[str, tuple[int, ...]], bytes] = {}
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
        result = self._checked(results)
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
        name = f"stockledger_alone_{len(self._names)}".encode()
        pgconn = self.conn.pgconn
        pgconn.send_prepare(name, sql.encode(self._tx.encoding), param_types=types)
        self._checked(self.conn.wait(execute(pgconn)))
        self._names[key] = name
        return name

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
