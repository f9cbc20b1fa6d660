"""The ledger rule, checked: every item's totals equal the sum of its detail diffs."""

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from stockledger.ledger.models import InventoryItem, InventoryItemDetail


@dataclass(frozen=True, slots=True)
class Mismatch:
    facility_id: str
    inventory_item_id: str
    totals: tuple[Decimal, Decimal, Decimal]  # QOH, ATP, accounting, as stored
    ledger: tuple[Decimal, Decimal, Decimal]  # the same, summed from the details


def find_mismatches(session: Session) -> list[Mismatch]:
    """Every item whose stored totals differ from the sum of its ledger rows."""
    d = InventoryItemDetail
    sums = (
        select(
            d.facility_id,
            d.inventory_item_id,
            func.sum(d.quantity_on_hand_diff).label("qoh"),
            func.sum(d.available_to_promise_diff).label("atp"),
            func.sum(d.accounting_quantity_diff).label("acc"),
        )
        .group_by(d.facility_id, d.inventory_item_id)
        .subquery()
    )
    i = InventoryItem
    qoh, atp, acc = (func.coalesce(sums.c[name], 0) for name in ("qoh", "atp", "acc"))
    rows = session.execute(
        select(
            i.facility_id,
            i.inventory_item_id,
            i.quantity_on_hand_total,
            i.available_to_promise_total,
            i.accounting_quantity_total,
            qoh,
            atp,
            acc,
        )
        .outerjoin(
            sums,
            (sums.c.facility_id == i.facility_id) & (sums.c.inventory_item_id == i.inventory_item_id),
        )
        .where(
            or_(
                i.quantity_on_hand_total != qoh,
                i.available_to_promise_total != atp,
                i.accounting_quantity_total != acc,
            )
        )
        .order_by(i.facility_id, i.inventory_item_id)
    ).all()
    return [Mismatch(r[0], r[1], (r[2], r[3], r[4]), (r[5], r[6], r[7])) for r in rows]
