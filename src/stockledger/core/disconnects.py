"""Lost database connections: a 503 with Retry-After, never a 500, and the client's connection kept.

A connection can die under any request (PostgreSQL restarted, `pg_terminate_backend`, a
failover). SQLAlchemy invalidates it (and the pool recycles its siblings), the async pool drops
it, and the request answers 503 `database_unavailable` with Retry-After (a write's retry should
carry an Idempotency-Key: a COMMIT whose answer was lost may have committed). A read that lost
its connection is retried once on another (`read_retrying`; the async pool retries in core.db;
`RetryingReads`, the session of Database.reading() and so of every ReadSession route) since
reading twice is harmless; a write is not, as the server may have committed it before the
connection died. A lost connection is logged as one line (`describe`: no SQL, no parameters,
no traceback); the engines hide parameters in any case (core.db).

Errors raised by a middleware (auth's token lookup, the idempotency claim) never reach the
route's exception handlers. Starlette's ServerErrorMiddleware would answer them, but it then
re-raises, and uvicorn closes the client's keep-alive connection: core.problems'
DatabaseErrorMiddleware answers them first.
"""

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, PendingRollbackError
from sqlalchemy.orm import Session

log = logging.getLogger("stockledger")
T = TypeVar("T")

# A driver error (a lost connection among them), or a session whose connection died used again.
LOST = (DBAPIError, PendingRollbackError)


def read_retrying(read: Callable[[], T]) -> T:
    """`read()`, once more on a fresh connection when the first one was lost."""
    try:
        return read()
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        log.info("a read lost its database connection; retrying once: %s", describe(error))
    return read()


READ_ONLY = "stockledger_read_only"  # an execution option: SQLite begins a reader with BEGIN


class RetryingReads(Session):
    """A session for reads only: a statement whose connection was lost is sent once more in a
    new transaction, on a fresh connection. Safe because it only reads, and the same as before:
    on PostgreSQL (READ COMMITTED) each statement takes its own snapshot anyway. (SQLite has no
    connections to lose.) Objects loaded before are expired by the rollback and reload lazily."""

    def _execute_internal(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super()._execute_internal(*args, **kwargs)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            log.info("a read lost its database connection; retrying once: %s", describe(error))
        self.rollback()
        self.connection(execution_options={READ_ONLY: True})
        return super()._execute_internal(*args, **kwargs)


class ResponseCut(Exception):
    """A streamed answer whose database connection was lost after its first bytes were sent:
    it cannot become a 503 any more, and ending it normally would hand the client a complete-
    looking body that lacks the rest. core.problems.DatabaseErrorMiddleware logs one warning
    line (`describe`, no traceback) and ends the request without its last chunk, so the
    server closes the connection and the client sees an incomplete transfer."""

    def __init__(self, what: str, error: BaseException) -> None:
        super().__init__(f"{what} was cut short: the database connection was lost ({describe(error)})")


def describe(error: BaseException) -> str:
    """One line naming a database error without its SQL or parameters: the driver's message."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"
