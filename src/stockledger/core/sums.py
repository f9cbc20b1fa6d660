"""Whether the database can add up the totals of a product in a facility.

Totals are integer millionths. PostgreSQL sums them as NUMERIC, exactly, whatever their size;
SQLite's SUM() of 64-bit integers fails past 9.2 * 10^18 millionths (9.2 * 10^12 units). A bulk
write on SQLite (an import) therefore adds up what it touched before it commits, so that it is
refused (422 quantity_overflow) instead of leaving totals that every later read fails to add.
"""

from collections.abc import Collection, Iterator, Sequence
from typing import Any

from sqlalchemy import Select, column, func, select, table
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from stockledger.core.errors import SQLITE_OVERFLOW, QuantityOverflow

ITEM = table(
    "inventory_item",
    *(column(name) for name in ("facility_id", "product_id", "inventory_item_id")),
    *(column(name) for name in ("quantity_on_hand_total", "available_to_promise_total")),
    column("accounting_quantity_total"),
)
RESERVATION = table(
    "order_item_inventory_reservation",
    *(column(name) for name in ("facility_id", "product_id", "quantity", "status_id")),
)
RES_ACTIVE = "RES_ACTIVE"  # ledger.reservation_rows: only active reservations are added up by reads
CHUNK = 500  # ids per statement
TOTALS = ("quantity_on_hand_total", "available_to_promise_total", "accounting_quantity_total")


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


def require_summable_items(session: Session, facility_id: str, item_ids: Collection[str]) -> None:
    """After a write on SQLite: raise QuantityOverflow when a product of these items has a total
    SQLite no longer holds as an integer (its arithmetic past 64 bits turns it into a float, with
    no error) or sums past 64 bits, over its items or its active reservations; the caller's
    transaction then rolls back, so the write that would leave such totals is refused. The reads
    (availability, the stock pages) add up exactly these. PostgreSQL refuses a total past its
    BIGINT itself (22003, core.problems) and adds up sums as NUMERIC: nothing to check there."""
    if not item_ids or session.get_bind().dialect.name != "sqlite":
        return
    products: set[str] = set()
    for chunk in _chunks(sorted(item_ids)):
        products.update(
            session.scalars(
                select(ITEM.c.product_id)
                .distinct()
                .where(ITEM.c.facility_id == facility_id, ITEM.c.inventory_item_id.in_(chunk))
            )
        )
    totals = [ITEM.c[name] for name in TOTALS]
    for chunk in _chunks(sorted(products)):
        items = (
            select(*(func.sum(t) for t in totals), *(func.sum(func.typeof(t) != "integer") for t in totals))
            .where(ITEM.c.facility_id == facility_id, ITEM.c.product_id.in_(chunk))
            .group_by(ITEM.c.product_id)
        )
        quantity = RESERVATION.c.quantity
        reserved = (
            select(func.sum(quantity), func.sum(func.typeof(quantity) != "integer"))
            .where(
                RESERVATION.c.facility_id == facility_id,
                RESERVATION.c.product_id.in_(chunk),
                RESERVATION.c.status_id == RES_ACTIVE,
            )
            .group_by(RESERVATION.c.product_id)
        )
        _require_integers(session, items)
        _require_integers(session, reserved)


def _require_integers(session: Session, statement: Select[Any]) -> None:
    """Each row: sums, then as many counts of values that are not integers."""
    try:
        rows = session.execute(statement).all()
    except OperationalError as exc:
        if str(exc.orig) != "integer overflow":
            raise
        raise QuantityOverflow(SQLITE_OVERFLOW) from exc
    half = len(rows[0]) // 2 if rows else 0
    if any(any(row[half:]) for row in rows):  # a total stored as a float: past 64 bits
        raise QuantityOverflow(SQLITE_OVERFLOW)


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
