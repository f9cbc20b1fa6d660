"""Route of rejectOrderItem."""

from fastapi import APIRouter

from stockledger.core.deps import WriteSession
from stockledger.core.exact_json import ExactJsonRoute
from stockledger.core.schemas import PathId
from stockledger.rejection import service
from stockledger.rejection.schemas import RejectedRow, RejectRequest, RejectResult

router = APIRouter(prefix="/v1", tags=["rejection"], route_class=ExactJsonRoute)


@router.post("/orders/{order_id}/items/{order_item_seq_id}/reject", response_model=RejectResult)
def reject_order_item(
    order_id: PathId, order_item_seq_id: PathId, body: RejectRequest, session: WriteSession
) -> RejectResult:
    """Release the order item's reservation (ATP + reserved), then RELEASE, ATP_ONE, ATP_QOH_ONE,
    ATP_ALL or ATP_QOH_ALL; 404 when nothing is reserved unless facilityId and productId are given."""
    rejection = service.Rejection(
        order_id,
        order_item_seq_id,
        body.rejection_mode,
        body.quantity,
        body.reject_reason_id,
        body.facility_id,
        body.product_id,
        body.description,
    )
    done = service.reject_order_item(session, rejection)
    return RejectResult(
        order_id=order_id,
        order_item_seq_id=order_item_seq_id,
        facility_id=done.facility_id,
        rejection_mode=rejection.mode,
        reject_reason_id=done.reason_id,
        quantity_released=done.released.quantity_released,
        quantity_rejected=done.quantity_rejected,
        released=[_row(c) for c in done.releases],
        rejected=[_row(c) for c in done.rejected],
    )


def _row(c: service.Change) -> RejectedRow:
    return RejectedRow(
        inventory_item_id=c.inventory_item_id,
        inventory_item_detail_seq_id=c.posted.inventory_item_detail_seq_id,
        quantity_on_hand_diff=c.quantity_on_hand_diff,
        available_to_promise_diff=c.available_to_promise_diff,
        quantity_on_hand_total=c.posted.quantity_on_hand_total,
        available_to_promise_total=c.posted.available_to_promise_total,
    )
