"""Routes that read the ledger: items, their detail rows, the view, availability."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from stockledger.catalog import service
from stockledger.catalog.schemas import (
    AvailabilityOut,
    DetailOut,
    InventoryItemOut,
    ProductFacilityInventoryItemOut,
)
from stockledger.core.db import AsyncPoolUnavailable, Database
from stockledger.core.deps import ReadSession, get_database
from stockledger.core.pagination import Cursor, KeyCursor, Limit, Page, decode_cursor, page_of
from stockledger.core.schemas import PathId
from stockledger.core.scope import facilities_in_scope
from stockledger.ledger import views

router = APIRouter(prefix="/v1", tags=["ledger"])


class DetailPage(Page[DetailOut]):
    """A page of an inventory item's ledger rows."""


class ProductFacilityInventoryPage(Page[ProductFacilityInventoryItemOut]):
    """A page of ProductFacilityInventoryItem rows."""


@router.get("/inventory-items/{inventory_item_id}", response_model=InventoryItemOut)
def get_inventory_item(inventory_item_id: PathId, session: ReadSession) -> InventoryItemOut:
    return InventoryItemOut.model_validate(service.get_inventory_item(session, inventory_item_id))


@router.get("/inventory-items/{inventory_item_id}/details", response_model=DetailPage)
def list_details(
    inventory_item_id: PathId, session: ReadSession, limit: Limit = 100, cursor: Cursor = None
) -> DetailPage:
    """The item's ledger rows, oldest first."""
    item = service.get_inventory_item(session, inventory_item_id)
    after = decode_cursor(cursor, int)
    rows = service.list_details(session, item, int(after[0]) if after else None, limit + 1)
    page, nxt = page_of(rows, limit, lambda d: (d.seq_num,))
    return DetailPage(items=[DetailOut.model_validate(d) for d in page], next=nxt)


@router.get("/product-facility-inventory", response_model=ProductFacilityInventoryPage)
def product_facility_inventory(
    session: ReadSession,
    facility_id: Annotated[str | None, Query(alias="facilityId")] = None,
    product_id: Annotated[str | None, Query(alias="productId")] = None,
    limit: Limit = 100,
    cursor: KeyCursor = None,
) -> ProductFacilityInventoryPage:
    """Rows of the ProductFacilityInventoryItem view (computedInventoryCount = ATP − minimumStock).

    Without `facilityId`, a token scoped to facilities sees only theirs (naming another is a 403)."""
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


@router.get("/availability", response_model=AvailabilityOut)
async def get_availability(
    request: Request,
    facility_id: Annotated[str, Query(alias="facilityId", min_length=1)],
    product_id: Annotated[str, Query(alias="productId", min_length=1)],
    as_of: Annotated[
        datetime | None, Query(alias="asOf", description="Replay the ledger to this instant")
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
    return AvailabilityOut.model_validate(found).model_dump_json(by_alias=True).encode()
