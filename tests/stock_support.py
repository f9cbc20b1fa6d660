"""Test helpers for receiving, reservations and rejection: reservation rows and receipts."""

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import event, select

from stockledger.catalog.inventory_items import find_or_create_facility_inventory_item
from stockledger.core.db import Database
from stockledger.events.outbox import record_event
from stockledger.ledger.models import OrderItemInventoryReservation, Product, ShipmentReceipt
from stockledger.ledger.post import Posting, post
from stockledger.receiving.schemas import ReceiptDoc, ReceiptLine
from stockledger.receiving.service import receive_purchase_shipment

FACILITY = "FACILITY_1"


def reservations(db: Database, order_id: str) -> list[tuple[str, str, Decimal, Decimal, str]]:
    """(orderItemSeqId, inventoryItemId, quantity, quantityNotAvailable, statusId) of an order."""
    with db.reading() as session:
        r = OrderItemInventoryReservation
        rows = session.execute(
            select(
                r.order_item_seq_id, r.inventory_item_id, r.quantity, r.quantity_not_available, r.status_id
            )
            .where(r.order_id == order_id)
            .order_by(r.order_item_seq_id, r.inventory_item_id)
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


def receipts(db: Database, shipment_id: str) -> list[ShipmentReceipt]:
    with db.reading() as session:
        return list(
            session.scalars(select(ShipmentReceipt).where(ShipmentReceipt.shipment_id == shipment_id))
        )


def receive(db: Database, shipment_id: str, *lines: dict[str, object]) -> list[str]:
    """Receive lines (camelCase dicts) through the service; the items they went to."""
    doc = ReceiptDoc(
        shipment_id=shipment_id,
        facility_id=FACILITY,
        items=[ReceiptLine.model_validate(line) for line in lines],
    )
    with db.transaction() as session:
        done = receive_purchase_shipment(session, doc)
        return [r.item.inventory_item_id if r.item else "" for r in done]


def two_lots_of_fg003(db: Database) -> tuple[str, str]:
    """FG003 gets a late lot (5, location 0002) and an early lot (4, location 0004): (early, late)."""
    late, early = receive(
        db,
        "PO-LOTS",
        {
            "shipmentItemSeqId": "1",
            "productId": "FG003",
            "quantityAccepted": 5,
            "lotId": "L-LATE",
            "expireDate": "2097-06-01T00:00:00",
            "locationSeqId": "0010",
            "unitCost": 7,
        },
        {
            "shipmentItemSeqId": "2",
            "productId": "FG003",
            "quantityAccepted": 4,
            "lotId": "L-EARLY",
            "expireDate": "2097-01-01T00:00:00",
            "locationSeqId": "0004",
            "unitCost": 8,
        },
    )
    return early, late


def add_sole_item(db: Database, product_id: str, quantity: int) -> str:
    """A new product with exactly one item in FACILITY, `quantity` on hand and available; its id."""
    with db.transaction() as session:
        session.add(Product(product_id=product_id, product_name="Sole item"))
        session.flush()
        item = find_or_create_facility_inventory_item(session, FACILITY, product_id).inventory_item_id
        q = Decimal(quantity)
        post(
            session,
            Posting(FACILITY, item, "INV_RECEIPT", quantity_on_hand_diff=q, available_to_promise_diff=q),
        )
        payload = {"facilityId": FACILITY, "productId": product_id, "inventoryItemId": item}
        record_event(session, FACILITY, "InventoryChanged", payload)
    return item


@contextmanager
def committed_alone(db: Database) -> Iterator[list[tuple[str, int]]]:
    """The statements `db` commits alone (Database.run_alone and run_alone_async) during the
    block, each with the number of rows it returned."""
    seen: list[tuple[str, int]] = []

    def _record(sql: str, returned: int) -> None:
        seen.append((sql, returned))

    db.after_alone.append(_record)
    try:
        yield seen
    finally:
        db.after_alone.remove(_record)


SOLE_ITEM_POST = "WITH picked AS"  # how the one statement, and its post step on Citus, begin


@contextmanager
def sole_item_tries(db: Database) -> Iterator[list[int]]:
    """The rows each try of the sole-item reservation's post returned during the block: the one
    statement (committed alone or in a session) or, on Citus, its post step, which runs in a
    transaction (ledger/sole_item_steps_pg.py)."""
    seen: list[int] = []

    def _alone(sql: str, returned: int) -> None:
        if sql.startswith(SOLE_ITEM_POST):
            seen.append(returned)

    def _executed(_conn: Any, cursor: Any, sql: str, *_args: Any) -> None:
        if sql.startswith(SOLE_ITEM_POST):
            seen.append(cursor.rowcount)

    db.after_alone.append(_alone)
    event.listen(db.engine, "after_cursor_execute", _executed)
    try:
        yield seen
    finally:
        db.after_alone.remove(_alone)
        event.remove(db.engine, "after_cursor_execute", _executed)
