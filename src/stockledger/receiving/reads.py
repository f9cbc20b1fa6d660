"""Reads of receipts: one received line, with its accepted and rejected quantities."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockledger.core.errors import NotFound
from stockledger.core.scope import check_owner
from stockledger.ledger.models import ShipmentReceipt


def get_receipt(session: Session, receipt_id: str) -> ShipmentReceipt:
    """The receipt (ids are generated, unique across facilities), or 404; 403 naming nothing of
    it when the caller may not see its facility."""
    stmt = select(ShipmentReceipt).where(ShipmentReceipt.receipt_id == receipt_id).limit(1)
    receipt = session.scalars(stmt).first()
    if receipt is None:
        raise NotFound(f"Receipt {receipt_id} not found", receiptId=receipt_id)
    check_owner(session, receipt.facility_id, f"receipt {receipt_id}", receiptId=receipt_id)
    return receipt
