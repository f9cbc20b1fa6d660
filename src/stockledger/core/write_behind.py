"""Writes whose answers can wait: psycopg's pipeline mode inside the session's transaction."""

from collections.abc import Callable, Mapping
from contextlib import ExitStack, suppress
from threading import Thread
from typing import Any

from psycopg import pq
from sqlalchemy.orm import Session

from stockledger.core.statements import (
    RowsCheck,
    Statement,
    connection_of,
    driver_error,
    driver_sql,
    execute_on,
    is_postgres,
    rows_of,
    run,
)

Done = Callable[[BaseException | None], None]  # what follows work done behind: its error or None


class WriteBehind:
    """Writes whose answers can wait, in the session's transaction.

    PostgreSQL: `send` puts a statement on the wire in pipeline mode and returns at once. The
    server runs it while Python goes on: an ERP reset prepares its next batch. `settle` waits
    for every answer sent so far. It raises the first driver error as `run` would, fires the
    cursor events then, when row counts are known (metrics count ledger rows from them), and
    calls each statement's `check` with its rows. So nothing sent is taken as done before
    settle; the caller settles before it reads or commits. SQLite: `send` runs the statement
    at once, since there is no server to overlap with.

    A `with` block binds it to the session's transaction for the block (`writes_behind`): the
    writers that may leave their answers behind (ledger.post of several postings,
    core.bulk.upsert_copied) find it there and use it, so no caller threads it through. The
    block settles on leaving. On an error it only leaves pipeline mode, and the transaction
    rolls back.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._pipeline: ExitStack | None = None
        self._sent: list[tuple[Any, str, Mapping[str, Any], RowsCheck | None]] = []
        self._outer: WriteBehind | None = None
        self._working: tuple[Thread, list[BaseException], Done] | None = None

    def __enter__(self) -> "WriteBehind":
        self._outer = writes_behind(self.session)
        self.session.info[_BOUND] = self
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if self._outer is None:
            self.session.info.pop(_BOUND, None)
        else:
            self.session.info[_BOUND] = self._outer
        if exc_type is None:
            self.settle()
            return
        if self._working is not None:  # the connection is the work's until it ends
            self._working[0].join()
            self._working = None
        if self._pipeline is not None:
            pipeline, self._pipeline, self._sent = self._pipeline, None, []
            with suppress(Exception):  # the block's own error is the one to report
                pipeline.close()

    def behind(self, work: Callable[[], object], done: Done) -> None:
        """`work` (a COPY, whose driver waits for the server without holding the GIL) run in a
        thread of its own while the caller goes on making the next rows; `done(its error or
        None)` called in the caller's thread at the next `behind`, `send` or `settle`, before
        anything else uses the connection. PostgreSQL only (its callers: core.bulk)."""
        self._finish_work()
        failed: list[BaseException] = []

        def run() -> None:
            try:
                work()
            except BaseException as error:  # handed to `done` in the caller's thread
                failed.append(error)

        thread = Thread(target=run, name="stockledger-write-behind", daemon=True)
        thread.start()
        self._working = (thread, failed, done)

    def _finish_work(self) -> None:
        if self._working is None:
            return
        thread, failed, done = self._working
        self._working = None
        thread.join()
        done(failed[0] if failed else None)

    def send(self, statement: Statement, check: RowsCheck | None = None) -> None:
        """Send `statement`; `check(rows)` runs at settle (its exception then stops the caller)."""
        self._finish_work()
        session = self.session
        if not is_postgres(session):
            rows = run(session, statement)
            if check is not None:
                check(rows)
            return
        if session.new or session.dirty or session.deleted:
            self.settle()  # pending ORM changes are flushed outside pipeline mode, first
            session.flush()
        conn = connection_of(session)
        if self._pipeline is None:
            pipeline = ExitStack()
            pipeline.enter_context(conn.connection.dbapi_connection.pipeline())  # type: ignore[union-attr]
            self._pipeline = pipeline
        sql = driver_sql(conn.dialect, statement.sql)
        self._sent.append((execute_on(conn, sql, statement.params), sql, statement.params, check))

    def settle(self) -> None:
        """Wait for every answer sent; driver errors raised as SQLAlchemy's, then the checks.

        When a statement failed, the checks of the answers before it run first: a check that
        fails there names the cause (an UPDATE that found its rows changed makes the next
        INSERT collide), as it would have if each statement had been waited for. Work
        `behind` is waited for first."""
        self._finish_work()
        if self._pipeline is None:
            return
        pipeline, self._pipeline = self._pipeline, None
        sent, self._sent = self._sent, []
        conn = connection_of(self.session)
        try:
            pipeline.close()  # sync: every answer read, the first error raised
        except conn.dialect.loaded_dbapi.Error as error:
            answered = [entry for entry in sent if _answered(entry[0])]
            for cursor, sql, _, check in answered:
                if check is not None:
                    check(rows_of(cursor, sql))
            cursor, sql, params, _ = sent[len(answered)] if len(answered) < len(sent) else sent[-1]
            driver = conn.connection.dbapi_connection
            raise driver_error(error, conn.dialect, sql, params, driver, cursor, conn.invalidate) from error
        for cursor, sql, params, check in sent:
            if conn.dispatch.after_cursor_execute:
                conn.dispatch.after_cursor_execute(conn, cursor, sql, params, None, False)
            if check is not None:
                check(rows_of(cursor, sql))


_BOUND = "stockledger.write_behind"  # session.info key: the WriteBehind of the open `with` block


def writes_behind(session: Session) -> WriteBehind | None:
    """The WriteBehind bound to the session by an open `with WriteBehind(session)` block, or
    None: the writes whose answers may wait are sent through it, else run and waited for."""
    bound: WriteBehind | None = session.info.get(_BOUND)
    return bound


def _answered(cursor: Any) -> bool:
    result = cursor.pgresult
    return result is not None and result.status in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
