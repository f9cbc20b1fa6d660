"""Reserve units of a product for an order item, and cancel an order item's reservation."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from stockledger.core.errors import InsufficientStock, ValidationFailed
from stockledger.core.schemas import PathId
from stockledger.reservations import service as reservations
from stockledger.reservations.lines import LineOutcome
from stockledger.reservations.schemas import ReservationRequest
from stockledger.reservations.service import ReserveLine
from stockledger.web import reserve_once as once
from stockledger.web.auth import Staff
from stockledger.web.forms import POSTS, Values, guard, run_form, validated
from stockledger.web.formstate import FORM_ERROR, FormState, filled
from stockledger.web.queries import line_held, reserved_products
from stockledger.web.refusals import missing
from stockledger.web.templating import quantity

router = APIRouter(prefix="/ui/facilities/{facility_id}/products/{product_id}", include_in_schema=False)


@router.post("/reserve", response_class=HTMLResponse, dependencies=POSTS)
def reserve(
    request: Request, facility_id: PathId, product_id: PathId, principal: Staff, values: Values
) -> Response:
    """createOrderItemInventoryReservation: ATP − quantity, FEFO over the product's items."""
    if (refused := guard(request, principal, facility_id, "POST", "/v1/reservations")) is not None:
        return refused
    form = FormState("reserve", values)
    missing(form, orderId="Enter the order id.", orderItemSeqId="Enter the order line.")
    missing(form, quantity="Enter how many units to reserve.")
    if values.get(once.FIELD) and not once.valid_form_key(values[once.FIELD]):
        form.errors[FORM_ERROR] = "This form is damaged: reload the page and send it again."
    fields = filled(values, "orderId", "orderItemSeqId", "quantity", "fill")
    doc = validated(ReservationRequest, {"facilityId": facility_id, "productId": product_id, **fields}, form)
    policy = request.app.state.key_policy
    path = request.url.path
    claim = once.form_claim(principal, facility_id, path, values, policy) if values.get(once.FIELD) else None

    def action(session: Session) -> str:
        assert doc is not None
        if claim is not None and (before := once.first_answer(session, claim)) is not None:
            return before
        line = ReserveLine(doc.order_item_seq_id, doc.product_id, doc.quantity, doc.lot_id)
        (outcome,) = reservations.reserve_stock(session, doc.order_id, facility_id, [line], doc.fill).lines
        message = reserved_words(outcome, f"{doc.order_id}/{doc.order_item_seq_id}") + (
            " " + once.line_total(session, facility_id, doc.order_id, doc.order_item_seq_id)
        )
        if claim is not None:
            once.remember(session, claim, message)
        return message

    return run_form(request, principal, facility_id, product_id, form, action if doc else None)


def reserved_words(outcome: LineOutcome, line: str) -> str:
    """What a reservation did, in staff words: reserved from stock, backordered (promised with no
    stock behind it), or not reserved. Reserving nothing at all is refused, so it rolls back and
    reads as a refusal next to the quantity, not as a success."""
    covered = outcome.quantity_reserved - outcome.quantity_not_available
    backordered, unreserved = outcome.quantity_not_available, outcome.quantity_unreserved
    if outcome.quantity_reserved <= 0:
        raise InsufficientStock(
            f"Nothing was reserved for order {line}: none is available here",
            lines=[{"available": 0, "requested": outcome.quantity_requested}],
        )
    done = [f"reserved {quantity(covered)}"] if covered else []
    if backordered:
        done.append(f"backordered {quantity(backordered)}")
    said = " and ".join(done)
    sentence = f"{said[:1].upper()}{said[1:]} for order {line}."
    if backordered:
        sentence += " Backordered units have no stock behind them yet; receiving fills them first."
    if unreserved:
        sentence += f" {quantity(unreserved)} not available, not reserved."
    return sentence


@router.post("/cancel", response_class=HTMLResponse, dependencies=POSTS)
def cancel(
    request: Request, facility_id: PathId, product_id: PathId, principal: Staff, values: Values
) -> Response:
    """cancelOrderItemInventoryReservation: the order item's reservations here end, ATP comes back."""
    if (refused := guard(request, principal, facility_id, "DELETE", "/v1/reservations/x/x")) is not None:
        return refused
    form = FormState("cancel", values, inline=False)
    if not values.get("orderId") or not values.get("orderItemSeqId"):
        form.errors[FORM_ERROR] = "Say which order item's reservation to cancel."

    def action(session: Session) -> str:
        order_id, seq_id = values["orderId"], values["orderItemSeqId"]
        _same_product(session, facility_id, order_id, seq_id, product_id)
        if values.get("confirmed") != "true":
            held, _ = line_held(session, facility_id, order_id, seq_id)
            raise ValidationFailed(
                f"Nothing was cancelled yet. This cancels all of order line {order_id}/{seq_id}: "
                f"{quantity(held)} reserved here, on every item. Confirm to cancel all of it.",
                retryWith="confirmed",
            )
        released = reservations.cancel_reservation(session, facility_id, order_id, seq_id)
        back = quantity(released.quantity_released)
        return f"Reservation of order {order_id}/{seq_id} cancelled: {back} back in ATP."

    return run_form(request, principal, facility_id, product_id, form, action)


def _same_product(session: Session, facility_id: str, order_id: str, seq_id: str, product_id: str) -> None:
    """The order item must be one of this product's here (the page lists only those): the hidden
    fields are the client's, and a cancel releases every product's rows of the order item."""
    others = reserved_products(session, facility_id, order_id, seq_id) - {product_id}
    if others:
        raise ValidationFailed(
            f"Order item {order_id}/{seq_id} is not an order item of {product_id} here. Nothing was changed.",
            orderId=order_id,
            orderItemSeqId=seq_id,
        )
