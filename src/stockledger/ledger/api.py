"""Routes that read the ledger: items, their detail rows, the view, availability."""

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic.alias_generators import to_camel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from stockledger.core.async_pool import AsyncPoolUnavailable
from stockledger.core.csv_export import (
    CSV_RESPONSE,
    CsvResponse,
    Format,
    csv_export,
    csv_response,
    wants_csv,
)
from stockledger.core.db import Database
from stockledger.core.deps import ReadSession, get_database
from stockledger.core.exact_marks import exact_numbers
from stockledger.core.pagination import Cursor, KeyCursor, Limit, Page, decode_cursor, page_of
from stockledger.core.schemas import Instant, PathId
from stockledger.core.scope import facilities_in_scope
from stockledger.ledger import items, views
from stockledger.ledger.models import InventoryItem, InventoryItemDetail
from stockledger.ledger.schemas import (
    AvailabilityOut,
    DetailOut,
    InventoryItemOut,
    ProductFacilityInventoryItemOut,
)

router = APIRouter(prefix="/v1", tags=["ledger"])


class DetailPage(Page[DetailOut]):
    """A page of an inventory item's ledger rows."""


class ProductFacilityInventoryPage(Page[ProductFacilityInventoryItemOut]):
    """A page of ProductFacilityInventoryItem rows."""


@router.get("/inventory-items/{inventory_item_id}", response_model=InventoryItemOut)
def get_inventory_item(inventory_item_id: PathId, session: ReadSession) -> InventoryItemOut:
    return InventoryItemOut.model_validate(items.get_inventory_item(session, inventory_item_id))


@router.get(
    "/inventory-items/{inventory_item_id}/details",
    response_model=DetailPage,
    responses=CSV_RESPONSE,
)
def list_details(
    inventory_item_id: PathId,
    session: ReadSession,
    request: Request,
    limit: Limit = 100,
    cursor: Cursor = None,
    format: Format = None,
) -> DetailPage | Response:
    """The item's ledger rows, oldest first. With `Accept: text/csv` (or `format=csv`) every row,
    streamed as CSV (`limit` and `cursor` do not apply)."""
    item = items.get_inventory_item(session, inventory_item_id)
    if wants_csv(request, format):
        return _details_csv(request, item)
    after = decode_cursor(cursor, int)
    rows = items.list_details(session, item, int(after[0]) if after else None, limit + 1)
    page, nxt = page_of(rows, limit, lambda d: (d.seq_num,))
    return DetailPage(items=[DetailOut.model_validate(d) for d in page], next=nxt)


@router.get(
    "/inventory-items/{inventory_item_id}/details.csv",
    response_class=CsvResponse,
    responses=csv_export([field.alias or name for name, field in DetailOut.model_fields.items()]),
)
def export_details(inventory_item_id: PathId, session: ReadSession, request: Request) -> Response:
    """Every ledger row of the item, oldest first, streamed as CSV: what `Accept: text/csv` on
    the list answers, as an operation of its own (a typed client gets it as text)."""
    return _details_csv(request, items.get_inventory_item(session, inventory_item_id))


def _details_csv(request: Request, item: InventoryItem) -> Response:
    def read_chunk(session: Session, after: int | None, size: int) -> list[InventoryItemDetail]:
        return items.list_details(session, item, after, size)

    return csv_response(
        request,
        DETAIL_HEADER,
        read_chunk,
        lambda d: d.seq_num,
        lambda d: [getattr(d, name) for name in DetailOut.model_fields],
        f"{item.inventory_item_id}-details.csv",
    )


DETAIL_HEADER = [field.alias or name for name, field in DetailOut.model_fields.items()]


@router.get(
    "/product-facility-inventory",
    response_model=ProductFacilityInventoryPage,
    responses=CSV_RESPONSE,
)
def product_facility_inventory(
    session: ReadSession,
    request: Request,
    facility_id: Annotated[str | None, Query(alias="facilityId")] = None,
    product_id: Annotated[str | None, Query(alias="productId")] = None,
    limit: Limit = 100,
    cursor: KeyCursor = None,
    format: Format = None,
) -> ProductFacilityInventoryPage | Response:
    """Rows of the ProductFacilityInventoryItem view (computedInventoryCount = ATP − minimumStock).

    Without `facilityId`, a token scoped to facilities sees only theirs (naming another is a 403).
    With `Accept: text/csv` (or `format=csv`) every row of the same filters, streamed as CSV
    (`notPromisable` as one column per kind; `limit` and `cursor` do not apply)."""
    if wants_csv(request, format):
        return stock_csv(request, facility_id, product_id)
    after = decode_cursor(cursor, str, str)
    rows = views.product_facility_rows(
        session,
        facility_id,
        product_id,
        (after[0], after[1]) if after else None,
        limit + 1,
        within=facilities_in_scope(session),
    )
    page, nxt = page_of(rows, limit, lambda r: (r["facility_id"], r["product_id"]))
    return ProductFacilityInventoryPage(
        items=[ProductFacilityInventoryItemOut.model_validate(r) for r in page], next=nxt
    )


