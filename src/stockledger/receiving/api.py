"""Routes of receivePurchaseShipment and of reading a receipt."""

from fastapi import APIRouter, status

from stockledger.core.deps import ReadSession, WriteSession
from stockledger.core.exact_json import ExactJsonRoute
from stockledger.core.schemas import PathId
from stockledger.receiving import reads, service
from stockledger.receiving.backorders import total
from stockledger.receiving.schemas import ReceiptDoc, ReceiptOut, ReceiptResult, ReceivedLine

router = APIRouter(prefix="/v1", tags=["receiving"], route_class=ExactJsonRoute)


@router.post("/receipts", response_model=ReceiptResult, status_code=status.HTTP_201_CREATED)
def receive_purchase_shipment(body: ReceiptDoc, session: WriteSession) -> ReceiptResult:
    """Accepted: QOH and ATP + accepted (and a cost layer); rejected: recorded, not stocked.
    A line received before needs `additional: true`, else 409 `already_received`, nothing changes."""
    received = service.receive_purchase_shipment(session, body)
    return ReceiptResult(
        shipment_id=body.shipment_id,
        facility_id=body.facility_id,
        items=[
            ReceivedLine(
                receipt_id=r.receipt_id,
                shipment_item_seq_id=r.line.shipment_item_seq_id,
                product_id=r.line.product_id,
                inventory_item_id=r.item.inventory_item_id if r.item else None,
                inventory_item_detail_seq_id=r.posted.inventory_item_detail_seq_id if r.posted else None,
                quantity_accepted=r.line.quantity_accepted,
                quantity_rejected=r.line.quantity_rejected,
                unit_cost=r.unit_cost,
                cost_layer_id=r.cost_layer_id,
                quantity_on_hand_total=r.posted.quantity_on_hand_total if r.posted else None,
                available_to_promise_total=r.posted.available_to_promise_total if r.posted else None,
                backorders_filled=total(r.filled),
            )
            for r in received
        ],
    )


@router.get("/receipts/{receipt_id}", response_model=ReceiptOut, operation_id="getReceipt")
def get_receipt(receipt_id: PathId, session: ReadSession) -> ReceiptOut:
    """One received line: its accepted and rejected quantities, the rejection reason, the item the
    accepted units went to, who received it and when."""
    return ReceiptOut.model_validate(reads.get_receipt(session, receipt_id))
