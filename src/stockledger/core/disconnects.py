"""Lost database connections: a 503 with Retry-After, never a 500, and the client's connection kept.

A connection can die under any request (PostgreSQL restarted, `pg_terminate_backend`, a
failover). SQLAlchemy invalidates it (and the pool recycles its siblings), the async pool drops
it, and the request answers 503 `database_unavailable` with Retry-After (a write's retry should
carry an Idempotency-Key: a COMMIT whose answer was lost may have committed). A read that lost
its connection is retried once on another (`read_retrying`; the async pool retries in core.db)
since reading twice is harmless; a write is not, as the server may have committed it before
the connection died.

Errors raised by a middleware (auth's token lookup, the idempotency claim) never reach the
route's exception handlers. Starlette's ServerErrorMiddleware would answer them, but it then
re-raises, and uvicorn closes the client's keep-alive connection: core.problems'
DatabaseErrorMiddleware answers them first.
"""

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, PendingRollbackError

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
        log.info("a read lost its database connection; retrying once: %s", error.orig)
    return read()
