"""The outbox feed: sequence order, paging, and no event skipped when transactions commit late."""

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from stockledger.core.db import Database
from stockledger.events.feed import read_feed
from stockledger.events.outbox import record_event
from tests.conftest import POSTGRES_LIKE


def _seqs(db: Database, after: int = 0, limit: int = 100) -> list[int]:
    with db.reading() as session:
        return [e.event_seq for e in read_feed(session, after, limit)]


def test_the_feed_serves_events_in_order_and_pages_by_after(db: Database) -> None:
    with db.transaction() as session:
        seqs = [record_event(session, f"F{n % 2}", "InventoryChanged", {"n": n}) for n in range(5)]
    assert _seqs(db) == seqs
    assert _seqs(db, limit=2) == seqs[:2]
    assert _seqs(db, after=seqs[1], limit=2) == seqs[2:4]
    assert _seqs(db, after=seqs[-1]) == []
    with db.reading() as session:
        first = read_feed(session, 0, 1)[0]
    assert (first.facility_id, first.event_type, first.payload) == ("F0", "InventoryChanged", {"n": 0})


# PostgreSQL (and Citus): SQLite serialises writers, so its sequence order is its commit order.
on_postgres = pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)


@on_postgres
def test_an_event_that_commits_late_is_not_skipped(db: Database) -> None:
    """T1 takes the smaller number, T2 commits first: T2's event waits for T1's."""
    with Session(db.engine) as t1, Session(db.engine) as t2:
        first = record_event(t1, "F1", "StockReserved", {"orderId": "O1"})
        second = record_event(t2, "F1", "StockReserved", {"orderId": "O2"})
        assert second > first
        t2.commit()
        assert _seqs(db) == []  # serving `second` now would let a reader skip `first` for good
        t1.commit()
    assert _seqs(db) == [first, second]


@on_postgres
def test_an_older_transaction_id_with_a_larger_number_still_waits(db: Database) -> None:
    """Transaction ids do not order events: E has the older id but the larger number."""
    with Session(db.engine) as te, Session(db.engine) as tf:
        te.execute(text("SELECT pg_current_xact_id()"))  # E's id first (e.g. its key claim)
        f = record_event(tf, "F1", "InventoryChanged", {"who": "f"})
        e = record_event(te, "F1", "InventoryChanged", {"who": "e"})
        assert e > f
        te.commit()
        assert _seqs(db) == []
        tf.commit()
    assert _seqs(db) == [f, e]


@on_postgres
def test_a_rolled_back_event_leaves_a_gap_not_a_stall(db: Database) -> None:
    with Session(db.engine) as t1, Session(db.engine) as t2:
        lost = record_event(t1, "F1", "InventoryChanged", {})
        kept = record_event(t2, "F1", "InventoryChanged", {})
        t2.commit()
        t1.rollback()
    assert lost not in _seqs(db)
    assert _seqs(db) == [kept]


@on_postgres
def test_events_committed_before_a_running_transaction_are_served(db: Database) -> None:
    with db.transaction() as session:
        done = record_event(session, "F1", "InventoryChanged", {})
    with Session(db.engine) as running:
        later = record_event(running, "F1", "InventoryChanged", {})
        assert _seqs(db) == [done]
        running.commit()
    assert _seqs(db) == [done, later]


@on_postgres
def test_a_fence_dropped_with_a_rolled_back_savepoint_is_raised_again(db: Database) -> None:
    with Session(db.engine) as t1, Session(db.engine) as t2:
        with pytest.raises(RuntimeError), t1.begin_nested():
            record_event(t1, "F1", "InventoryChanged", {"undone": True})
            raise RuntimeError("refused")
        kept = record_event(t1, "F1", "InventoryChanged", {})
        later = record_event(t2, "F1", "InventoryChanged", {})
        t2.commit()
        assert _seqs(db) == []
        t1.commit()
    assert _seqs(db) == [kept, later]
