"""Reads the pages need beyond the API's: facility lists, stock pages with names, an item's levels.

They read the same ProductFacilityInventoryItem view and ledger rows as the API; nothing here
computes a total of its own.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sqlalchemy import ColumnElement, Select, Subquery, func, literal, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import InstrumentedAttribute, Session

from stockledger.auth.rules import Principal
from stockledger.core.fixed import ZERO
from stockledger.core.problems import client_data_error
from stockledger.ledger.models import (
    Facility,
    InventoryItem,
    InventoryItemDetail,
    OrderItemInventoryReservation,
    Product,
    ProductFacility,
    ReturnItem,
    VarianceReason,
)
from stockledger.ledger.views import (
    ACTIVE,
    NotPromisable,
    not_promisable_of,
    product_facility_inventory_item,
)

MAX_FACILITIES = 500
SortKey = Literal["product", "name", "qoh", "atp", "held", "reserved", "minimum", "computed"]


@dataclass(frozen=True, slots=True)
class StockRow:
    product_id: str
    product_name: str | None
    inventory_item_id: str | None
    quantity_on_hand_total: Decimal
    available_to_promise_total: Decimal
    reserved_quantity: Decimal
    minimum_stock: Decimal | None
    computed_inventory_count: Decimal
    not_promisable: NotPromisable  # on hand, not in ATP, by kind
    too_large: bool = False  # SQLite cannot add its totals up (core.sums): shown as such, not summed

    @property
    def below_minimum(self) -> bool:
        return self.minimum_stock is not None and self.computed_inventory_count < 0


def facilities_for(session: Session, principal: Principal) -> list[Facility]:
    """The facilities the token may touch, by id."""
    stmt = select(Facility).order_by(Facility.facility_id).limit(MAX_FACILITIES)
    if principal.facilities is not None:
        stmt = stmt.where(Facility.facility_id.in_(sorted(principal.facilities)))
    return list(session.scalars(stmt))


def stock_page(
    session: Session, facility_id: str, search: str | None, after: str | None, limit: int
) -> list[StockRow]:
    """Up to `limit` view rows after product `after` (keyset), with names and reservations."""
    return stock_rows(session, facility_id, _page_keys(session, facility_id, search, after, limit))


def stock_rows(session: Session, facility_id: str, product_ids: list[str]) -> list[StockRow]:
    """The view rows of these products, with names and reservations, in the order given. On
    SQLite, a product whose totals it cannot add (rows written before such writes were refused)
    is a row marked too_large, and the others are listed as ever: one product does not take the
    whole page down."""
    try:
        return _stock_rows(session, facility_id, product_ids)
    except OperationalError as exc:
        if client_data_error(exc) is None:
            raise
    found: list[StockRow] = []
    for product_id in product_ids:
        try:
            found.extend(_stock_rows(session, facility_id, [product_id]))
        except OperationalError as exc:
            if client_data_error(exc) is None:
                raise
            name = session.scalar(select(Product.product_name).where(Product.product_id == product_id))
            found.append(_too_large(product_id, name))
    return found


def _too_large(product_id: str, name: str | None) -> StockRow:
    held = NotPromisable(ZERO, ZERO, ZERO, ZERO, ZERO)
    return StockRow(product_id, name, None, ZERO, ZERO, ZERO, None, ZERO, held, too_large=True)


def _stock_rows(session: Session, facility_id: str, product_ids: list[str]) -> list[StockRow]:
    v = product_facility_inventory_item
    # The view aggregates; naming its keys keeps a page's cost to the page (a range would sum all after it).
    rows = session.execute(
        select(v, Product.product_name)
        .join(Product, Product.product_id == v.c.product_id)
        .where(v.c.facility_id == facility_id, v.c.product_id.in_(product_ids))
    ).all()
    order = {product_id: n for n, product_id in enumerate(product_ids)}
    rows = sorted(rows, key=lambda r: order[r.product_id])
    reserved = _reserved_by_product(session, facility_id, product_ids)
    return [
        StockRow(
            product_id=r.product_id,
            product_name=r.product_name,
            inventory_item_id=r.inventory_item_id,
            quantity_on_hand_total=r.quantity_on_hand_total,
            available_to_promise_total=r.available_to_promise_total,
            reserved_quantity=reserved.get(r.product_id, ZERO),
            minimum_stock=r.minimum_stock,
            computed_inventory_count=r.computed_inventory_count,
            not_promisable=not_promisable_of(r._mapping),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class StockQuery:
    """What the stock page lists: a search, a sort column and direction, only the low stock."""

    search: str | None = None
    sort: SortKey = "product"
    descending: bool = False
    below_minimum: bool = False

    @property
    def keyset(self) -> bool:
        """The default listing (product id order, every row): paged by keyset, cheap at any depth."""
        return self.sort == "product" and not self.descending and not self.below_minimum


def stock_sorted(session: Session, facility_id: str, query: StockQuery, offset: int, limit: int) -> list[str]:
    """Product ids of one page in the order asked (an OFFSET page: sorting by a total has no keyset)."""
    v = product_facility_inventory_item
    reserved = _reserved_totals(facility_id)
    held: ColumnElement[object] = sum((v.c[c] for c in _HELD_COLUMNS), start=literal(0))
    columns: dict[str, ColumnElement[object]] = {
        "product": v.c.product_id,
        "name": func.coalesce(Product.product_name, ""),
        "qoh": v.c.quantity_on_hand_total,
        "atp": v.c.available_to_promise_total,
        "held": held,
        "reserved": func.coalesce(reserved.c.reserved, 0),
        "minimum": func.coalesce(v.c.minimum_stock, -1),
        "computed": v.c.computed_inventory_count,
    }
    key = columns[query.sort]
    stmt: Select[tuple[str]] = (
        select(v.c.product_id)
        .join(Product, Product.product_id == v.c.product_id)
        .outerjoin(reserved, reserved.c.product_id == v.c.product_id)
        .where(v.c.facility_id == facility_id)
        .order_by(key.desc() if query.descending else key.asc(), v.c.product_id)
        .offset(offset)
        .limit(limit)
    )
    if query.below_minimum:
        stmt = stmt.where(v.c.minimum_stock.is_not(None), v.c.computed_inventory_count < 0)
    if query.search:
        stmt = stmt.where(_matches(v.c.product_id, query.search))
    try:
        return list(session.scalars(stmt))
    except OperationalError as exc:  # SQLite cannot add one product's totals: list by product id
        if client_data_error(exc) is None:
            raise
    pf = ProductFacility  # the ids alone, no sum: each row then shows what can be added
    ids = select(pf.product_id).where(pf.facility_id == facility_id).order_by(pf.product_id)
    if query.search:
        ids = ids.join(Product, Product.product_id == pf.product_id).where(
            _matches(pf.product_id, query.search)
        )
    return list(session.scalars(ids.offset(offset).limit(limit)))


_HELD_COLUMNS = (
    "on_hold_quantity",
    "returned_quantity",
    "defective_quantity",
    "expired_quantity",
    "other_not_promisable_quantity",
)


def _reserved_totals(facility_id: str) -> Subquery:
    r = OrderItemInventoryReservation
    return (
        select(r.product_id, func.sum(r.quantity).label("reserved"))
        .where(r.facility_id == facility_id, r.status_id == ACTIVE)
        .group_by(r.product_id)
        .subquery("reserved")
    )


def _matches(product_id: ColumnElement[str] | InstrumentedAttribute[str], search: str) -> ColumnElement[bool]:
    term = search.lower()
    return or_(
        func.lower(product_id).startswith(term, autoescape=True),
        func.lower(Product.product_name).contains(term, autoescape=True),
    )


def _page_keys(
    session: Session, facility_id: str, search: str | None, after: str | None, limit: int
) -> list[str]:
    """The page's product ids: an index range scan of ProductFacility from the cursor, not OFFSET."""
    pf = ProductFacility
    stmt = select(pf.product_id).where(pf.facility_id == facility_id).order_by(pf.product_id).limit(limit)
    if after is not None:
        stmt = stmt.where(pf.product_id > after)
    if search:
        stmt = stmt.join(Product, Product.product_id == pf.product_id).where(_matches(pf.product_id, search))
    return list(session.scalars(stmt))


