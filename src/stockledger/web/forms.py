"""The staff forms of a product in a facility: each validates with the API's DTO and calls its service.

A refused form changes nothing: the service runs in the request's write session, the API's
(core.deps.write_session), with the signed-in principal bound, so the write path checks its
facility scope and records its user; any refusal rolls it back and the page comes back with the
message next to the field (422), or as a 403 page when the token may not touch the facility.
A guard's refusal (a variance below zero, a shipment line received before: problems that name a
`retryWith` flag) comes back with a confirm button that sends the same form again with that flag set.
"""

from collections.abc import Callable, Mapping
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from stockledger.auth.rules import Principal
from stockledger.core.deps import get_database, write_session
from stockledger.core.errors import AppError, Forbidden, NegativeStock, ValidationFailed
from stockledger.core.ids import new_id
from stockledger.core.schemas import TEXT_QUANTITIES, PathId
from stockledger.core.scope import check_owner
from stockledger.counts import service as counts
from stockledger.counts.schemas import CountDoc, CountResult
from stockledger.ledger.items import find_inventory_item
from stockledger.ledger.models import InventoryItem
from stockledger.receiving import service as receiving
from stockledger.receiving.schemas import REJECTION_REASON_IDS, ReceiptDoc
from stockledger.variances import service as variances
from stockledger.variances.schemas import VarianceIn
from stockledger.web.auth import Staff, may
from stockledger.web.csrf import csrf_protected
from stockledger.web.formstate import FORM_ERROR, FormState, blank_forms, field_errors, filled, form_values
from stockledger.web.pages import refuse
from stockledger.web.product_view import item_words, product_context
from stockledger.web.refusals import missing, nothing, staff_wording, summary_of, zero_refused
from stockledger.web.templating import quantity, render, signed
from stockledger.web.wording import named, system_reasons

router = APIRouter(prefix="/ui/facilities/{facility_id}/products/{product_id}", include_in_schema=False)
Values = Annotated[dict[str, str], Depends(form_values)]
Action = Callable[[Session], str]

POSTS = [Depends(csrf_protected)]
M = TypeVar("M", bound=BaseModel)


def guard(
    request: Request, principal: Principal, facility_id: str, method: str, api_path: str
) -> Response | None:
    """Refuse a form the role may not use, or a facility the token may not touch."""
    if not may(principal, method, api_path):
        return refuse(request, principal, 403, f"Role {principal.role} may not use this form.")
    if not principal.may_touch(facility_id):
        message = f"You are not allowed to change {facility_id}. Nothing was changed."
        return refuse(request, principal, 403, message)
    return None


def run_form(
    request: Request,
    principal: Principal,
    facility_id: str,
    product_id: str,
    form: FormState,
    action: Action | None,
) -> Response:
    """Run the service in its own transaction unless the form is already refused, then answer."""
    if action is not None and not form.errors:
        try:
            with write_session(request) as session:
                form.message = action(session)
        except Forbidden as exc:
            return refuse(request, principal, 403, exc.detail)
        except AppError as exc:
            form.errors = errors_of(exc, form.values if form.inline else {})
            form.confirm = confirmable(exc, form.id)
    if form.message and not request.headers.get("hx-request"):
        page = request.url.path.rsplit("/", 1)[0]  # post/redirect/get back to the product page
        return RedirectResponse(f"{page}?{urlencode({'done': form.message})}", status_code=303)
    return product_response(request, principal, facility_id, product_id, form)


CONFIRMS = {
    "variance": "allowNegative",
    "receive": "additional",
    "cancel": "confirmed",
}  # form -> the flag it may resend


def confirmable(exc: AppError, form_id: str) -> str | None:
    """The flag that overrides this refusal, when the form may offer to resend with it."""
    flag = exc.extra.get("retryWith")
    return flag if flag is not None and CONFIRMS.get(form_id) == flag else None


def errors_of(exc: AppError, values: dict[str, str]) -> dict[str, str]:
    """A service's refusal, next to the field it names when it names one (a guard's: above the form)."""
    if "retryWith" in exc.extra:
        return {FORM_ERROR: exc.detail}
    field, message = staff_wording(exc)
    if field is not None and field in values:
        summary = summary_of(exc)
        return {field: message, **({FORM_ERROR: summary} if summary else {})}
    named = [key for key in exc.extra if key in values]
    return {named[0] if named else FORM_ERROR: message}


