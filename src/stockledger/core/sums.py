"""Whether the database can add up the totals of a product in a facility.

Totals are integer millionths. PostgreSQL sums them as NUMERIC, exactly, whatever their size;
SQLite's SUM() of 64-bit integers fails past 9.2 * 10^18 millionths (9.2 * 10^12 units). A bulk
write on SQLite (an import) therefore adds up what it touched before it commits, so that it is
refused (422 quantity_overflow) instead of leaving totals that every later read fails to add.
"""

from collections.abc import Collection

from sqlalchemy import column, func, select, table
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from stockledger.core.errors import SQLITE_OVERFLOW, QuantityOverflow

ITEM = table(
    "inventory_item",
    *(column(name) for name in ("facility_id", "product_id", "quantity_on_hand_total")),
    *(column(name) for name in ("available_to_promise_total", "accounting_quantity_total")),
)


def require_summable(session: Session, facility_ids: Collection[str]) -> None:
    """Raise QuantityOverflow when SQLite cannot add up a product's totals in these facilities."""
    if not facility_ids or session.get_bind().dialect.name != "sqlite":
        return
    stmt = (
        select(
            func.sum(ITEM.c.quantity_on_hand_total),
            func.sum(ITEM.c.available_to_promise_total),
            func.sum(ITEM.c.accounting_quantity_total),
        )
        .where(ITEM.c.facility_id.in_(sorted(facility_ids)))
        .group_by(ITEM.c.facility_id, ITEM.c.product_id)
    )
    try:
        session.execute(stmt).all()
    except OperationalError as exc:
        if str(exc.orig) != "integer overflow":
            raise
        raise QuantityOverflow(SQLITE_OVERFLOW) from exc
