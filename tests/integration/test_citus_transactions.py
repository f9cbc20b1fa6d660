"""Transactions that span workers on Citus: an ERP reset over two facilities on two workers
commits whole or not at all, and the outbox fence (core/fence.py) still never lets the feed
skip an event that a two-worker transaction commits late."""

from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from stockledger.catalog.importer import import_document
from stockledger.core.db import Database
from stockledger.core.fence import FENCE_BASE
from stockledger.events.feed import read_feed
from stockledger.events.outbox import record_event
from stockledger.ledger.views import availability
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory

pytestmark = pytest.mark.parametrize("backend", ["citus"], indirect=True)
_WORKER_OF = text(
    "SELECT nodeport FROM citus_shards WHERE table_name = 'inventory_item'::regclass "
    "AND shardid = get_shard_id_for_distribution_column('inventory_item', CAST(:f AS text))"
)


def _on_two_workers(db: Database) -> tuple[str, str]:
    """Two facility ids whose rows live on different workers."""
    first: dict[int, str] = {}
    with db.engine.connect() as conn:
        for n in range(100):
            facility = f"FAC_{n}"
            first.setdefault(conn.execute(_WORKER_OF, {"f": facility}).scalar_one(), facility)
            if len(first) == 2:
                a, b = sorted(first.values())
                return a, b
    raise AssertionError("every facility landed on one worker")


def _qoh(db: Database, facility: str) -> Decimal:
    with db.reading() as session:
        return availability(session, facility, "FG001").quantity_on_hand_total


def test_a_reset_over_two_workers_commits_whole_or_not_at_all(seeded: Database) -> None:
    a, b = _on_two_workers(seeded)
    with seeded.transaction() as session:
        for facility in (a, b):
            import_document(session, {"facilityId": facility, "products": [{"productId": "FG001"}]})
    lines = [RawLine(1, a, "FG001", "5", None), RawLine(2, b, "FG001", "6", None)]
    with pytest.raises(RuntimeError, match="after the reset"), seeded.transaction() as session:
        reset_inventory(session, lines)
        raise RuntimeError("the caller fails after the reset")
    assert (_qoh(seeded, a), _qoh(seeded, b)) == (0, 0)
    with seeded.transaction() as session:
        reset_inventory(session, lines)
    assert (_qoh(seeded, a), _qoh(seeded, b)) == (5, 6)


def _seqs(db: Database) -> list[int]:
    with db.reading() as session:
        return [e.event_seq for e in read_feed(session, 0, 100)]


_FENCES_HERE = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND classid::bigint >= :high"
)


def test_a_two_worker_transaction_that_commits_late_is_not_skipped(db: Database) -> None:
    """T1 writes events on two workers (two-phase commit) and takes the smaller number; T2
    commits first: the feed holds T2's event back until T1 has committed on both workers."""
    a, b = _on_two_workers(db)
    with Session(db.engine) as t1, Session(db.engine) as t2:
        first = record_event(t1, a, "StockReserved", {"orderId": "O1"})
        record_event(t1, b, "StockReserved", {"orderId": "O1"})
        second = record_event(t2, a, "StockReserved", {"orderId": "O2"})
        fences = t1.execute(_FENCES_HERE, {"high": FENCE_BASE >> 32}).scalar_one()
        assert fences >= 2  # both fences are the coordinator's locks, where final_up_to reads them
        t2.commit()
        assert _seqs(db) == []
        t1.commit()
    assert _seqs(db) == [first, first + 1, second]
