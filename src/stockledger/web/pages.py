"""Pages to look at stock: facility picker, facility stock, a product in a facility, item history."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from stockledger.auth.rules import Principal
from stockledger.catalog import service as catalog
from stockledger.core.deps import ReadSession
from stockledger.core.errors import AppError
from stockledger.core.pagination import decode_cursor, encode_cursor
from stockledger.core.schemas import PathId
from stockledger.ledger import items, views
from stockledger.ledger.models import InventoryItem
from stockledger.web import chart, queries
from stockledger.web.auth import Staff, may
from stockledger.web.formstate import blank_forms
from stockledger.web.templating import render

router = APIRouter(prefix="/ui", include_in_schema=False)

STOCK_PAGE = 50
HISTORY_PAGE = 25
CHART_ROWS = 200  # the chart shows the item's latest changes; the table pages through them all
# Forms whose service exists: a form is shown only when it can be served.
READY = {"count": True, "variance": True, "receive": True, "reserve": True, "cancel": True}
# Forms whose service exists: a form is shown only when it can be served.
READY = {"count": True, "variance": True, "receive": True, "reserve": True, "cancel": True}
Search = Annotated[str | None, Query(max_length=60)]
Cursor = Annotated[str | None, Query(max_length=200)]


def refuse(request: Request, principal: Principal | None, status: int, message: str) -> HTMLResponse:
    titles = {403: "Not allowed", 404: "Not found"}
    title = titles.get(status, "Cannot show this page")
    return render(request, "error.html", status, title=title, message=message, principal=principal)


def refused_facility(request: Request, principal: Principal, facility_id: str) -> HTMLResponse | None:
    if principal.may_touch(facility_id):
        return None
    return refuse(request, principal, 403, f"Your token may not see facility {facility_id}.")


@router.get("", response_class=HTMLResponse)
def facility_picker(request: Request, principal: Staff, session: ReadSession) -> Response:
    facilities = queries.facilities_for(session, principal)
    return render(
        request,
        "facilities.html",
        title="Choose a facility",
        principal=principal,
        facilities=facilities,
        may_reset=may(principal, "POST", "/v1/external-inventory-resets"),
    )


@router.get("/facilities/{facility_id}", response_class=HTMLResponse)
def facility_stock(
    request: Request,
    facility_id: PathId,
    principal: Staff,
    session: ReadSession,
    q: Search = None,
    after: Cursor = None,
) -> Response:
    if (refused := refused_facility(request, principal, facility_id)) is not None:
        return refused
    try:
        facility, _ = catalog.get_facility(session, facility_id)
        key = decode_cursor(after, str)
    except AppError as exc:
        return refuse(request, principal, exc.status, exc.detail)
    search = (q or "").strip() or None
    rows = queries.stock_page(session, facility_id, search, str(key[0]) if key else None, STOCK_PAGE + 1)
    page, more = rows[:STOCK_PAGE], len(rows) > STOCK_PAGE
    return render(
        request,
        "stock.html",
        title=f"Stock at {facility.facility_name or facility_id}",
        principal=principal,
        facility=facility,
        rows=page,
        search=search or "",
        first_page=after is None,
        next_cursor=encode_cursor([page[-1].product_id]) if more else None,
    )


@router.get("/facilities/{facility_id}/products/{product_id}", response_class=HTMLResponse)
def product_page(
    request: Request, facility_id: PathId, product_id: PathId, principal: Staff, session: ReadSession
) -> Response:
    if (refused := refused_facility(request, principal, facility_id)) is not None:
        return refused
    try:
        context = product_context(session, principal, facility_id, product_id)
    except AppError as exc:
        return refuse(request, principal, exc.status, exc.detail)
    done = request.query_params.get("done")
    return render(request, "product.html", **context, forms=blank_forms(), message=done)


def product_context(
    session: Session, principal: Principal, facility_id: str, product_id: str
) -> dict[str, Any]:
    """What the product page shows: the availability numbers, the items, reservations, and forms allowed."""
    facility, _ = catalog.get_facility(session, facility_id)
    availability = views.availability(session, facility_id, product_id)
    name = queries.product_name(session, product_id)
    items = queries.items_of(session, facility_id, product_id)
    return {
        "title": f"{product_id} at {facility.facility_name or facility_id}",
        "principal": principal,
        "facility": facility,
        "product_id": product_id,
        "product_name": name,
        "availability": availability,
        "items": items,
        "item_options": [(i.inventory_item_id, _item_label(i)) for i in items],
        "reservations": queries.active_reservations(session, facility_id, product_id),
        "reasons_options": [
            (r.variance_reason_id, r.description or r.variance_reason_id)
            for r in queries.variance_reasons(session)
        ],
        "allowed": allowed_forms(principal),
        "ready": READY,
    }


def _item_label(item: InventoryItem) -> str:
    extra = [f"lot {item.lot_id}" if item.lot_id else "", item.status_id]
    return " · ".join([item.inventory_item_id, *[e for e in extra if e]])


def allowed_forms(principal: Principal) -> dict[str, bool]:
    """Each form is shown only to roles that may make its API call."""
    return {
        "receive": may(principal, "POST", "/v1/receipts"),
        "count": may(principal, "POST", "/v1/physical-inventories"),
        "variance": may(principal, "POST", "/v1/variances"),
        "reserve": may(principal, "POST", "/v1/reservations"),
        "cancel": may(principal, "DELETE", "/v1/reservations/x/x"),
    }


@router.get("/items/{inventory_item_id}", response_class=HTMLResponse)
def item_history(
    request: Request, inventory_item_id: PathId, principal: Staff, session: ReadSession, after: Cursor = None
) -> Response:
    try:
        item = items.get_inventory_item(session, inventory_item_id)
        key = decode_cursor(after, int)
    except AppError as exc:
        return refuse(request, principal, exc.status, exc.detail)
    if (refused := refused_facility(request, principal, item.facility_id)) is not None:
        return refused
    rows = items.list_details(session, item, int(key[0]) if key else None, HISTORY_PAGE + 1, True)
    page, more = rows[:HISTORY_PAGE], len(rows) > HISTORY_PAGE
    latest = items.list_details(session, item, None, CHART_ROWS, newest_first=True)
    series = chart.levels(item.quantity_on_hand_total, item.available_to_promise_total, latest)
    return render(
        request,
        "item.html",
        title=f"History of {inventory_item_id}",
        principal=principal,
        item=item,
        product_name=queries.product_name(session, item.product_id),
        rows=page,
        first_page=after is None,
        next_cursor=encode_cursor([page[-1].seq_num]) if more else None,
        chart=chart.draw(series),
        chart_is_partial=len(latest) == CHART_ROWS,
    )
