"""Pages to look at stock: facility picker, facility stock, a product in a facility, item history."""

from typing import Annotated, get_args

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from stockledger.auth.rules import Principal
from stockledger.catalog import service as catalog
from stockledger.core.deps import ReadSession
from stockledger.core.errors import AppError
from stockledger.core.pagination import decode_cursor, encode_cursor
from stockledger.core.schemas import PathId
from stockledger.ledger import items
from stockledger.web import chart, queries, stock_export, stock_links
from stockledger.web.auth import Staff, may
from stockledger.web.formstate import blank_forms
from stockledger.web.page_errors import error_page
from stockledger.web.product_view import product_context
from stockledger.web.templating import render

router = APIRouter(prefix="/ui", include_in_schema=False)

STOCK_PAGE = 50
HISTORY_PAGE = 25
CHART_ROWS = 200  # the chart shows the item's latest changes; the table pages through them all
Search = Annotated[str | None, Query(max_length=60)]
Cursor = Annotated[str | None, Query(max_length=200)]
# Sorting and filtering are the page's own links: a value it never writes is ignored (the default).
Sort = Annotated[str, Query(max_length=200)]
Direction = Annotated[str, Query(alias="dir", max_length=200)]
BelowMinimum = Annotated[str, Query(alias="belowMinimum", max_length=200)]
SORT_KEYS: tuple[queries.SortKey, ...] = get_args(queries.SortKey)
PageNumber = Annotated[int, Query(ge=1, le=10_000)]


def sort_key(sort: str) -> queries.SortKey:
    """The column to sort by: one the page offers, else the default."""
    for key in SORT_KEYS:
        if key == sort:
            return key
    return "product"


def stock_query(q: str | None, sort: str, direction: str, below_minimum: str) -> queries.StockQuery:
    below = below_minimum.lower() in ("true", "1", "on", "yes")
    return queries.StockQuery((q or "").strip() or None, sort_key(sort), direction == "desc", below)


def refuse(request: Request, principal: Principal | None, status: int, message: str) -> HTMLResponse:
    return error_page(request, principal, status, message)


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
    sort: Sort = "product",
    direction: Direction = "asc",
    below_minimum: BelowMinimum = "",
    page: PageNumber = 1,
) -> Response:
    if (refused := refused_facility(request, principal, facility_id)) is not None:
        return refused
    try:
        facility, _ = catalog.get_facility(session, facility_id)
        key = decode_cursor(after, str)
    except AppError as exc:
        return refuse(request, principal, exc.status, exc.detail)
    query = stock_query(q, sort, direction, below_minimum)
    if query.keyset:
        rows = queries.stock_page(
            session, facility_id, query.search, str(key[0]) if key else None, STOCK_PAGE + 1
        )
    else:
        offset = (page - 1) * STOCK_PAGE
        ids = queries.stock_sorted(session, facility_id, query, offset, STOCK_PAGE + 1)
        rows = queries.stock_rows(session, facility_id, ids)
    shown, more = rows[:STOCK_PAGE], len(rows) > STOCK_PAGE
    links = stock_links.StockLinks(facility_id, query, page)
    return render(
        request,
        "stock.html",
        title=f"Stock at {facility.facility_name or facility_id}",
        principal=principal,
        facility=facility,
        rows=shown,
        search=query.search or "",
        query=query,
        links=links,
        columns=stock_links.COLUMNS,
        first_page=after is None and page == 1,
        next_url=links.next_page(shown[-1].product_id if shown else None) if more else None,
    )


@router.get("/facilities/{facility_id}/stock.csv")
def facility_stock_csv(
    request: Request,
    facility_id: PathId,
    principal: Staff,
    session: ReadSession,
    q: Search = None,
    sort: Sort = "product",
    direction: Direction = "asc",
    below_minimum: BelowMinimum = "",
) -> Response:
    """The stock page's export: every row of its search, filter and sort (stock_export)."""
    if (refused := refused_facility(request, principal, facility_id)) is not None:
        return refused
    try:
        catalog.get_facility(session, facility_id)
    except AppError as exc:
        return refuse(request, principal, exc.status, exc.detail)
    return stock_export.stock_csv(request, facility_id, stock_query(q, sort, direction, below_minimum))


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
        rows=queries.with_balances(session, item, page),
        first_page=after is None,
        next_cursor=encode_cursor([page[-1].seq_num]) if more else None,
        chart=chart.draw(series),
        chart_is_partial=len(latest) == CHART_ROWS,
    )
