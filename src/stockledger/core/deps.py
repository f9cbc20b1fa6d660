"""What routes depend on: the database and a session whose transaction the request owns.

The request is the owner of its transaction (docs/architecture.md, Transactions): `WriteSession`
(or `write_session` for a route that does its work in one worker-thread hop, and for the web
pages) commits when the route's work is done; with an Idempotency-Key, the middleware's session
(`keyed_session`), which `commit_keyed` commits with the key's stored answer.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from stockledger.core.db import Database
from stockledger.core.scope import bind_principal
from stockledger.core.transactions import savepoint


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


# The request state's name for a transaction a middleware owns (the idempotency middleware's
# keyed request: the key's claim commits with the change); write_session joins it.
WRITE_SESSION = "write_session"


@contextmanager
def write_session(request: Request) -> Iterator[Session]:
    """The request's write transaction: committed when the block ends, rolled back on an error.

    WriteSession's body, for a route that runs its whole work (session, change, commit, answer)
    in one worker-thread hop instead of FastAPI's four (sync dependency in and out, sync route,
    answer validation).
    """
    owned: Session | None = getattr(request.state, WRITE_SESSION, None)
    if owned is not None:
        # The idempotency middleware owns this request's transaction (the key's claim and
        # its stored answer commit with the change); a refused change rolls back alone.
        bind_principal(owned, getattr(request.state, "principal", None))
        with savepoint(owned):
            yield owned
        return
    with get_database(request).transaction() as session:
        bind_principal(session, getattr(request.state, "principal", None))
        yield session


def keyed_session(db: Database) -> Session:
    """The session of a request with an Idempotency-Key (idempotency/middleware.py): the key is
    claimed in it, the route joins it (`write_session`, as a savepoint), and `commit_keyed` ends
    it; closed without that, it rolls back."""
    return db.sessions()


def commit_keyed(session: Session, last: Callable[[Session], None]) -> None:
    """Commit the keyed request's transaction once `last` (storing the answer on the key) has
    written in it: claim, change and answer at once."""
    last(session)
    session.commit()


def _write_session(request: Request) -> Iterator[Session]:
    with write_session(request) as session:
        yield session


def _read_session(request: Request) -> Iterator[Session]:
    with get_database(request).reading() as session:
        bind_principal(session, getattr(request.state, "principal", None))
        yield session


# scope="function": the transaction commits before the response is sent, so a failed
# commit becomes an error response instead of a success that never happened.
WriteSession = Annotated[Session, Depends(_write_session, scope="function")]
ReadSession = Annotated[Session, Depends(_read_session, scope="function")]
