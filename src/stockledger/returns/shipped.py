"""What an order shipped through this ledger and what has come back of it: the cap on a return."""

from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from stockledger.core.scope import facilities_in_scope
from stockledger.costing.rules import average_unit_cost
from stockledger.ledger.models import InventoryItem, ItemIssuance, ReturnHeader, ReturnItem
from stockledger.returns.rules import ShippedLine, check_returnable


def check_and_cost(
    session: Session, order_id: str, order_item_seq_id: str | None, product_id: str, quantity: Decimal
) -> Decimal | None:
    """Refuse a return of what the order never shipped or of more than it shipped less earlier
    returns (per order item, and per product over the whole order); the original COGS per unit.

    Shipped and returned quantities count every facility (a return may come back to a store
    other than the one that shipped); a scoped token's refusal shows only what is returnable."""
    scopes = [order_item_seq_id, None] if order_item_seq_id is not None else [None]
    lines = [shipped_line(session, order_id, seq, product_id) for seq in scopes]
    unscoped = facilities_in_scope(session) is None
    for seq, line in zip(scopes, lines, strict=True):
        check_returnable(order_id, seq, product_id, line, quantity, with_quantities=unscoped)
    return lines[0].unit_cost


def lock_issued(session: Session, order_id: str, product_ids: set[str]) -> None:
    """Every issuance row of the products to the order, locked in primary-key order before any
    other lock a return takes: concurrent returns of one order then queue here instead of one
    holding an order item's rows while it waits for the order's other rows (a deadlock)."""
    products = sorted(product_ids)
    for facility_id in _issuing_facilities(session, order_id, products):
        stmt = _issued(order_id, products).where(ItemIssuance.facility_id == facility_id)
        session.execute(stmt.with_only_columns(ItemIssuance.item_issuance_id)).all()


def shipped_line(
    session: Session, order_id: str, order_item_seq_id: str | None, product_id: str
) -> ShippedLine:
    """Issued (quantity, COGS) of the product to the order item (None: to any item of the order),
    in any facility, and the quantity returned of it so far, this return's earlier lines included.

    The issuance rows are locked, so concurrent returns of one order item queue here and the
    second sees what the first returned."""
    issued = _issued(order_id, [product_id]).with_only_columns(ItemIssuance.quantity, ItemIssuance.cogs)
    if order_item_seq_id is not None:
        issued = issued.where(ItemIssuance.order_item_seq_id == order_item_seq_id)
    rows = [
        row
        for facility_id in _issuing_facilities(session, order_id, [product_id])
        for row in session.execute(issued.where(ItemIssuance.facility_id == facility_id)).all()
    ]
    quantity = sum((q for q, _ in rows), Decimal(0))
    known = [c for _, c in rows if c is not None]
    cogs = sum(known, Decimal(0)) if known else None
    unit_cost = average_unit_cost([(quantity, cogs)]) if cogs is not None and quantity else None
    return ShippedLine(quantity, _returned(session, order_id, order_item_seq_id, product_id), unit_cost)


def _issuing_facilities(session: Session, order_id: str, product_ids: list[str]) -> list[str]:
    """The facilities that issued the products to the order, in order: their rows are locked one
    facility at a time (on Citus a FOR UPDATE must stay on one shard), always in this order."""
    ii, i = ItemIssuance, InventoryItem
    found = (
        select(ii.facility_id)
        .join(i, (i.facility_id == ii.facility_id) & (i.inventory_item_id == ii.inventory_item_id))
        .where(ii.order_id == order_id, i.product_id.in_(product_ids))
        .distinct()
    )
    return sorted(session.scalars(found))


def _issued(order_id: str, product_ids: list[str]) -> Select[tuple[ItemIssuance]]:
    """The issuance rows of the products to the order, FOR UPDATE in primary-key order."""
    ii, i = ItemIssuance, InventoryItem
    return (
        select(ii)
        .join(i, (i.facility_id == ii.facility_id) & (i.inventory_item_id == ii.inventory_item_id))
        .where(ii.order_id == order_id, i.product_id.in_(product_ids))
        .order_by(ii.facility_id, ii.item_issuance_id)
        .with_for_update(of=ii)
    )


def _returned(session: Session, order_id: str, order_item_seq_id: str | None, product_id: str) -> Decimal:
    r, h = ReturnItem, ReturnHeader
    returned = (
        select(func.coalesce(func.sum(r.return_quantity), 0))
        .join(h, (h.facility_id == r.facility_id) & (h.return_id == r.return_id))
        .where(h.order_id == order_id, r.product_id == product_id)
    )
    if order_item_seq_id is not None:
        returned = returned.where(r.order_item_seq_id == order_item_seq_id)
    return Decimal(session.scalar(returned) or 0)
