"""Inbound messages through apply_one (oms/consumer.py, which owns the message's transaction):
applied once, refusals recorded, nothing partial."""

import json
from datetime import timedelta

from sqlalchemy import func, select

from stockledger.core.db import Database
from stockledger.core.model_base import utcnow
from stockledger.events.models import OutboxEvent, ProcessedMessage
from stockledger.idempotency.models import IdempotencyKey
from stockledger.idempotency.service import purge_expired
from stockledger.ledger.models import (
    InventoryItem,
    InventoryItemDetail,
    OrderItemInventoryReservation,
    ReturnHeader,
)
from stockledger.oms.consumer import apply_one
from stockledger.oms.inbound import APPLIED, DUPLICATE, REFUSED


def _order(order_id: str, quantity: int) -> bytes:
    return json.dumps(
        {
            "orderId": order_id,
            "facilityId": "FACILITY_1",
            "items": [{"orderItemSeqId": "00001", "productId": "FG002", "quantity": quantity}],
        }
    ).encode()


def _atp(db: Database) -> object:
    with db.reading() as session:
        item = session.get(InventoryItem, ("FACILITY_1", "FG002-INV-001"))
        other = session.get(InventoryItem, ("FACILITY_1", "FG002-INV-002"))
        assert item is not None
        assert other is not None
        return item.available_to_promise_total + other.available_to_promise_total


def _count(db: Database, model: type) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_an_order_confirmed_reserves_once(seeded: Database) -> None:
    before = _atp(seeded)
    assert apply_one(seeded, "OrderConfirmed", "m-1", _order("O-IN-1", 3)) == APPLIED
    assert _atp(seeded) == before - 3
    events = _count(seeded, OutboxEvent)
    assert apply_one(seeded, "OrderConfirmed", "m-1", _order("O-IN-1", 3)) == DUPLICATE
    assert _atp(seeded) == before - 3
    assert _count(seeded, OutboxEvent) == events
    assert _count(seeded, OrderItemInventoryReservation) >= 1


def test_refused_messages_change_nothing_and_are_not_retried(seeded: Database) -> None:
    before = _atp(seeded)
    assert apply_one(seeded, "OrderConfirmed", "m-2", _order("O-IN-2", 99_999)) == REFUSED
    assert apply_one(seeded, "OrderConfirmed", "m-3", b"{not json") == REFUSED
    assert apply_one(seeded, "OrderConfirmed", "m-4", b'{"orderId": "O"}') == REFUSED
    assert apply_one(seeded, "PriceChanged", "m-5", b"{}") == REFUSED
    assert apply_one(seeded, "OrderConfirmed", "m-2", _order("O-IN-2", 1)) == DUPLICATE
    assert _atp(seeded) == before
    assert _count(seeded, OrderItemInventoryReservation) == 0
    with seeded.reading() as session:
        outcomes = session.execute(select(ProcessedMessage.message_id, ProcessedMessage.detail)).all()
    details = dict(outcomes)
    assert str(details["m-2"]).startswith("insufficient_stock")
    assert str(details["m-3"]).startswith("malformed_json")
    assert str(details["m-4"]).startswith("validation_failed")


def test_a_return_of_what_never_shipped_is_refused_with_its_code(seeded: Database) -> None:
    body = {
        "returnId": "OMS-RET-X",
        "orderId": "NEVER-SHIPPED",
        "facilityId": "FACILITY_1",
        "items": [
            {"returnItemSeqId": "1", "orderItemSeqId": "00001", "productId": "FG001", "returnQuantity": 1}
        ],
    }
    details = _count(seeded, InventoryItemDetail)
    assert apply_one(seeded, "ReturnReceived", "r-1", json.dumps(body).encode()) == REFUSED
    assert (_count(seeded, InventoryItemDetail), _count(seeded, ReturnHeader)) == (details, 0)
    with seeded.reading() as session:
        message = session.get(ProcessedMessage, ("FACILITY_1", "r-1"))
        assert message is not None
        assert message.detail is not None
        assert (message.outcome, message.detail.split(":")[0]) == (REFUSED, "not_shipped")


def test_expired_idempotency_keys_are_purged(db: Database) -> None:
    now = utcnow()
    with db.transaction() as session:
        for key, expires in (("old", now - timedelta(seconds=1)), ("fresh", now + timedelta(hours=1))):
            session.add(
                IdempotencyKey(
                    facility_id="_",
                    token_id="t1",
                    idempotency_key=key,
                    request_hash="h",
                    request_method="POST",
                    request_path="/v1/x",
                    expires_at=expires,
                )
            )
    with db.transaction() as session:
        assert purge_expired(session, now) == 1
    with db.reading() as session:
        assert session.scalars(select(IdempotencyKey.idempotency_key)).all() == ["fresh"]


def test_an_inbound_quantity_is_read_exactly(seeded: Database) -> None:
    """A float cannot hold 1.0000000000000001: read as one, the order reserved the 1 it never said."""
    before = _atp(seeded)
    body = _order("O-IN-X", 1).replace(b'"quantity": 1', b'"quantity": 1.0000000000000001')
    assert apply_one(seeded, "OrderConfirmed", "m-x", body) == REFUSED
    assert _atp(seeded) == before
    with seeded.reading() as session:
        detail = session.scalar(select(ProcessedMessage.detail).where(ProcessedMessage.message_id == "m-x"))
    assert str(detail).startswith("validation_failed"), detail


def test_an_inbound_message_naming_a_member_twice_is_refused(seeded: Database) -> None:
    """json.loads kept the last "quantity": the order reserved 2 where the first said 1."""
    before = _atp(seeded)
    body = _order("O-IN-T", 1).replace(b'"quantity": 1', b'"quantity": 1, "quantity": 2')
    assert apply_one(seeded, "OrderConfirmed", "m-t", body) == REFUSED
    assert _atp(seeded) == before
    with seeded.reading() as session:
        detail = session.scalar(select(ProcessedMessage.detail).where(ProcessedMessage.message_id == "m-t"))
    assert str(detail).startswith(
        'validation_failed: items.0.quantity: the member "quantity" appears twice'
    ), detail
