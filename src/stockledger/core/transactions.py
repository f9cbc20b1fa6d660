"""Who owns a transaction (docs/architecture.md, Transactions): the entry point, never a service.

- A request, and a web page alike: core/deps.py (`WriteSession`, `write_session`; with an
  Idempotency-Key the middleware's session, ended by `core.deps.commit_keyed`).
- A CLI command, or a runner a command starts (the inbound OMS consumer, the outbox publisher):
  `command_transaction`, one transaction per block.
- A change that is ONE statement sent alone in autocommit (`Database.run_alone`, where
  `Database.runs_alone`): the statement is its own transaction. A caller with no transaction
  yet hands a service its Database and how to open its transaction (a callable the owner
  gives, e.g. `lambda: command_transaction(db)`); the ledger sends the statement alone where it
  can, and only otherwise does the service open the owner's transaction with it
  (reservations.service.reserve_line).

Services receive a Session and never commit, begin or roll back. A part of the owner's
transaction that may fail (or be retried) alone runs in `savepoint`.
`tests/unit/test_transaction_owners.py` reads every module and fails on any other.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from stockledger.core.actor import bind_user
from stockledger.core.db import Database


@contextmanager
def command_transaction(db: Database, user: str | None = None) -> Iterator[Session]:
    """A CLI command's (or a runner's) write transaction: committed when the block ends, rolled
    back when it raises. Its rows record `user`, else the database's (the CLI's `--user`)."""
    with db.transaction() as session:
        if user is not None:
            bind_user(session, user)
        yield session


class Savepoint:
    """A savepoint's handle: `undo()` makes the block roll back to it when it ends."""

    __slots__ = ("undone",)

    def __init__(self) -> None:
        self.undone = False

    def undo(self) -> None:
        self.undone = True


@contextmanager
def savepoint(session: Session) -> Iterator[Savepoint]:
    """A part of the owner's transaction that may be undone alone (SAVEPOINT): released when the
    block ends (its writes and row locks stay with the transaction), rolled back to when it
    raises (the error goes on) or after `undo()` (the locks it took are given back). The
    owner's transaction goes on either way."""
    nested = session.begin_nested()
    point = Savepoint()
    try:
        yield point
    except BaseException:
        if nested.is_active:
            nested.rollback()
        raise
    if point.undone:
        nested.rollback()
    else:
        nested.commit()
