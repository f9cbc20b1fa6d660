"""The owners' helpers (core/transactions.py), on both databases: a command's transaction commits
or rolls back whole and records its user; a savepoint undoes its own part only."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stockledger.core.actor import acting_user
from stockledger.core.db import Database
from stockledger.core.transactions import command_transaction, savepoint
from stockledger.events.models import DeploymentIdentity


def _add(session: Session, name: str) -> None:
    session.add(DeploymentIdentity(identity_name=name, deployment_id=f"id-{name}"))
    session.flush()


def _names(db: Database) -> list[str]:
    with db.reading() as session:
        return sorted(session.scalars(select(DeploymentIdentity.identity_name)))


def test_a_command_transaction_commits_when_the_block_ends(db: Database) -> None:
    with command_transaction(db, "cli:tester") as session:
        assert acting_user(session) == "cli:tester"
        _add(session, "a")
    assert _names(db) == ["a"]


def test_a_command_transaction_rolls_back_whole_on_an_error(db: Database) -> None:
    with pytest.raises(RuntimeError, match="refused"), command_transaction(db) as session:
        _add(session, "a")
        raise RuntimeError("refused")
    assert _names(db) == []


def test_a_savepoint_keeps_its_writes_unless_undone(db: Database) -> None:
    with command_transaction(db) as session:
        _add(session, "before")
        with savepoint(session) as point:
            _add(session, "undone")
            point.undo()
        with savepoint(session):
            _add(session, "kept")
        _add(session, "after")
    assert _names(db) == ["after", "before", "kept"]


def test_a_savepoint_that_raises_undoes_its_part_and_the_owner_goes_on(db: Database) -> None:
    with command_transaction(db) as session:
        _add(session, "before")
        with pytest.raises(RuntimeError, match="refused"), savepoint(session):
            _add(session, "refused")
            raise RuntimeError("refused")
        _add(session, "after")
    assert _names(db) == ["after", "before"]
