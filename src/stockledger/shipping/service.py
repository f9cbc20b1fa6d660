"""Sales shipments: create, read, change status/carrier/method, reset (seed 002). No stock moves."""

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import require_facility, require_product
from stockledger.core.dialects import upsert
from stockledger.core.errors import Conflict, NotFound
from stockledger.core.ids import new_id
from stockledger.core.scope import check_owner
from stockledger.ledger.models import OrderItemShipGroup, Shipment, ShipmentItem, ShipmentRouteSegment
from stockledger.orders.items import claim_order_items, products_of
from stockledger.shipping.rules import INPUT, OPEN_STATUSES, require_open
from stockledger.shipping.schemas import ShipGroupIn, ShipmentCreate

SHIPMENT = cast(Table, Shipment.__table__)
SEGMENT = cast(Table, ShipmentRouteSegment.__table__)
SHIP_GROUP = cast(Table, OrderItemShipGroup.__table__)


@dataclass(frozen=True, slots=True)
class ShipmentView:
    """A shipment with its items and route segments, as the API returns it."""

    shipment_id: str
    shipment_type_id: str
    status_id: str
    origin_facility_id: str
    primary_order_id: str | None
    primary_ship_group_seq_id: str | None
    carrier_party_id: str | None
    shipment_method_type_id: str | None
    items: list[ShipmentItem]
    route_segments: list[ShipmentRouteSegment]


def create_shipment(session: Session, new: ShipmentCreate) -> ShipmentView:
    """A sales shipment in SHIPMENT_INPUT; its ship group becomes the order's OrderItemShipGroup."""
    facility_id = new.origin_facility_id
    require_facility(session, facility_id)
    for product_id in sorted({i.product_id for i in new.items}):
        require_product(session, product_id)
    shipment_id = new.shipment_id or new_id("SH")
    existing = find_shipment(session, shipment_id)
    if existing is not None:
        check_owner(session, existing.facility_id, f"shipment {shipment_id}", shipmentId=shipment_id)
        raise Conflict(f"Shipment {shipment_id} already exists", shipmentId=shipment_id)
    order_items = ((i.order_id or new.primary_order_id, i.order_item_seq_id, i.product_id) for i in new.items)
    claim_order_items(session, facility_id, products_of(order_items))
    group = _save_ship_group(session, facility_id, new.primary_order_id, new.ship_group)
    carrier = group.carrier_party_id if group else None
    method = group.shipment_method_type_id if group else None
    session.add(
        Shipment(
            facility_id=facility_id,
            shipment_id=shipment_id,
            status_id=INPUT,
            primary_order_id=new.primary_order_id,
            primary_ship_group_seq_id=group.ship_group_seq_id if group else None,
            carrier_party_id=carrier,
            shipment_method_type_id=method,
        )
    )
    session.flush()
    session.add_all(
        ShipmentItem(
            facility_id=facility_id,
            shipment_id=shipment_id,
            shipment_item_seq_id=i.shipment_item_seq_id,
            product_id=i.product_id,
            quantity=i.quantity,
            order_id=i.order_id or new.primary_order_id,
            order_item_seq_id=i.order_item_seq_id,
        )
        for i in new.items
    )
    session.add_all(
        ShipmentRouteSegment(
            facility_id=facility_id,
            shipment_id=shipment_id,
            shipment_route_segment_id=s.shipment_route_segment_id,
            carrier_party_id=s.carrier_party_id or carrier,
            shipment_method_type_id=s.shipment_method_type_id or method,
        )
        for s in new.route_segments
    )
    session.flush()
    return get_shipment(session, shipment_id)


def get_shipment(session: Session, shipment_id: str) -> ShipmentView:
    """The shipment with its items and route segments."""
    shipment = require_shipment(session, shipment_id)
    key = (ShipmentItem.facility_id == shipment.facility_id, ShipmentItem.shipment_id == shipment_id)
    fresh = {"populate_existing": True}  # segments may have just been updated in SQL
    items = session.scalars(
        select(ShipmentItem).where(*key).order_by(ShipmentItem.shipment_item_seq_id), execution_options=fresh
    )
    s = ShipmentRouteSegment
    segments = session.scalars(
        select(s)
        .where(s.facility_id == shipment.facility_id, s.shipment_id == shipment_id)
        .order_by(s.shipment_route_segment_id),
        execution_options=fresh,
    )
    return ShipmentView(
        shipment_id=shipment.shipment_id,
        shipment_type_id=shipment.shipment_type_id,
        status_id=shipment.status_id,
        origin_facility_id=shipment.facility_id,
        primary_order_id=shipment.primary_order_id,
        primary_ship_group_seq_id=shipment.primary_ship_group_seq_id,
        carrier_party_id=shipment.carrier_party_id,
        shipment_method_type_id=shipment.shipment_method_type_id,
        items=list(items),
        route_segments=list(segments),
    )


