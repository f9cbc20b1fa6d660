"""Refusals in staff words: every required field left empty named at once, and the services'
API wording ("1 line(s) short; order item 00001 …") told as a person would ("Only 3 available")."""

from decimal import Decimal, InvalidOperation

from stockledger.core.errors import AppError, InsufficientStock
from stockledger.receiving.shipments import NotAPurchaseShipment
from stockledger.web.formstate import FormState
from stockledger.web.templating import quantity


def missing(form: FormState, **messages: str) -> None:
    """A message next to each of these fields left empty (the DTO would name only the first it meets)."""
    for name, message in messages.items():
        if not form.values.get(name):
            form.errors.setdefault(name, message)


def nothing(text: str | None) -> bool:
    """A field left empty or holding a zero (0, 0.00, -0); text that is not a number is the DTO's to name."""
    try:
        return not text or Decimal(text) == 0
    except InvalidOperation:
        return False


def zero_refused(form: FormState, name: str, message: str) -> None:
    """A zero where the form needs a change is refused at its field (the DTO says it about the document)."""
    if form.values.get(name) and nothing(form.values[name]):
        form.errors.setdefault(name, message)


def staff_wording(exc: AppError) -> tuple[str | None, str]:
    """The field a refusal is about, when it is about one, and what to tell the person at the form."""
    if isinstance(exc, InsufficientStock):
        return "quantity", _short(exc)
    if isinstance(exc, NotAPurchaseShipment):
        shipment = exc.extra.get("shipmentId")
        return "shipmentId", (
            f"Shipment {shipment} is one this facility sends out (a shipment of an order or a till sale), "
            "not a delivery to receive. Enter the id of the purchase shipment that arrived."
        )
    return None, exc.detail


def summary_of(exc: AppError) -> str | None:
    """What the box above a refused form says when no field was typed wrong: the request was fine,
    the stock was not there (the default summary asks to correct the fields marked below)."""
    if isinstance(exc, InsufficientStock):
        return "Nothing was reserved: there is not enough stock for this quantity (see below)."
    return None


def _short(exc: InsufficientStock) -> str:
    lines = exc.extra.get("lines") or []
    if not lines:
        return f"{exc.detail}. Nothing was reserved."
    first = lines[0]
    available, asked = Decimal(str(first["available"])), Decimal(str(first["requested"]))
    if available <= 0:  # lowering the quantity cannot help
        return (
            f"Cannot reserve {quantity(asked)}: none available. Nothing was reserved. To promise it "
            "anyway, choose “Reserve all, backorder the rest”: receiving fills it first."
        )
    return (
        f"Cannot reserve {quantity(asked)}: only {quantity(available)} available. Nothing was reserved. "
        "To go ahead, lower the quantity, or choose “Reserve what is available” or "
        "“Reserve all, backorder the rest”."
    )
