"""Routes of shipping: sales shipments, confirming them shipped, resetting them, POS sales."""

from typing import Annotated

from fastapi import APIRouter, Body, Query

from stockledger.core.deps import ReadSession, WriteSession
from stockledger.core.exact_json import ExactJsonRoute
from stockledger.core.pagination import KeyCursor, Limit, decode_cursor, page_of
from stockledger.core.schemas import ID_MAX, PathId
from stockledger.shipping import confirm, pos, reads, service
from stockledger.shipping.schemas import (
    ItemIssuanceList,
    ItemIssuanceOut,
    PosSaleIn,
    ShipmentCreate,
    ShipmentOut,
    ShipmentPatch,
    ShippedOut,
    ShipRequest,
)

router = APIRouter(prefix="/v1", tags=["shipping"], route_class=ExactJsonRoute)
NO_BODY = ShipRequest()  # POST …/ship without a body: ship as planned


@router.post("/shipments", response_model=ShipmentOut, status_code=201)
def create_shipment(body: ShipmentCreate, session: WriteSession) -> ShipmentOut:
    """A sales shipment in SHIPMENT_INPUT; the ship group gives its carrier and method."""
    return ShipmentOut.model_validate(service.create_shipment(session, body))


@router.get("/shipments/{shipment_id}", response_model=ShipmentOut)
def get_shipment(shipment_id: PathId, session: ReadSession) -> ShipmentOut:
    return ShipmentOut.model_validate(service.get_shipment(session, shipment_id))


@router.patch("/shipments/{shipment_id}", response_model=ShipmentOut)
def patch_shipment(shipment_id: PathId, body: ShipmentPatch, session: WriteSession) -> ShipmentOut:
    """Status (approved, packed, cancelled), carrier or method; carrier and method on every route segment."""
    view = service.patch_shipment(
        session, shipment_id, body.status_id, body.carrier_party_id, body.shipment_method_type_id
    )
    return ShipmentOut.model_validate(view)


@router.post("/shipments/{shipment_id}/reset", response_model=ShipmentOut)
def reset_shipment(shipment_id: PathId, session: WriteSession) -> ShipmentOut:
    """Back to SHIPMENT_INPUT with the ship group's carrier and method (409 once shipped or cancelled)."""
    return ShipmentOut.model_validate(service.reset_shipment(session, shipment_id))


@router.post("/shipments/{shipment_id}/ship", response_model=ShippedOut)
def ship_shipment(
    shipment_id: PathId, session: WriteSession, body: Annotated[ShipRequest, Body()] = NO_BODY
) -> ShippedOut:
    """confirmShipment: deplete what actually shipped (no items: as planned); issuances and COGS."""
    request = body
    lines = (
        [
            confirm.ShipLine(i.shipment_item_seq_id, i.quantity, i.inventory_item_id, i.lot_id)
            for i in request.items
        ]
        if request.items is not None
        else None
    )
    shipped = confirm.confirm_shipment(
        session,
        shipment_id,
        lines,
        request.release_remainder,
        request.allow_unreserved,
        allow_expired=request.allow_expired,
    )
    return ShippedOut.model_validate(shipped)


@router.post("/pos-sales", response_model=ShippedOut, status_code=201)
def pos_sale(body: PosSaleIn, session: WriteSession) -> ShippedOut:
    """A POS sale: its shipment is created and shipped at once; returns issuances and COGS."""
    return ShippedOut.model_validate(pos.record_pos_sale(session, body))


@router.get("/item-issuances", response_model=ItemIssuanceList, operation_id="listItemIssuances")
def list_item_issuances(
    session: ReadSession,
    order_id: Annotated[str | None, Query(alias="orderId", min_length=1, max_length=ID_MAX)] = None,
    shipment_id: Annotated[str | None, Query(alias="shipmentId", min_length=1, max_length=ID_MAX)] = None,
    limit: Limit = 100,
    cursor: KeyCursor = None,
) -> ItemIssuanceList:
    """What was taken out of stock in the token's facilities (of an order with `orderId`, of a
    shipment with `shipmentId`, of both when both are given): each issuance's item, lot, quantity
    and COGS."""
    after = decode_cursor(cursor, str, str)
    key = (after[0], after[1]) if after else None
    rows = reads.item_issuances(session, order_id, shipment_id, key, limit + 1)
    page, following = page_of(rows, limit, lambda r: r.key)
    return ItemIssuanceList(items=[ItemIssuanceOut.model_validate(r) for r in page], next=following)