def _reserved_by_product(session: Session, facility_id: str, product_ids: list[str]) -> dict[str, Decimal]:
    if not product_ids:
        return {}
    r = OrderItemInventoryReservation
    rows = session.execute(
        select(r.product_id, func.sum(r.quantity))
        .where(r.facility_id == facility_id, r.status_id == ACTIVE, r.product_id.in_(product_ids))
        .group_by(r.product_id)
    )
    return {row[0]: row[1] for row in rows}


def items_of(session: Session, facility_id: str, product_id: str) -> list[InventoryItem]:
    """A product's items in a facility, FEFO order (earliest expiry, then oldest receipt)."""
    i = InventoryItem
    return list(
        session.scalars(
            select(i)
            .where(i.facility_id == facility_id, i.product_id == product_id)
            .order_by(i.expire_date.is_(None), i.expire_date, i.datetime_received, i.inventory_item_id)
        )
    )


def active_reservations(
    session: Session, facility_id: str, product_id: str, limit: int = 50
) -> list[OrderItemInventoryReservation]:
    r = OrderItemInventoryReservation
    return list(
        session.scalars(
            select(r)
            .where(r.facility_id == facility_id, r.product_id == product_id, r.status_id == ACTIVE)
            .order_by(r.reserved_datetime.desc(), r.order_id, r.order_item_seq_id)
            .limit(limit)
        )
    )


