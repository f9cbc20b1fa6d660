"""The outbox feed: sequence order, paging, and no event skipped when transactions commit late."""

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from stockledger.core.db import Database
from stockledger.events.feed import read_feed
from stockledger.events.outbox import record_event


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


@pytest.fixture
def pg(db: Database) -> Database:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: its sequence order is its commit order")
    return db


def test_an_event_that_commits_late_is_not_skipped(pg: Database) -> None:
    """T1 takes the smaller number, T2 commits first: T2's event waits for T1's."""
    with Session(pg.engine) as t1, Session(pg.engine) as t2:
        first = record_event(t1, "F1", "StockReserved", {"orderId": "O1"})
        second = record_event(t2, "F1", "StockReserved", {"orderId": "O2"})
        assert second > first
        t2.commit()
        assert _seqs(pg) == []  # serving `second` now would let a reader skip `first` for good
        t1.commit()
    assert _seqs(pg) == [first, second]


def test_an_older_transaction_id_with_a_larger_number_still_waits(pg: Database) -> None:
    """Transaction ids do not order events: E has the older id but the larger number."""
    with Session(pg.engine) as te, Session(pg.engine) as tf:
        te.execute(text("SELECT pg_current_xact_id()"))  # E's id first (e.g. its key claim)
        f = record_event(tf, "F1", "InventoryChanged", {"who": "f"})
        e = record_event(te, "F1", "InventoryChanged", {"who": "e"})
        assert e > f
        te.commit()
        assert _seqs(pg) == []
        tf.commit()
    assert _seqs(pg) == [f, e]


def test_a_rolled_back_event_leaves_a_gap_not_a_stall(pg: Database) -> None:
    with Session(pg.engine) as t1, Session(pg.engine) as t2:
        lost = record_event(t1, "F1", "InventoryChanged", {})
        kept = record_event(t2, "F1", "InventoryChanged", {})
        t2.commit()
        t1.rollback()
    assert lost not in _seqs(pg)
    assert _seqs(pg) == [kept]


def test_events_committed_before_a_running_transaction_are_served(pg: Database) -> None:
    with pg.transaction() as session:
        done = record_event(session, "F1", "InventoryChanged", {})
    with Session(pg.engine) as running:
        later = record_event(running, "F1", "InventoryChanged", {})
        assert _seqs(pg) == [done]
        running.commit()
    assert _seqs(pg) == [done, later]


def test_a_fence_dropped_with_a_rolled_back_savepoint_is_raised_again(pg: Database) -> None:
    with Session(pg.engine) as t1, Session(pg.engine) as t2:
        with pytest.raises(RuntimeError), t1.begin_nested():
            record_event(t1, "F1", "InventoryChanged", {"undone": True})
            raise RuntimeError("refused")
        kept = record_event(t1, "F1", "InventoryChanged", {})
        later = record_event(t2, "F1", "InventoryChanged", {})
        t2.commit()
        assert _seqs(pg) == []
        t1.commit()
    assert _seqs(pg) == [kept, later]