def product_response(
    request: Request, principal: Principal, facility_id: str, product_id: str, form: FormState
) -> HTMLResponse:
    forms = blank_forms()
    forms[form.id] = form if form.errors else FormState(form.id, message=form.message)
    with get_database(request).reading() as session:
        context = product_context(session, principal, facility_id, product_id)
    return render(request, "product.html", 422 if form.errors else 200, **context, forms=forms, message=None)


def refuse_system_reason(form: FormState, principal: Principal) -> None:
    """A reason the role is not offered (store staff: the ERP sync's) is refused at its field."""
    if form.values.get("varianceReasonId") in system_reasons(principal.role):
        form.errors["varianceReasonId"] = "Choose one of the listed reasons; this one is for the ERP sync."


def validated(model: type[M], document: Mapping[str, object], form: FormState) -> M | None:
    """The DTO, or None with every field's message (the form's own checks first: they name the field)."""
    try:
        doc = model.model_validate(document, context={TEXT_QUANTITIES: True})
    except ValidationError as exc:
        found = field_errors(exc)
        if form.errors:  # the form's own checks named the field: the DTO's word on the whole is the same
            found.pop(FORM_ERROR, None)
        form.errors = {**found, **form.errors}
        return None
    return None if form.errors else doc


@router.post("/count", response_class=HTMLResponse, dependencies=POSTS)
def record_count(
    request: Request, facility_id: PathId, product_id: PathId, principal: Staff, values: Values
) -> Response:
    """A cycle count of the product (all its items here): QOH := counted."""
    if (refused := guard(request, principal, facility_id, "POST", "/v1/physical-inventories")) is not None:
        return refused
    form = FormState("count", values)
    missing(form, quantityCounted="Enter the quantity you counted.")
    refuse_system_reason(form, principal)
    line = {"productId": product_id, **filled(values, "quantityCounted", "varianceReasonId", "comments")}
    doc = validated(
        CountDoc,
        {"physicalInventoryId": new_id("PI"), "facilityId": facility_id, "counts": [line]},
        form,
    )

    def action(session: Session) -> str:
        assert doc is not None
        result = counts.record_count(session, doc)
        return count_words(session, facility_id, result)

    return run_form(request, principal, facility_id, product_id, form, action if doc else None)


def count_words(session: Session, facility_id: str, result: CountResult) -> str:
    """What a count changed, item by item as staff see them: the counted item takes the difference,
    any other item of the product may have its available-to-promise corrected."""
    counted = next((v.quantity_counted for v in result.variances if v.quantity_counted is not None), None)
    changes = []
    for v in result.variances:
        moved = [f"QOH {signed(v.quantity_on_hand_var)}"] if v.quantity_on_hand_var else []
        if v.available_to_promise_var:
            moved.append(f"ATP {signed(v.available_to_promise_var)}")
        if moved:
            item = session.get(InventoryItem, (facility_id, v.inventory_item_id))
            changes.append(f"{item_words(item)}: {', '.join(moved)}")
    head = f"Count {result.physical_inventory_id} recorded: {quantity(counted)} counted."
    if not changes:
        return f"{head} It matched the stock: nothing changed."
    return f"{head} Changed {'; '.join(changes)}."


@router.post("/variance", response_class=HTMLResponse, dependencies=POSTS)
def log_variance(
    request: Request, facility_id: PathId, product_id: PathId, principal: Staff, values: Values
) -> Response:
    """± a quantity on QOH and ATP of an item, with a reason from the list."""
    if (refused := guard(request, principal, facility_id, "POST", "/v1/variances")) is not None:
        return refused
    form = FormState("variance", values)
    missing(form, quantity="Enter the quantity, for example -2.", varianceReasonId="Choose a reason.")
    zero_refused(form, "quantity", "A variance of 0 changes nothing: enter the change, for example -2 or 3.")
    refuse_system_reason(form, principal)
    fields = filled(values, "inventoryItemId", "quantity", "varianceReasonId", "comments", "allowNegative")
    doc = validated(VarianceIn, {"facilityId": facility_id, "productId": product_id, **fields}, form)

    def action(session: Session) -> str:
        assert doc is not None
        _same_product(session, doc, product_id)
        try:
            out = variances.log_variance(session, doc)
        except NegativeStock as exc:
            raise _below_zero(session, facility_id, exc) from exc
        item = session.get(InventoryItem, (facility_id, out.inventory_item_id))
        return (
            f"Variance of {quantity(out.quantity)} ({named(out.variance_reason_id)}) "
            f"logged on {item_words(item)}: "
            f"QOH {quantity(out.quantity_on_hand_total)}, ATP {quantity(out.available_to_promise_total)}."
        )

    return run_form(request, principal, facility_id, product_id, form, action if doc else None)


