"""Reads of item issuances: what an order or a shipment took out of stock (ItemIssuance)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from stockledger.core.pagination import after_key
from stockledger.core.scope import facilities_in_scope
from stockledger.ledger.models import InventoryItem, ItemIssuance

IssuanceKey = tuple[str, str]  # facilityId, itemIssuanceId


@dataclass(frozen=True, slots=True)
class Issued:
    facility_id: str
    item_issuance_id: str
    order_id: str | None
    order_item_seq_id: str | None
    ship_group_seq_id: str | None
    shipment_id: str | None
    shipment_item_seq_id: str | None
    product_id: str
    inventory_item_id: str
    lot_id: str | None
    quantity: Decimal
    cancel_quantity: Decimal | None
    cogs: Decimal | None
    issued_datetime: datetime
    issued_by_user_login_id: str | None

    @property
    def key(self) -> IssuanceKey:
        return (self.facility_id, self.item_issuance_id)


def item_issuances(
    session: Session, order_id: str | None, shipment_id: str | None, after: IssuanceKey | None, limit: int
) -> list[Issued]:
    """The issuances in the caller's facilities, of an order and/or of a shipment when given, by
    facility and itemIssuanceId."""
    n, i = ItemIssuance, InventoryItem
    key = (n.facility_id, n.item_issuance_id)
    stmt = (
        select(*_columns())
        .join(i, and_(i.facility_id == n.facility_id, i.inventory_item_id == n.inventory_item_id))
        .order_by(*key)
        .limit(limit)
    )
    if order_id is not None:
        stmt = stmt.where(n.order_id == order_id)
    if shipment_id is not None:
        stmt = stmt.where(n.shipment_id == shipment_id)
    scope = facilities_in_scope(session)
    if scope is not None:
        stmt = stmt.where(n.facility_id.in_(sorted(scope)))
    if after is not None:
        stmt = stmt.where(after_key(key, after))
    return [Issued(*row) for row in session.execute(stmt)]


def _columns() -> tuple[Any, ...]:
    n, i = ItemIssuance, InventoryItem
    return (
        n.facility_id,
        n.item_issuance_id,
        n.order_id,
        n.order_item_seq_id,
        n.ship_group_seq_id,
        n.shipment_id,
        n.shipment_item_seq_id,
        i.product_id,
        n.inventory_item_id,
        i.lot_id,
        n.quantity,
        n.cancel_quantity,
        n.cogs,
        n.issued_datetime,
        n.issued_by_user_login_id,
    )
