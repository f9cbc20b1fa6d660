"""Routes of returns (processReturn, inspection) and of increasing ATP and QOH."""

from dataclasses import asdict

from fastapi import APIRouter

from stockledger.core.deps import ReadSession, WriteSession
from stockledger.core.exact_json import ExactJsonRoute
from stockledger.core.schemas import PathId
from stockledger.returns import increase, inspection, service
from stockledger.returns.schemas import (
    InspectionIn,
    InspectionOut,
    InventoryIncreaseIn,
    InventoryIncreaseOut,
    ReturnIn,
    ReturnOut,
)

router = APIRouter(prefix="/v1", tags=["returns"], route_class=ExactJsonRoute)


@router.post("/returns", response_model=ReturnOut, status_code=201)
def process_return(body: ReturnIn, session: WriteSession) -> ReturnOut:
    """processReturn: units come back INV_RETURNED (pending inspection), or INV_DEFECTIVE when
    `receivedCondition` is DAMAGED: QOH rises, ATP does not. Only what the order shipped, less
    earlier returns, can come back: 409 `not_shipped` or `return_exceeds_shipped`."""
    return ReturnOut.model_validate(service.process_return(session, body))


@router.get("/returns/{return_id}", response_model=ReturnOut)
def get_return(return_id: PathId, session: ReadSession) -> ReturnOut:
    return ReturnOut.model_validate(service.get_return(session, return_id))


@router.post("/returns/{return_id}/items/{return_item_seq_id}/inspect", response_model=InspectionOut)
def inspect_return_item(
    return_id: PathId, return_item_seq_id: PathId, body: InspectionIn, session: WriteSession
) -> InspectionOut:
    """AVAILABLE: back to sellable stock (ATP rises; ATP the returned item held moves with the
    units) at the return cost; DEFECTIVE: INV_DEFECTIVE. It acts on what the returned item still
    holds of the line (`inspectedQuantity`; 0 when a count found it empty: nothing moves).
    The return becomes RETURN_COMPLETED when none of its items waits for inspection."""
    done = inspection.inspect_return_item(session, return_id, return_item_seq_id, body.outcome)
    return InspectionOut.model_validate({**asdict(done.view), "inspected_quantity": done.inspected_quantity})


@router.post("/inventory-increases", response_model=InventoryIncreaseOut, status_code=201)
def increase_inventory(body: InventoryIncreaseIn, session: WriteSession) -> InventoryIncreaseOut:
    """Increase ATP and QOH by `quantity` (a correction), linked to what caused it."""
    item, posted = increase.increase_inventory(session, body)
    return InventoryIncreaseOut(
        facility_id=posted.facility_id,
        inventory_item_id=posted.inventory_item_id,
        product_id=item.product_id,
        inventory_item_detail_seq_id=posted.inventory_item_detail_seq_id,
        quantity_on_hand_total=posted.quantity_on_hand_total,
        available_to_promise_total=posted.available_to_promise_total,
    )
