"""What the product page shows: the numbers explained, items in staff words, the forms' choices."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockledger.auth.rules import Principal
from stockledger.catalog import service as catalog
from stockledger.core.fixed import ZERO
from stockledger.ledger import views
from stockledger.ledger.models import (
    FacilityLocation,
    InventoryItem,
    OrderItemInventoryReservation,
    ProductFacility,
)
from stockledger.receiving.schemas import REJECTION_REASONS
from stockledger.web import queries
from stockledger.web.auth import may
from stockledger.web.wording import item_status, named, reasons_for, status_words

# Forms whose service exists: a form is shown only when it can be served.
READY = {"count": True, "variance": True, "receive": True, "reserve": True, "cancel": True}
MAX_LOCATIONS = 500


def product_context(
    session: Session, principal: Principal, facility_id: str, product_id: str
) -> dict[str, Any]:
    """The availability numbers, the items, reservations, and the forms the role may use."""
    facility, _ = catalog.get_facility(session, facility_id)
    availability = views.availability(session, facility_id, product_id)
    items = queries.items_of(session, facility_id, product_id)
    reservations = queries.active_reservations(session, facility_id, product_id)
    return {
        "title": f"{product_id} at {facility.facility_name or facility_id}",
        "principal": principal,
        "facility": facility,
        "product_id": product_id,
        "product_name": queries.product_name(session, product_id),
        "availability": availability,
        "has_minimum": minimum_set(session, facility_id, product_id),
        "why_atp_differs": why_atp_differs(availability),
        "backordered": backordered(session, facility_id, product_id),
        "items": items,
        "item_labels": {i.inventory_item_id: item_label(i) for i in items},
        "item_statuses": item_statuses(session, facility_id, items),
        "item_options": [(i.inventory_item_id, item_option(i)) for i in items],
        "reservations": reservations,
        "line_totals": line_totals(reservations),
        "cancel_here": first_of_each_line(reservations),
        "reasons_options": reason_options(session, principal),
        "location_options": location_options(session, facility_id),
        "rejection_options": REJECTION_REASONS,
        "allowed": allowed_forms(principal),
        "ready": READY,
    }


def line_totals(reservations: Sequence[OrderItemInventoryReservation]) -> dict[tuple[str, str], Decimal]:
    """What each order line holds here over all its rows: a Cancel ends all of it."""
    totals: dict[tuple[str, str], Decimal] = {}
    for r in reservations:
        line = (r.order_id, r.order_item_seq_id)
        totals[line] = totals.get(line, Decimal(0)) + r.quantity
    return totals


def first_of_each_line(reservations: Sequence[OrderItemInventoryReservation]) -> list[bool]:
    """Which rows carry their order line's Cancel button: the first of each line (a Cancel ends all
    of the line, so a line reserved on two items shows one button, not two alike)."""
    seen: set[tuple[str, str]] = set()
    first = []
    for r in reservations:
        line = (r.order_id, r.order_item_seq_id)
        first.append(line not in seen)
        seen.add(line)
    return first


def item_label(item: InventoryItem) -> str:
    """An item as staff tell items apart in the table (next to its status and location): its lot and
    when it was received. Its generated id is only the link's tooltip."""
    parts = [f"Lot {item.lot_id}" if item.lot_id else "No lot"]
    if item.datetime_received:
        parts.append(f"received {item.datetime_received:%Y-%m-%d}")
    return " · ".join(parts)


def item_statuses(session: Session, facility_id: str, items: Sequence[InventoryItem]) -> dict[str, Markup]:
    """Each item's status in staff words, a returned item that was emptied saying so."""
    emptied = queries.emptied_returns(session, facility_id, items)
    return {
        i.inventory_item_id: item_status(
            i.status_id, i.expire_date, emptied_return=i.inventory_item_id in emptied
        )
        for i in items
    }


def item_option(item: InventoryItem) -> str:
    """An item in a select, where nothing stands next to it: lot, status, location, received."""
    parts = [
        f"Lot {item.lot_id}" if item.lot_id else "No lot",
        status_words(item.status_id, item.expire_date),
    ]
    if item.location_seq_id:
        parts.append(f"at {item.location_seq_id}")
    if item.datetime_received:
        parts.append(f"received {item.datetime_received:%Y-%m-%d}")
    return " · ".join(parts)


def minimum_set(session: Session, facility_id: str, product_id: str) -> bool:
    """Whether the product has a minimum stock here: without one it is never "below minimum"
    (the stock page's rule; availability reports its minimum as 0)."""
    link = session.get(ProductFacility, (facility_id, product_id))
    return link is not None and link.minimum_stock is not None


def item_words(item: InventoryItem | None) -> str:
    """An item named in a sentence as the items table shows it (lot, location, received date),
    never by its generated id."""
    if item is None:
        return "the item"
    parts = [f"lot {item.lot_id}" if item.lot_id else "no lot"]
    if item.location_seq_id:
        parts.append(f"at {item.location_seq_id}")
    if item.datetime_received:
        parts.append(f"received {item.datetime_received:%Y-%m-%d}")
    return f"the item ({', '.join(parts)})"


def why_atp_differs(availability: views.Availability) -> list[tuple[str, Decimal]]:
    """The parts of QOH that are not ATP, by kind, each above zero: reserved, on hold, defective…"""
    held = availability.not_promisable
    parts = [
        ("reserved for orders", availability.reserved_quantity),
        ("on hold", held.on_hold),
        ("returned, not inspected", held.returned),
        ("defective", held.defective),
        ("expired", held.expired),
        ("in another status", held.other),
    ]
    return [(label, value) for label, value in parts if value > 0]


def backordered(session: Session, facility_id: str, product_id: str) -> Decimal:
    """Units promised to active reservations that no stock covers yet (quantityNotAvailable)."""
    r = OrderItemInventoryReservation
    total = session.scalar(
        select(func.sum(r.quantity_not_available)).where(
            r.facility_id == facility_id, r.product_id == product_id, r.status_id == views.ACTIVE
        )
    )
    return total or ZERO


def reason_options(session: Session, principal: Principal) -> list[tuple[str, str]]:
    """The variance reasons the role may pick, in staff words (store staff: never the ERP sync's)."""
    codes = [r.variance_reason_id for r in queries.variance_reasons(session)]
    return [(code, named(code)) for code in reasons_for(principal.role, codes)]


def location_options(session: Session, facility_id: str) -> list[tuple[str, str]]:
    f = FacilityLocation
    found = session.scalars(
        select(f).where(f.facility_id == facility_id).order_by(f.location_seq_id).limit(MAX_LOCATIONS)
    )
    return [(loc.location_seq_id, _location_label(loc)) for loc in found]


def _location_label(loc: FacilityLocation) -> str:
    where = [
        f"{k} {v}"
        for k, v in (("area", loc.area_id), ("aisle", loc.aisle_id), ("section", loc.section_id))
        if v
    ]
    return f"{loc.location_seq_id} ({', '.join(where)})" if where else loc.location_seq_id


def allowed_forms(principal: Principal) -> dict[str, bool]:
    """Each form is shown only to roles that may make its API call."""
    return {
        "receive": may(principal, "POST", "/v1/receipts"),
        "count": may(principal, "POST", "/v1/physical-inventories"),
        "variance": may(principal, "POST", "/v1/variances"),
        "reserve": may(principal, "POST", "/v1/reservations"),
        "cancel": may(principal, "DELETE", "/v1/reservations/x/x"),
    }
