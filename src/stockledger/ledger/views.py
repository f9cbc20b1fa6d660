"""Read models: the ProductFacilityInventoryItem view, availability, and as-of replay."""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    FromClause,
    Select,
    String,
    Table,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from stockledger.core.db import Database
from stockledger.core.errors import NotFound
from stockledger.core.fixed import ZERO, Fixed6
from stockledger.core.model_base import Base
from stockledger.core.sqlclock import utc_now
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
    Column("on_hold_quantity", Fixed6()),
    Column("returned_quantity", Fixed6()),
    Column("defective_quantity", Fixed6()),
    Column("expired_quantity", Fixed6()),
    Column("other_not_promisable_quantity", Fixed6()),
    info={"is_view": True},
)


@dataclass(frozen=True, slots=True)
class NotPromisable:
    """Quantity on hand of the items a new reservation cannot take, by kind (SPEC §11)."""

    on_hold: Decimal = ZERO
    returned: Decimal = ZERO
    defective: Decimal = ZERO
    expired: Decimal = ZERO
    other: Decimal = ZERO


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
    not_promisable: NotPromisable = NotPromisable()


def availability(
    source: Session | Database,
    facility_id: str,
    product_id: str,
    as_of: datetime | None = None,
    allow_expired: bool = False,
) -> Availability:
    """QOH, promisable ATP and reservations of a product in a facility, summed over its items.

    ATP counts only the items a new reservation can take (INV_AVAILABLE, not expired at now or
    at `as_of`); the quantity on hand of the others is reported by kind (`NotPromisable`).
    `allow_expired`: what a reservation with allowExpired may take, expired lots counted as
    promisable (their ATP in the total, not reported as expired).

    One statement (AVAILABILITY, or AVAILABILITY_AS_OF for a replay), built once with Core: no
    ORM loads. Given the Database (the HTTP route), the current figures are read on a pooled
    driver connection (Database.fetch_one: one round trip); given a Session, in its transaction.
    404 when the facility or the product is unknown.
    """
    params: dict[str, object] = {"facility_id": facility_id, "product_id": product_id}
    if as_of is not None:
        params["as_of"] = as_of
    statement = _STATEMENTS[as_of is not None, allow_expired]
    if isinstance(source, Session):
        row: tuple[Any, ...] | None = tuple(source.execute(statement, params).one())
    elif as_of is None and not allow_expired:
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
    facility_known, product_known, minimum, qoh, atp, reserved, *kinds = row
    if not facility_known:
        raise NotFound(f"Facility {facility_id} not found", facilityId=facility_id)
    if not product_known:
        raise NotFound(f"Product {product_id} not found", productId=product_id)
    minimum = minimum or ZERO
    held = NotPromisable(*kinds)
    return Availability(facility_id, product_id, qoh, atp, reserved, minimum, atp - minimum, as_of, held)


# Constants written into the SQL, so the only parameters are the ids (and :as_of).
ZERO_SQL: ColumnElement[Any] = literal_column("0")
ACTIVE_SQL: ColumnElement[Any] = literal_column(f"'{ACTIVE}'")
INV_AVAILABLE, INV_ON_HOLD = "INV_AVAILABLE", "INV_ON_HOLD"
INV_RETURNED, INV_DEFECTIVE = "INV_RETURNED", "INV_DEFECTIVE"
_KINDS = (INV_AVAILABLE, INV_ON_HOLD, INV_RETURNED, INV_DEFECTIVE)
NOT_PROMISABLE_KINDS = ("on_hold", "returned", "defective", "expired", "other")


def _status(status_id: str) -> ColumnElement[Any]:
    return literal_column(f"'{status_id}'")


def _summed(condition: ColumnElement[bool], value: ColumnElement[Any], name: str) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, value), else_=ZERO_SQL)), ZERO_SQL).label(name)


def _promisable_sums(
    i: FromClause,
    qoh: ColumnElement[Any],
    atp: ColumnElement[Any],
    now: ColumnElement[Any],
    allow_expired: bool = False,
) -> list[ColumnElement[Any]]:
    """Σ QOH, Σ ATP of the promisable items, Σ QOH of the others by kind (NOT_PROMISABLE_KINDS).

    `qoh` and `atp` are the item totals (now) or detail diffs (a replay); `now` is the instant
    an expiry is judged against (`allow_expired`: none is). One pass over the product's rows:
    set-based, no item loop."""
    available = i.c.status_id == _status(INV_AVAILABLE)
    live = true() if allow_expired else or_(i.c.expire_date.is_(None), i.c.expire_date > now)
    return [
        func.coalesce(func.sum(qoh), ZERO_SQL).label("qoh"),
        _summed(available & live, atp, "atp"),
        _summed(i.c.status_id == _status(INV_ON_HOLD), qoh, "on_hold"),
        _summed(i.c.status_id == _status(INV_RETURNED), qoh, "returned"),
        _summed(i.c.status_id == _status(INV_DEFECTIVE), qoh, "defective"),
        _summed(available & not_(live), qoh, "expired"),
        _summed(i.c.status_id.not_in([_status(k) for k in _KINDS]), qoh, "other"),
    ]


def _availability_statement(replay: bool, allow_expired: bool = False) -> Select[Any]:
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
                *_promisable_sums(
                    i, d.c.quantity_on_hand_diff, d.c.available_to_promise_diff, as_of, allow_expired
                )
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
        now = utc_now()
        totals = select(
            *_promisable_sums(
                i, i.c.quantity_on_hand_total, i.c.available_to_promise_total, now, allow_expired
            )
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
        *(sums.c[kind] for kind in NOT_PROMISABLE_KINDS),
    ).select_from(sums.join(reserved, true()))


AVAILABILITY = _availability_statement(replay=False)
AVAILABILITY_AS_OF = _availability_statement(replay=True)
_STATEMENTS = {
    (False, False): AVAILABILITY,
    (True, False): AVAILABILITY_AS_OF,
    (False, True): _availability_statement(replay=False, allow_expired=True),
    (True, True): _availability_statement(replay=True, allow_expired=True),
}


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
    return [_with_not_promisable(dict(row._mapping)) for row in session.execute(stmt)]


VIEW_KIND_COLUMNS = {
    "on_hold": "on_hold_quantity",
    "returned": "returned_quantity",
    "defective": "defective_quantity",
    "expired": "expired_quantity",
    "other": "other_not_promisable_quantity",
}


def not_promisable_of(row: Mapping[Any, Any]) -> NotPromisable:
    """The by-kind columns of a view row, gathered."""
    return NotPromisable(**{kind: row[column] or ZERO for kind, column in VIEW_KIND_COLUMNS.items()})


def _with_not_promisable(row: dict[str, object]) -> dict[str, object]:
    """A view row with its by-kind columns gathered as `not_promisable`."""
    row["not_promisable"] = not_promisable_of(row)
    for column in VIEW_KIND_COLUMNS.values():
        del row[column]
    return row
