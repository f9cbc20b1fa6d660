"""core.prepared_alone on the event loop: a numbered statement of the async pool (core.async_pool)
prepared once per connection and run on psycopg's protocol calls, not on its cursor.

The raw cursor already let psycopg prepare a statement from its sixth run on; what it cost is its
round of Python around each statement (query object, prepared-cache bookkeeping, result selection,
row maker). Here, as on the thread path: dump the values, send them to the statement prepared under
a name of ours, wait with psycopg's own generator (through the connection's wait: its socket watch)
and load the rows with psycopg's own transformer. Errors are psycopg's, from the same result; a
lost connection fails in the same wait; a cancelled wait leaves the connection active, and the
pool closes it, as with the cursor. A stale plan (an ALTER … TYPE on a column the statement
returns) is met as on the thread path: the name dropped, prepared again, the values sent once more.
"""

from typing import Any

from psycopg import AsyncConnection, errors
from psycopg.adapt import PyFormat, Transformer
from psycopg.generators import execute
from psycopg.pq import Format

from stockledger.core import prepared_alone
from stockledger.core.prepared_alone import one_result, stale_plan


class PreparedAloneAsync:
    """One async connection's prepared statements of ours, and its transformer."""

    __slots__ = ("_made", "_names", "_tx", "conn")

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self.conn = conn
        self._names: dict[tuple[str, tuple[int, ...]], bytes] = {}
        self._made = 0  # names made: a forgotten one (`_prepared_again`) is never made again
        self._tx = Transformer(conn)

    def sendable(self) -> bool:
        """Whether `run` may send now (core.prepared_alone.sendable)."""
        return prepared_alone.sendable(self.conn)

    async def run(self, sql: str, values: list[Any]) -> list[tuple[Any, ...]] | None:
        """The rows of `sql` ($1, $2… placeholders) with `values`; None, nothing sent: the
        connection holds too many names of ours already (the caller uses a cursor)."""
        conn = self.conn
        tx = self._tx
        async with conn.lock:
            params = tx.dump_sequence(values, [PyFormat.AUTO] * len(values))
            types = tx.types or ()
            name = await self._prepared(sql, types)
            if name is None:
                return None
            pgconn = conn.pgconn
            pgconn.send_query_prepared(name, params, param_formats=tx.formats, result_format=Format.TEXT)
            results = await conn.wait(execute(pgconn))
        try:  # free while nothing is raised
            result = one_result(results, tx.encoding)
        except errors.FeatureNotSupported as error:
            if not (stale_plan(error) and self.sendable()):
                raise
            result = one_result(await self._prepared_again(name, sql, types, params), tx.encoding)
        if not result.nfields:
            return []
        tx.set_pgresult(result)
        return tx.load_rows(0, result.ntuples, tuple)

    async def _prepared(self, sql: str, types: tuple[int, ...]) -> bytes | None:
        """The statement's name, prepared now if it is new (under the connection's lock)."""
        key = (sql, types)
        name = self._names.get(key)
        if name is not None:
            return name
        if len(self._names) >= prepared_alone.PREPARED_MOST:
            return None
        name = f"stockledger_alone_{self._made}".encode()
        self._made += 1
        await self._prepare(name, sql, types)
        self._names[key] = name
        return name

    async def _prepare(self, name: bytes, sql: str, types: tuple[int, ...]) -> None:
        pgconn = self.conn.pgconn
        pgconn.send_prepare(name, sql.encode(self._tx.encoding), param_types=types)
        one_result(await self.conn.wait(execute(pgconn)), self._tx.encoding)

    async def _prepared_again(self, name: bytes, sql: str, types: tuple[int, ...], params: Any) -> list[Any]:
        """core.prepared_alone's `_prepared_again` on the event loop."""
        conn = self.conn
        key = (sql, types)
        async with conn.lock:
            del self._names[key]
            pgconn = conn.pgconn
            pgconn.send_query(b"DEALLOCATE " + name)
            one_result(await conn.wait(execute(pgconn)), self._tx.encoding)
            await self._prepare(name, sql, types)
            self._names[key] = name
            formats = self._tx.formats
            pgconn.send_query_prepared(name, params, param_formats=formats, result_format=Format.TEXT)
            return await conn.wait(execute(pgconn))