def _below_zero(session: Session, facility_id: str, exc: NegativeStock) -> NegativeStock:
    """The guard's refusal naming the item as the page shows it, not by its generated id."""
    item = session.get(InventoryItem, (facility_id, str(exc.extra.get("inventoryItemId"))))
    qoh, diff = exc.extra.get("quantityOnHandTotal"), exc.extra.get("quantityOnHandDiff")
    if item is None or qoh is None or diff is None:
        return exc
    words = item_words(item)
    return NegativeStock(
        f"{words[:1].upper()}{words[1:]} has {quantity(qoh)} on hand; "
        f"{quantity(diff)} would take it below zero.",
        **exc.extra,
    )


def _same_product(session: Session, doc: VarianceIn, product_id: str) -> None:
    """The item picked must be one of this product's items here (the select offers only those).

    Looked up by its id alone, as the API does: an item of a facility the token may not touch
    is refused by the session's scope (403), whatever the page's address says."""
    if doc.inventory_item_id is None:
        return
    item = find_inventory_item(session, doc.inventory_item_id)
    if item is not None:
        what = f"inventory item {item.inventory_item_id}"
        check_owner(session, item.facility_id, what, inventoryItemId=item.inventory_item_id)
    if item is None or item.facility_id != doc.facility_id or item.product_id != product_id:
        raise ValidationFailed(
            f"Item {doc.inventory_item_id} is not an item of {product_id} here",
            inventoryItemId=doc.inventory_item_id,
        )


@router.post("/receive", response_class=HTMLResponse, dependencies=POSTS)
def receive_shipment_line(
    request: Request, facility_id: PathId, product_id: PathId, principal: Staff, values: Values
) -> Response:
    """receivePurchaseShipment for one line of this product: accepted units in stock."""
    if (refused := guard(request, principal, facility_id, "POST", "/v1/receipts")) is not None:
        return refused
    form = FormState("receive", values)
    missing(form, shipmentId="Enter the shipment id.", shipmentItemSeqId="Enter the shipment line.")
    if nothing(values.get("quantityAccepted")) and nothing(values.get("quantityRejected")):
        form.errors["quantityAccepted"] = (
            "Enter how many units you accept, more than 0 (or how many you reject)."
            if values.get("quantityAccepted")
            else "Enter how many units you accept (or how many you reject)."
        )
    _rejection_reason(form)
    line_fields = (
        "shipmentItemSeqId",
        "quantityAccepted",
        "quantityRejected",
        "unitCost",
        "lotId",
        "expireDate",
        "locationSeqId",
        "rejectionReasonId",
    )
    line = {"productId": product_id, **filled(values, *line_fields)}
    document = {
        "facilityId": facility_id,
        **filled(values, "shipmentId", "additional"),
        "items": [line],
    }
    doc = validated(ReceiptDoc, document, form)

    def action(session: Session) -> str:
        assert doc is not None
        (received,) = receiving.receive_purchase_shipment(session, doc)
        accepted, rejected = received.line.quantity_accepted, received.line.quantity_rejected
        into = f" into {item_words(received.item)}" if received.item else ""
        return (
            f"Received {quantity(accepted)}{into} from shipment {doc.shipment_id}"
            f"{f', {quantity(rejected)} rejected' if rejected else ''}."
        )

    return run_form(request, principal, facility_id, product_id, form, action if doc else None)


def _rejection_reason(form: FormState) -> None:
    """Rejected units need one of the listed reasons, and a reason needs rejected units."""
    reason, rejected = form.values.get("rejectionReasonId"), form.values.get("quantityRejected")
    if reason and reason not in REJECTION_REASON_IDS:
        form.errors["rejectionReasonId"] = "Choose one of the listed reasons."
    elif reason and nothing(rejected) and not form.errors.get("quantityRejected"):
        form.errors["rejectionReasonId"] = (
            "No unit is rejected: leave this empty, or enter how many units you reject."
        )
    elif not reason and not nothing(rejected):
        form.errors["rejectionReasonId"] = "Choose why the units were rejected."