def stock_csv(request: Request, facility_id: str | None, product_id: str | None) -> Response:
    """The view's rows of these filters (and the caller's facilities) as a streamed CSV."""

    def read_chunk(session: Session, after: tuple[str, str] | None, size: int) -> list[dict[str, object]]:
        within = facilities_in_scope(session)
        return views.product_facility_rows(session, facility_id, product_id, after, size, within=within)

    return csv_response(
        request,
        STOCK_HEADER,
        read_chunk,
        lambda r: (r["facility_id"], r["product_id"]),
        _stock_cells,
        "product-facility-inventory.csv",
    )


STOCK_COLUMNS = (
    "facility_id",
    "product_id",
    "inventory_item_id",
    "minimum_stock",
    "quantity_on_hand_total",
    "available_to_promise_total",
    "computed_inventory_count",
)
STOCK_HEADER = [to_camel(c) for c in STOCK_COLUMNS] + [
    "notPromisable" + to_camel(kind)[0].upper() + to_camel(kind)[1:] for kind in views.NOT_PROMISABLE_KINDS
]


def _stock_cells(row: dict[str, object]) -> list[object]:
    held = row["not_promisable"]
    return [row[c] for c in STOCK_COLUMNS] + [getattr(held, kind) for kind in views.NOT_PROMISABLE_KINDS]


@router.get("/product-facility-inventory.csv", response_class=CsvResponse, responses=csv_export(STOCK_HEADER))
def export_product_facility_inventory(
    request: Request,
    facility_id: Annotated[str | None, Query(alias="facilityId")] = None,
    product_id: Annotated[str | None, Query(alias="productId")] = None,
) -> Response:
    """Every row of the view of these filters (and the caller's facilities) streamed as CSV: what
    `Accept: text/csv` on the list answers, as an operation of its own (typed clients get text)."""
    return stock_csv(request, facility_id, product_id)


@router.get("/availability", response_model=AvailabilityOut)
async def get_availability(
    request: Request,
    facility_id: Annotated[str, Query(alias="facilityId", min_length=1)],
    product_id: Annotated[str, Query(alias="productId", min_length=1)],
    as_of: Annotated[
        Instant | None,
        Query(alias="asOf", description="Replay the ledger to this instant (no offset given: UTC)"),
    ] = None,
    allow_expired: Annotated[
        bool,
        Query(
            alias="allowExpired",
            description="Count expired lots as promisable, as a reservation with allowExpired does",
        ),
    ] = False,
) -> Response:
    """QOH, ATP, reserved and computedInventoryCount of a product, summed over its items."""
    # A hot read: one statement, the JSON encoded at once, and a Response returned, so FastAPI
    # neither validates nor encodes the answer a second time (response_model still documents
    # it). PostgreSQL: on the event loop (async pool, no thread hop); else, or when that pool
    # has no connection at hand, on a pooled driver connection in one worker-thread hop.
    # bench/RESULTS.md: availability_p99.
    db = get_database(request)
    if db.async_pool is not None and as_of is None and not allow_expired:
        try:
            found = await views.availability_now(db, facility_id, product_id)
            return Response(content=availability_json(found), media_type="application/json")
        except AsyncPoolUnavailable:
            pass
    body = await run_in_threadpool(_availability_json, db, facility_id, product_id, as_of, allow_expired)
    return Response(content=body, media_type="application/json")


def _availability_json(
    db: Database, facility_id: str, product_id: str, as_of: datetime | None, allow_expired: bool
) -> bytes:
    return availability_json(views.availability(db, facility_id, product_id, as_of, allow_expired))


def availability_json(found: views.Availability) -> bytes:
    """The answer of GET /v1/availability: AvailabilityOut's JSON. The common answer (now, plain
    ids, whole quantities) is written from a template, the same bytes for about a quarter of the
    CPU (3.4 µs, not 12.4: on the hot read's path, bench/RESULTS.md: availability_p99); any other
    through the model."""
    return _whole_availability_json(found) or exact_numbers(
        AvailabilityOut.model_validate(found).model_dump_json(by_alias=True).encode()
    )


# AvailabilityOut as model_dump_json(by_alias=True) writes it, for ids of printable ASCII that
# JSON leaves as they are (no quote, no backslash) and whole quantities (json_number: integers)
_WHOLE_AVAILABILITY = (
    '{"facilityId":"%s","productId":"%s","quantityOnHandTotal":%d,"availableToPromiseTotal":%d,'
    '"reservedQuantity":%d,"minimumStock":%d,"computedInventoryCount":%d,"notPromisable":{"onHold":%d,'
    '"returned":%d,"defective":%d,"expired":%d,"other":%d},"asOf":null}'
)
_PLAIN_ID = re.compile(r"[ !#-\[\]-~]*")


def _whole_availability_json(found: views.Availability) -> bytes | None:
    """availability_json's bytes from _WHOLE_AVAILABILITY; None when it does not apply."""
    held = found.not_promisable
    quantities = (
        found.quantity_on_hand_total,
        found.available_to_promise_total,
        found.reserved_quantity,
        found.minimum_stock,
        found.computed_inventory_count,
        held.on_hold,
        held.returned,
        held.defective,
        held.expired,
        held.other,
    )
    if (
        found.as_of is not None
        or not _PLAIN_ID.fullmatch(found.facility_id)
        or not _PLAIN_ID.fullmatch(found.product_id)
    ):
        return None
    for quantity in quantities:
        if not (quantity.is_finite() and quantity == quantity.to_integral_value()):
            return None
    return (_WHOLE_AVAILABILITY % (found.facility_id, found.product_id, *map(int, quantities))).encode()
