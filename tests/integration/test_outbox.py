"""record_event: events share their transaction and get increasing sequence numbers."""

import json

import pytest
from sqlalchemy import select

from stockledger.core.db import Database
from stockledger.events.models import OutboxEvent
from stockledger.events.outbox import record_event


def test_events_get_increasing_sequence_numbers(db: Database) -> None:
    with db.transaction() as session:
        first = record_event(session, "F1", "InventoryChanged", {"productId": "P", "quantity": 1})
        second = record_event(session, "F2", "StockReserved", {"orderId": "O"})
    assert second > first
    with db.reading() as session:
        rows = session.scalars(select(OutboxEvent).order_by(OutboxEvent.event_seq)).all()
    assert [(r.facility_id, r.event_type) for r in rows] == [
        ("F1", "InventoryChanged"),
        ("F2", "StockReserved"),
    ]
    assert json.loads(rows[0].payload) == {"productId": "P", "quantity": 1}


def test_an_event_rolls_back_with_its_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        record_event(session, "F1", "InventoryChanged", {})
        raise RuntimeError("business change failed")
    with db.reading() as session:
        assert session.scalars(select(OutboxEvent)).all() == []


def test_unknown_event_types_are_a_programming_error(db: Database) -> None:
    with pytest.raises(ValueError, match="unknown event type"), db.transaction() as session:
        record_event(session, "F1", "SomethingHappened", {})
