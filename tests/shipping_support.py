"""Test helpers for shipping, costing and returns: read totals, ledger rows, events, counts."""

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from stockledger.core.db import Database
from stockledger.events.models import OutboxEvent
from stockledger.ledger.models import (
    CostLayer,
    InventoryItem,
    InventoryItemDetail,
    ItemIssuance,
    OrderItem,
    OrderItemInventoryReservation,
    ReturnHeader,
    ReturnItem,
    Shipment,
)

FACILITY = "FACILITY_1"


def totals(db: Database, item_id: str, facility_id: str = FACILITY) -> tuple[Decimal, Decimal]:
    """(QOH, ATP) of one item."""
    with db.reading() as session:
        item = session.get(InventoryItem, (facility_id, item_id))
        assert item is not None, item_id
        return item.quantity_on_hand_total, item.available_to_promise_total


def product_totals(db: Database, product_id: str, facility_id: str = FACILITY) -> tuple[Decimal, Decimal]:
    """(QOH, ATP) of a product summed over its items in the facility."""
    with db.reading() as session:
        i = InventoryItem
        row = session.execute(
            select(func.sum(i.quantity_on_hand_total), func.sum(i.available_to_promise_total)).where(
                i.facility_id == facility_id, i.product_id == product_id
            )
        ).one()
        return row[0] or Decimal(0), row[1] or Decimal(0)


def details(db: Database, item_id: str, facility_id: str = FACILITY) -> list[InventoryItemDetail]:
    with db.reading() as session:
        d = InventoryItemDetail
        return list(
            session.scalars(
                select(d)
                .where(d.facility_id == facility_id, d.inventory_item_id == item_id)
                .order_by(d.seq_num)
            )
        )


def events(db: Database, event_type: str) -> list[dict[str, Any]]:
    with db.reading() as session:
        rows = session.scalars(
            select(OutboxEvent.payload)
            .where(OutboxEvent.event_type == event_type)
            .order_by(OutboxEvent.event_seq)
        )
        return [json.loads(r) for r in rows]


def layers(
    db: Database, product_id: str, facility_id: str = FACILITY
) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(received, remaining, unit cost) of the product's cost layers, oldest first."""
    with db.reading() as session:
        c = CostLayer
        rows = session.execute(
            select(c.quantity_received, c.quantity_remaining, c.unit_cost)
            .where(c.facility_id == facility_id, c.product_id == product_id)
            .order_by(c.received_datetime, c.cost_layer_id)
        ).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]


def snapshot(db: Database) -> tuple[Any, ...]:
    """Counts of every table these features write, plus all item totals: proof nothing changed."""
    with db.reading() as session:
        counts = tuple(
            int(session.scalar(select(func.count()).select_from(m)) or 0)
            for m in (
                Shipment,
                ItemIssuance,
                InventoryItem,
                InventoryItemDetail,
                OutboxEvent,
                CostLayer,
                ReturnHeader,
                ReturnItem,
                OrderItemInventoryReservation,
            )
        )
        i = InventoryItem
        items = session.execute(
            select(i.inventory_item_id, i.status_id, i.quantity_on_hand_total, i.available_to_promise_total)
        ).all()
        remaining = session.execute(select(CostLayer.cost_layer_id, CostLayer.quantity_remaining)).all()
        reservations = session.execute(
            select(
                OrderItemInventoryReservation.inventory_item_id,
                OrderItemInventoryReservation.quantity,
                OrderItemInventoryReservation.status_id,
            )
        ).all()
        order_items = session.execute(
            select(OrderItem.order_id, OrderItem.order_item_seq_id, OrderItem.product_id)
        )
        return counts, sorted(items), sorted(remaining), sorted(reservations), sorted(order_items)