def reserved_products(session: Session, facility_id: str, order_id: str, seq_id: str) -> set[str]:
    """The products an order item's active reservations in a facility are of (one, or none)."""
    r = OrderItemInventoryReservation
    found = select(r.product_id).where(
        r.facility_id == facility_id,
        r.order_id == order_id,
        r.order_item_seq_id == seq_id,
        r.status_id == ACTIVE,
    )
    return set(session.scalars(found))


def line_held(session: Session, facility_id: str, order_id: str, seq_id: str) -> tuple[Decimal, Decimal]:
    """What an order line's active reservations here hold in total, and how much of it is backordered."""
    r = OrderItemInventoryReservation
    rows = session.scalars(
        select(r).where(
            r.facility_id == facility_id,
            r.order_id == order_id,
            r.order_item_seq_id == seq_id,
            r.status_id == ACTIVE,
        )
    ).all()
    return sum((x.quantity for x in rows), ZERO), sum((x.quantity_not_available for x in rows), ZERO)


def variance_reasons(session: Session) -> list[VarianceReason]:
    return list(session.scalars(select(VarianceReason).order_by(VarianceReason.variance_reason_id)))


def product_name(session: Session, product_id: str) -> str | None:
    product = session.get(Product, product_id)
    return product.product_name if product else None


@dataclass(frozen=True, slots=True)
class BalancedRow:
    """A ledger row with the item's QOH and ATP right after it (its running balance)."""

    detail: InventoryItemDetail
    qoh_after: Decimal
    atp_after: Decimal


def with_balances(
    session: Session, item: InventoryItem, newest_first: list[InventoryItemDetail]
) -> list[BalancedRow]:
    """Each row's balance: the current totals less the diffs of every row written after it (exact:
    totals == Σ diffs). The rows written after this page's first are summed in one statement."""
    if not newest_first:
        return []
    d = InventoryItemDetail
    newer = session.execute(
        select(
            func.coalesce(func.sum(d.quantity_on_hand_diff), 0),
            func.coalesce(func.sum(d.available_to_promise_diff), 0),
        ).where(
            d.facility_id == item.facility_id,
            d.inventory_item_id == item.inventory_item_id,
            d.seq_num > newest_first[0].seq_num,
        )
    ).one()
    qoh = item.quantity_on_hand_total - Decimal(newer[0])
    atp = item.available_to_promise_total - Decimal(newer[1])
    out = []
    for row in newest_first:
        out.append(BalancedRow(row, qoh, atp))
        qoh -= row.quantity_on_hand_diff
        atp -= row.available_to_promise_diff
    return out


def emptied_returns(session: Session, facility_id: str, items: Sequence[InventoryItem]) -> set[str]:
    """The returned (INV_RETURNED) items that hold nothing and that no return line waits on."""
    empty = {
        i.inventory_item_id for i in items if i.status_id == "INV_RETURNED" and i.quantity_on_hand_total <= 0
    }
    if not empty:
        return set()
    r = ReturnItem
    waiting = session.scalars(
        select(r.inventory_item_id).where(
            r.facility_id == facility_id,
            r.inventory_item_id.in_(sorted(empty)),
            r.status_id == "RETURN_RECEIVED",
        )
    )
    return empty - set(waiting)