def patch_shipment(
    session: Session,
    shipment_id: str,
    status_id: str | None = None,
    carrier_party_id: str | None = None,
    shipment_method_type_id: str | None = None,
) -> ShipmentView:
    """Change status (approved, packed, cancelled) and/or carrier and method, route segments too."""
    carrier = {"carrier_party_id": carrier_party_id} if carrier_party_id else {}
    method = {"shipment_method_type_id": shipment_method_type_id} if shipment_method_type_id else {}
    status = {"status_id": status_id} if status_id else {}
    shipment = update_open_shipment(session, shipment_id, "changed", **status, **carrier, **method)
    if carrier or method:
        _update_segments(session, shipment, **carrier, **method)
    return get_shipment(session, shipment_id)


def reset_shipment(session: Session, shipment_id: str) -> ShipmentView:
    """Seed 002 resetShipment: back to SHIPMENT_INPUT with the ship group's carrier and method,
    on the shipment and on every route segment. Inventory is not touched."""
    shipment = require_shipment(session, shipment_id)
    require_open(shipment_id, shipment.status_id, "reset")
    group = _ship_group_of(session, shipment)
    values = {
        "carrier_party_id": group.carrier_party_id,
        "shipment_method_type_id": group.shipment_method_type_id,
    }
    update_open_shipment(session, shipment_id, "reset", status_id=INPUT, **values)
    _update_segments(session, shipment, **values)
    return get_shipment(session, shipment_id)


def find_shipment(session: Session, shipment_id: str) -> Shipment | None:
    return session.scalars(
        select(Shipment).where(Shipment.shipment_id == shipment_id).order_by(Shipment.facility_id).limit(1)
    ).first()


def require_shipment(session: Session, shipment_id: str) -> Shipment:
    shipment = find_shipment(session, shipment_id)
    if shipment is None:
        raise NotFound(f"Shipment {shipment_id} not found", shipmentId=shipment_id)
    check_owner(session, shipment.facility_id, f"shipment {shipment_id}", shipmentId=shipment_id)
    return shipment


def check_shipment_of(session: Session, shipment_id: str | None, facility_id: str) -> None:
    """A stock change linked to a shipment links one of its own facility, or one this ledger does
    not hold (a purchase shipment known to another system). Another facility's shipment: a 403
    that names nothing for a token that may not touch it, else 409 `conflict` (the id is valid;
    it is the shipment's facility that does not fit)."""
    shipment = find_shipment(session, shipment_id) if shipment_id is not None else None
    if shipment is None or shipment.facility_id == facility_id:
        return
    check_owner(session, shipment.facility_id, f"shipment {shipment_id}", shipmentId=shipment.shipment_id)
    raise Conflict(
        f"Shipment {shipment_id} is not a shipment of facility {facility_id}",
        shipmentId=shipment.shipment_id,
        facilityId=facility_id,
    )


def update_open_shipment(session: Session, shipment_id: str, action: str, **values: Any) -> Shipment:
    """UPDATE only while the shipment is open: the database decides, so a concurrent /ship wins
    or loses cleanly instead of both reading 'open' and writing."""
    shipment = require_shipment(session, shipment_id)
    changed = session.execute(
        update(SHIPMENT)
        .where(
            SHIPMENT.c.facility_id == shipment.facility_id,
            SHIPMENT.c.shipment_id == shipment_id,
            SHIPMENT.c.status_id.in_(OPEN_STATUSES),
        )
        .values(**values)
    )
    session.refresh(shipment)
    if not changed.rowcount:  # type: ignore[attr-defined]
        require_open(shipment_id, shipment.status_id, action)
    return shipment


def _update_segments(session: Session, shipment: Shipment, **values: Any) -> None:
    session.execute(
        update(SEGMENT)
        .where(SEGMENT.c.facility_id == shipment.facility_id, SEGMENT.c.shipment_id == shipment.shipment_id)
        .values(**values)
    )


def _save_ship_group(
    session: Session, facility_id: str, order_id: str, group: ShipGroupIn | None
) -> OrderItemShipGroup | None:
    """The order's ship group as given (the OMS's current one wins); kept fields it leaves out."""
    if group is None:
        return None
    given = {
        k: v
        for k, v in (
            ("carrier_party_id", group.carrier_party_id),
            ("shipment_method_type_id", group.shipment_method_type_id),
        )
        if v is not None
    }
    stmt = upsert(session, SHIP_GROUP).values(
        facility_id=facility_id, order_id=order_id, ship_group_seq_id=group.ship_group_seq_id, **given
    )
    keys = ["facility_id", "order_id", "ship_group_seq_id"]
    stmt = (
        stmt.on_conflict_do_update(index_elements=keys, set_=given)
        if given
        else stmt.on_conflict_do_nothing()
    )
    session.execute(stmt)
    return session.get(
        OrderItemShipGroup, (facility_id, order_id, group.ship_group_seq_id), populate_existing=True
    )


def _ship_group_of(session: Session, shipment: Shipment) -> OrderItemShipGroup:
    group = None
    if shipment.primary_order_id and shipment.primary_ship_group_seq_id:
        key = (shipment.facility_id, shipment.primary_order_id, shipment.primary_ship_group_seq_id)
        group = session.get(OrderItemShipGroup, key, populate_existing=True)
    if group is None:
        raise Conflict(
            f"Shipment {shipment.shipment_id} has no OrderItemShipGroup to restore carrier and method from",
            shipmentId=shipment.shipment_id,
        )
    return group
