"""rejectOrderItem (SPEC §5): release the order item's reservation, then apply the rejection mode.

Each step is a detail row of its own linked to the order item and carrying the rejection
reason (reasonEnumId) and what the step was (description). The mode's takes are not guarded:
a rejection records that stock is not there, so ATP (and QOH) may go below zero.
With nothing reserved the call is refused (404) unless facilityId and productId name the
item to reject from (the facility item of that product).
"""

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import find_or_create_facility_inventory_item
from stockledger.core.errors import NotFound
from stockledger.core.fixed import ZERO
from stockledger.events.outbox import record_event
from stockledger.ledger.post import Links, Posted, Posting, post
from stockledger.orders.items import check_order_items, claim_order_items
from stockledger.rejection.rules import Take, rejected_quantity, require_mode, spread
from stockledger.reservations.service import Released, release_reservation

DEFAULT_REASON = "REJ_REJECTED"


@dataclass(frozen=True, slots=True)
class Rejection:
    order_id: str
    order_item_seq_id: str
    mode: str
    quantity: Decimal | None = None
    reason_id: str | None = None
    facility_id: str | None = None
    product_id: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One detail row the rejection wrote: its diffs and the item's totals after it."""

    inventory_item_id: str
    quantity_on_hand_diff: Decimal
    available_to_promise_diff: Decimal
    posted: Posted


@dataclass(frozen=True, slots=True)
class Rejected:
    facility_id: str
    reason_id: str
    released: Released
    quantity_rejected: Decimal
    rejected: list[Change] = field(default_factory=list)

    @property
    def releases(self) -> list[Change]:
        rows = self.released.rows
        return [Change(r.inventory_item_id, ZERO, r.quantity, r.posted) for r in rows if r.posted]


def reject_order_item(session: Session, r: Rejection) -> Rejected:
    """Release the order item's active reservation, then take what the mode says."""
    require_mode(r.mode)
    reason = r.reason_id or DEFAULT_REASON
    _check_product(session, r)
    released = release_reservation(
        session,
        r.facility_id,
        r.order_id,
        r.order_item_seq_id,
        reason_enum_id=reason,
        description=_describe(r, "reservation released"),
    )
    facility_id, reserved = _reserved_items(session, r, released)
    total = rejected_quantity(r.mode, r.quantity, sum((q for _, q in reserved), ZERO))
    links = Links(
        order_id=r.order_id, order_item_seq_id=r.order_item_seq_id, description=_describe(r, r.mode)
    )
    changes = [
        _take(session, facility_id, take, reason, links)
        for take in sorted(spread(r.mode, total, reserved), key=lambda t: t.inventory_item_id)
    ]
    posted = [c.posted for c in changes]
    if posted:
        product_id = released.rows[0].product_id if released.rows else r.product_id
        payload = _event(r, reason, facility_id, posted) | {
            "productId": product_id,
            "quantityRejected": total,
        }
        record_event(session, facility_id, "InventoryChanged", payload)
    return Rejected(facility_id, reason, released, total, changes)


def _check_product(session: Session, r: Rejection) -> None:
    """A productId given must be the order item's (SPEC §11); with a facility it is claimed there."""
    if r.product_id is None:
        return
    products = {(r.order_id, r.order_item_seq_id): r.product_id}
    if r.facility_id is None:
        check_order_items(session, products)
    else:
        claim_order_items(session, r.facility_id, products)


def _take(session: Session, facility_id: str, take: Take, reason: str, links: Links) -> Change:
    qoh = -take.quantity if take.qoh else ZERO
    posting = Posting(
        facility_id,
        take.inventory_item_id,
        reason,
        quantity_on_hand_diff=qoh,
        available_to_promise_diff=-take.quantity,
        links=links,
    )
    return Change(take.inventory_item_id, qoh, -take.quantity, post(session, posting))


def _reserved_items(
    session: Session, r: Rejection, released: Released
) -> tuple[str, list[tuple[str, Decimal]]]:
    """The facility and (item, quantity) the order item had reserved; else the named facility item."""
    if released.rows:
        facility_id = released.rows[0].facility_id
        rows = [(x.inventory_item_id, x.quantity) for x in released.rows if x.facility_id == facility_id]
        return facility_id, rows
    if r.facility_id is None or r.product_id is None:
        raise NotFound(
            f"Order item {r.order_id}/{r.order_item_seq_id} has no active reservation; "
            "give facilityId and productId to reject from the facility item",
            orderId=r.order_id,
            orderItemSeqId=r.order_item_seq_id,
        )
    item = find_or_create_facility_inventory_item(session, r.facility_id, r.product_id)
    return r.facility_id, [(item.inventory_item_id, ZERO)]


def _describe(r: Rejection, step: str) -> str:
    text = f"rejectOrderItem {r.mode}: {step}"
    return f"{text} ({r.description})"[:255] if r.description else text


def _event(r: Rejection, reason: str, facility_id: str, posted: list[Posted]) -> dict[str, object]:
    return {
        "facilityId": facility_id,
        "orderId": r.order_id,
        "orderItemSeqId": r.order_item_seq_id,
        "rejectionMode": r.mode,
        "rejectReasonId": reason,
        "changes": [
            {
                "inventoryItemId": p.inventory_item_id,
                "inventoryItemDetailSeqId": p.inventory_item_detail_seq_id,
                "quantityOnHandTotal": p.quantity_on_hand_total,
                "availableToPromiseTotal": p.available_to_promise_total,
            }
            for p in posted
        ],
    }
