"""Read models: the ProductFacilityInventoryItem view, availability, and as-of replay."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Select,
    String,
    Table,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from stockledger.core.db import Database
from stockledger.core.errors import NotFound
from stockledger.core.fixed import ZERO, Fixed6
from stockledger.core.model_base import Base
from stockledger.ledger.models import (
    Facility,
    InventoryItem,
    InventoryItemDetail,
    OrderItemInventoryReservation,
    Product,
    ProductFacility,
)

ACTIVE = "RES_ACTIVE"

# A database view (created by the initial migration), declared here for reads only.
product_facility_inventory_item = Table(
    "product_facility_inventory_item",
    Base.metadata,
    Column("facility_id", String(60), primary_key=True),
    Column("product_id", String(60), primary_key=True),
    Column("inventory_item_id", String(60)),
    Column("minimum_stock", Fixed6()),
    Column("quantity_on_hand_total", Fixed6()),
    Column("available_to_promise_total", Fixed6()),
    Column("computed_inventory_count", Fixed6()),
    info={"is_view": True},
)


@dataclass(frozen=True, slots=True)
class Availability:
    facility_id: str
    product_id: str
    quantity_on_hand_total: Decimal
    available_to_promise_total: Decimal
    reserved_quantity: Decimal
    minimum_stock: Decimal
    computed_inventory_count: Decimal
    as_of: datetime | None = None


def availability(
    source: Session | Database, facility_id: str, product_id: str, as_of: datetime | None = None
) -> Availability:
    """QOH, ATP and reservations of a product in a facility, summed over its items.

    One statement (AVAILABILITY, or AVAILABILITY_AS_OF for a replay), built once with Core: no
    ORM loads. Given the Database (the HTTP route), the current figures are read on a pooled
    driver connection (Database.fetch_one: one round trip); given a Session, in its transaction.
    404 when the facility or the product is unknown.
    """
    params: dict[str, object] = {"facility_id": facility_id, "product_id": product_id}
    if as_of is not None:
        params["as_of"] = as_of
    statement = AVAILABILITY if as_of is None else AVAILABILITY_AS_OF
    if isinstance(source, Session):
        row: tuple[Any, ...] | None = tuple(source.execute(statement, params).one())
    elif as_of is None:
        row = source.fetch_one(statement, params)
    else:  # a replay: not a hot path, and its timestamp needs the column's bind processing
        with source.reading() as session:
            row = tuple(session.execute(statement, params).one())
    assert row is not None  # aggregates: always one row
    return _availability_of(facility_id, product_id, row, as_of)


async def availability_now(db: Database, facility_id: str, product_id: str) -> Availability:
    """`availability` on the event loop (Database.fetch_one_async; the async pool must be open)."""
    params = {"facility_id": facility_id, "product_id": product_id}
    row = await db.fetch_one_async(AVAILABILITY, params)
    assert row is not None  # aggregates: always one row
    return _availability_of(facility_id, product_id, row, None)


def _availability_of(
    facility_id: str, product_id: str, row: tuple[Any, ...], as_of: datetime | None
) -> Availability:
    facility_known, product_known, minimum, qoh, atp, reserved = row
    if not facility_known:
        raise NotFound(f"Facility {facility_id} not found", facilityId=facility_id)
    if not product_known:
        raise NotFound(f"Product {product_id} not found", productId=product_id)
    minimum = minimum or ZERO
    return Availability(facility_id, product_id, qoh, atp, reserved, minimum, atp - minimum, as_of)


# Constants written into the SQL, so the only parameters are the ids (and :as_of).
ZERO_SQL: ColumnElement[Any] = literal_column("0")
ACTIVE_SQL: ColumnElement[Any] = literal_column(f"'{ACTIVE}'")


def _availability_statement(replay: bool) -> Select[Any]:
    """Existence of facility and product, minimum stock, Σ item totals, Σ active reservations.

    With `replay`, the totals are Σ of the detail rows effective at or before :as_of and the
    reservations those active at that instant.
    """
    fac, prod = bindparam("facility_id", type_=String), bindparam("product_id", type_=String)
    f, p, pf = Facility.__table__, Product.__table__, ProductFacility.__table__
    i, d, r = InventoryItem.__table__, InventoryItemDetail.__table__, OrderItemInventoryReservation.__table__
    mine = (i.c.facility_id == fac) & (i.c.product_id == prod)
    if replay:
        as_of = bindparam("as_of", type_=d.c.effective_date.type)
        totals = (
            select(
                func.coalesce(func.sum(d.c.quantity_on_hand_diff), ZERO_SQL).label("qoh"),
                func.coalesce(func.sum(d.c.available_to_promise_diff), ZERO_SQL).label("atp"),
            )
            .select_from(
                i.join(
                    d, (i.c.facility_id == d.c.facility_id) & (i.c.inventory_item_id == d.c.inventory_item_id)
                )
            )
            .where(mine, d.c.effective_date <= as_of)
        )
        active: ColumnElement[bool] = (r.c.reserved_datetime <= as_of) & or_(
            r.c.status_id == ACTIVE_SQL, r.c.status_datetime > as_of
        )
    else:
        totals = select(
            func.coalesce(func.sum(i.c.quantity_on_hand_total), ZERO_SQL).label("qoh"),
            func.coalesce(func.sum(i.c.available_to_promise_total), ZERO_SQL).label("atp"),
        ).where(mine)
        active = r.c.status_id == ACTIVE_SQL
    sums = totals.subquery("totals")
    reserved = (
        select(func.coalesce(func.sum(r.c.quantity), ZERO_SQL).label("reserved"))
        .where(r.c.facility_id == fac, r.c.product_id == prod, active)
        .subquery("reserved")
    )
    return select(
        exists().where(f.c.facility_id == fac).label("facility_known"),
        exists().where(p.c.product_id == prod).label("product_known"),
        select(pf.c.minimum_stock)
        .where(pf.c.facility_id == fac, pf.c.product_id == prod)
        .scalar_subquery()
        .label("minimum_stock"),
        sums.c.qoh.label("quantity_on_hand_total"),
        sums.c.atp.label("available_to_promise_total"),
        reserved.c.reserved,
    ).select_from(sums.join(reserved, true()))


AVAILABILITY = _availability_statement(replay=False)
AVAILABILITY_AS_OF = _availability_statement(replay=True)


def product_facility_rows(
    session: Session,
    facility_id: str | None,
    product_id: str | None,
    after: tuple[str, str] | None,
    limit: int,
    within: Collection[str] | None = None,
) -> list[dict[str, object]]:
    """Rows of the ProductFacilityInventoryItem view, keyed (facilityId, productId); `within`: only
    these facilities (a scoped caller's), None for all."""
    v = product_facility_inventory_item
    stmt = select(v).order_by(v.c.facility_id, v.c.product_id).limit(limit)
    if facility_id:
        stmt = stmt.where(v.c.facility_id == facility_id)
    if within is not None:
        stmt = stmt.where(v.c.facility_id.in_(sorted(within)))
    if product_id:
        stmt = stmt.where(v.c.product_id == product_id)
    if after:
        stmt = stmt.where(
            or_(v.c.facility_id > after[0], (v.c.facility_id == after[0]) & (v.c.product_id > after[1]))
        )
    return [dict(row._mapping) for row in session.execute(stmt)]
