"""A receipt fills the product's backorders in the facility, oldest reservation first.

A backordered unit already lowered ATP when it was promised (ATP went below zero), so
filling it changes no totals: only the reservation's quantityNotAvailable shrinks.
"""

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockledger.core.fixed import ZERO
from stockledger.ledger.models import OrderItemInventoryReservation
from stockledger.reservations.rules import RES_ACTIVE


@dataclass(frozen=True, slots=True)
class Filled:
    order_id: str
    order_item_seq_id: str
    inventory_item_id: str
    quantity: Decimal


def fill_backorders(session: Session, facility_id: str, product_id: str, received: Decimal) -> list[Filled]:
    """Cover up to `received` units of backorders (quantityNotAvailable), oldest first."""
    r = OrderItemInventoryReservation
    waiting = session.scalars(
        select(r)
        .where(r.facility_id == facility_id, r.product_id == product_id, r.status_id == RES_ACTIVE)
        .where(r.quantity_not_available > 0)
        .order_by(r.reserved_datetime, r.order_id, r.order_item_seq_id, r.inventory_item_id)
        .with_for_update()
    ).all()
    filled: list[Filled] = []
    left = received
    for row in waiting:
        if left <= 0:
            break
        part = min(left, row.quantity_not_available)
        row.quantity_not_available -= part
        left -= part
        filled.append(Filled(row.order_id, row.order_item_seq_id, row.inventory_item_id, part))
    session.flush()
    return filled


def total(filled: list[Filled]) -> Decimal:
    return sum((f.quantity for f in filled), ZERO)
