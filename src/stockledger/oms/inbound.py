"""Inbound OMS messages, applied through the same services as the API (SPEC §7).

Bodies are shaped like the matching API bodies:
- OrderConfirmed = POST /v1/orders/{orderId}/reserve plus `orderId`;
- ShipmentConfirmed = POST /v1/shipments/{shipmentId}/ship plus `shipmentId`;
- ReturnReceived = POST /v1/returns.
Each message is applied once: its id is recorded in processed_message in the transaction
of its effect, and a refused message (bad body, insufficient stock, …) is recorded too,
with its problem code, so a redelivery neither applies it nor retries it for ever.
"""

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from stockledger.core import strict_json
from stockledger.core.dialects import upsert
from stockledger.core.errors import AppError
from stockledger.core.schemas import Id
from stockledger.core.transactions import savepoint
from stockledger.events.models import ProcessedMessage
from stockledger.idempotency.models import UNKNOWN_FACILITY
from stockledger.oms.refusals import body_problem, data_refusal, stored_id
from stockledger.reservations.schemas import ReserveOrderRequest
from stockledger.reservations.service import ReserveLine, reserve_stock
from stockledger.returns.schemas import ReturnIn
from stockledger.returns.service import process_return
from stockledger.shipping.confirm import ShipLine, confirm_shipment
from stockledger.shipping.schemas import ShipRequest

APPLIED, REFUSED, DUPLICATE = "applied", "refused", "duplicate"
INBOUND_USER = "nats:stockledger"  # the default consumer's (oms/consumer.py: nats:<durable>)


class OrderConfirmed(ReserveOrderRequest):
    order_id: Id


class ShipmentConfirmed(ShipRequest):
    shipment_id: Id


def apply_order_confirmed(session: Session, document: Any) -> None:
    order = OrderConfirmed.model_validate(document)
    lines = [ReserveLine(i.order_item_seq_id, i.product_id, i.quantity, i.lot_id) for i in order.items]
    reserve_stock(session, order.order_id, order.facility_id, lines, order.fill)


def apply_shipment_confirmed(session: Session, document: Any) -> None:
    shipped = ShipmentConfirmed.model_validate(document)
    lines = None
    if shipped.items is not None:
        lines = [
            ShipLine(i.shipment_item_seq_id, i.quantity, i.inventory_item_id, i.lot_id) for i in shipped.items
        ]
    confirm_shipment(
        session,
        shipped.shipment_id,
        lines,
        shipped.release_remainder,
        shipped.allow_unreserved,
        allow_expired=shipped.allow_expired,
    )


def apply_return_received(session: Session, document: Any) -> None:
    process_return(session, ReturnIn.model_validate(document))


HANDLERS: dict[str, Callable[[Session, Any], None]] = {
    "OrderConfirmed": apply_order_confirmed,
    "ShipmentConfirmed": apply_shipment_confirmed,
    "ReturnReceived": apply_return_received,
}


def apply_message(session: Session, message_type: str, message_id: str, body: bytes) -> str:
    """Apply one inbound message at most once, in the caller's transaction (the consumer's:
    oms/consumer.py `apply_one`); returns applied, refused or duplicate."""
    document, problem = _parse(message_type, body)
    message_id, problem = stored_id(message_id, problem)
    facility_id = _facility_of(document)
    if not _claim(session, facility_id, message_id, message_type):
        return DUPLICATE
    if problem is None:
        problem = _apply(session, message_type, document)
    if problem is not None:
        _mark_refused(session, facility_id, message_id, problem)
    return APPLIED if problem is None else REFUSED


def _parse(message_type: str, body: bytes) -> tuple[Any, str | None]:
    """The document, its numbers exact (a quantity of 1.0000000000000001 is refused for its
    decimals, not read as the float 1.0), or why the message is refused before any service sees
    it (oms/refusals.py; JSON nested past Python's recursion limit makes json.loads raise
    RecursionError)."""
    if message_type not in HANDLERS:
        return None, f"unknown_message_type: {message_type[:200]}"
    if (problem := body_problem(body)) is not None:
        return None, problem
    try:
        return strict_json.loads(body), None  # exact, as the API reads a body
    except strict_json.DuplicateMember as twice:  # as the API refuses it: no member read as the last
        return None, f"validation_failed: {twice}"
    except (ValueError, UnicodeDecodeError):
        return None, "malformed_json: the message body is not JSON"
    except RecursionError:
        return None, "malformed_json: the message body nests arrays or objects too deeply"


def _apply(session: Session, message_type: str, document: Any) -> str | None:
    """Run the service in a savepoint: a refusal rolls back its partial work, not the claim."""
    try:
        with savepoint(session):
            HANDLERS[message_type](session, document)
    except AppError as exc:
        return f"{exc.code}: {exc.detail}"
    except ValidationError as exc:
        return f"validation_failed: {exc.errors(include_url=False)[:3]}"
    except (DBAPIError, OverflowError) as exc:  # a value past its column: the API's 422, not an outage
        if (refusal := data_refusal(exc)) is None:
            raise
        return refusal
    return None


def _facility_of(document: Any) -> str:
    if isinstance(document, dict):
        value = document.get("facilityId")
        if isinstance(value, str) and 0 < len(value) <= 60:
            return value
    return UNKNOWN_FACILITY


def _claim(session: Session, facility_id: str, message_id: str, message_type: str) -> bool:
    """Record the message as processed; False when it already was (a concurrent twin waits here)."""
    claimed = session.execute(
        upsert(session, ProcessedMessage)
        .values(
            facility_id=facility_id, message_id=message_id, message_type=message_type[:60], outcome=APPLIED
        )
        .on_conflict_do_nothing(index_elements=["facility_id", "message_id"])
        .returning(ProcessedMessage.message_id)
    ).scalar_one_or_none()
    return claimed is not None


def _mark_refused(session: Session, facility_id: str, message_id: str, problem: str) -> None:
    session.execute(
        update(ProcessedMessage)
        .where(ProcessedMessage.facility_id == facility_id, ProcessedMessage.message_id == message_id)
        .values(outcome=REFUSED, detail=problem[:2000])
    )
