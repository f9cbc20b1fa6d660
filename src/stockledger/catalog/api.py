"""Routes of the catalogue: seed import, facilities, products, findOrCreate."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from stockledger.catalog import importer, inventory_items, reads, service
from stockledger.catalog.schemas import (
    FacilityDoc,
    FacilityOut,
    FacilityProductList,
    FacilityProductOut,
    ImportResult,
    InventoryItemDoc,
    LocationOut,
    PhysicalInventoryDoc,
    ProductDoc,
    ProductFacilityLocationOut,
    ProductFacilityOut,
    ProductOut,
    StockedItemList,
    StockedItemOut,
)
from stockledger.core.deps import ReadSession, WriteSession
from stockledger.core.dialects import analyze_after_commit, inserts_counted
from stockledger.core.exact_json import ExactJsonRoute
from stockledger.core.gc_pause import collections_paused
from stockledger.core.openapi import documented_body
from stockledger.core.pagination import IdCursor, Limit, decode_cursor, page_of
from stockledger.core.schemas import ID_MAX, PathId
from stockledger.ledger.schemas import InventoryItemOut

router = APIRouter(prefix="/v1", tags=["catalog"], route_class=ExactJsonRoute)

IMPORT_EXAMPLE = {
    "facilityId": "FACILITY_1",
    "facilityTypeId": "RETAIL_STORE",
    "facilityName": "Main Street Store",
    "facilityLocations": [{"locationSeqId": "0001", "locationTypeEnumId": "FLT_PICKLOC", "areaId": "A"}],
}


@router.post(
    "/import",
    response_model=ImportResult,
    summary="Load a seed document (upsert)",
    openapi_extra=documented_body(
        "ImportDocument",
        FacilityDoc,
        ProductDoc,
        [InventoryItemDoc],
        PhysicalInventoryDoc,
        example=IMPORT_EXAMPLE,
    ),
)
def import_document(session: WriteSession, document: Any = Body(...)) -> ImportResult:
    """A facility with facilityLocations or products, a list of InventoryItems with
    inventoryItemDetails, or a PhysicalInventory with inventoryItemVariances."""
    inserts_before = inserts_counted(session)
    with collections_paused():  # as `stockledger load` does (core.gc_pause)
        outcome = importer.import_document(session, document)
    analyze_after_commit(session, inserts_before)  # the tables a large document grew, once committed
    return importer.import_result(outcome)


@router.get("/facilities/{facility_id}", response_model=FacilityOut)
def get_facility(facility_id: PathId, session: ReadSession) -> FacilityOut:
    facility, locations = service.get_facility(session, facility_id)
    return FacilityOut(
        facility_id=facility.facility_id,
        facility_type_id=facility.facility_type_id,
        facility_name=facility.facility_name,
        costing_method_id=facility.costing_method_id,
        facility_locations=[LocationOut.model_validate(loc) for loc in locations],
    )


@router.get("/products/{product_id}", response_model=ProductOut)
def get_product(product_id: PathId, session: ReadSession) -> ProductOut:
    """The product, with its ProductFacility rows and their locations in the token's facilities."""
    product, links = service.get_product(session, product_id)
    locations = reads.product_locations(session, product_id)
    return ProductOut(
        product_id=product.product_id,
        product_type_id=product.product_type_id,
        product_name=product.product_name,
        description=product.description,
        product_facilities=[
            ProductFacilityOut.model_validate(pf).model_copy(
                update={
                    "product_facility_locations": [
                        ProductFacilityLocationOut.model_validate(loc)
                        for loc in locations
                        if loc.facility_id == pf.facility_id
                    ]
                }
            )
            for pf in links
        ],
    )


@router.get(
    "/facilities/{facility_id}/products",
    response_model=FacilityProductList,
    operation_id="listFacilityProducts",
    summary="The products a facility carries",
)
def list_facility_products(
    facility_id: PathId, session: ReadSession, limit: Limit = 100, cursor: IdCursor = None
) -> FacilityProductList:
    """The facility's ProductFacility rows with each product's name and type, by productId."""
    after = decode_cursor(cursor, str)
    rows = reads.facility_products(session, facility_id, after[0] if after else None, limit + 1)
    page, following = page_of(rows, limit, lambda r: (r.link.product_id,))
    return FacilityProductList(
        facility_id=facility_id,
        items=[_carried(r) for r in page],
        next=following,
    )


def _carried(row: reads.CarriedProduct) -> FacilityProductOut:
    link = row.link
    return FacilityProductOut(
        product_id=link.product_id,
        product_name=row.product_name,
        product_type_id=row.product_type_id,
        minimum_stock=link.minimum_stock,
        reorder_quantity=link.reorder_quantity,
        days_to_ship=link.days_to_ship,
        inventory_item_id=link.inventory_item_id,
    )


@router.post(
    "/facilities/{facility_id}/products/{product_id}/inventory-item",
    response_model=InventoryItemOut,
    summary="findOrCreateFacilityInventoryItem",
)
def find_or_create_inventory_item(
    facility_id: PathId, product_id: PathId, session: WriteSession
) -> InventoryItemOut:
    item = inventory_items.find_or_create_facility_inventory_item(session, facility_id, product_id)
    return InventoryItemOut.model_validate(item)


@router.get(
    "/inventory-items",
    response_model=StockedItemList,
    operation_id="listFacilityInventoryItems",
    summary="A facility's inventory items: lots, locations, status, expiry, QOH, ATP",
)
def list_inventory_items(
    session: ReadSession,
    facility_id: Annotated[str, Query(alias="facilityId", min_length=1, max_length=ID_MAX)],
    product_id: Annotated[str | None, Query(alias="productId", min_length=1, max_length=ID_MAX)] = None,
    limit: Limit = 100,
    cursor: IdCursor = None,
) -> StockedItemList:
    """The facility's inventory items (of one product, with `productId`) by inventoryItemId, each
    with its lot, expiry, status, location (area, aisle, section) and totals."""
    after = decode_cursor(cursor, str)
    rows = reads.facility_items(session, facility_id, product_id, after[0] if after else None, limit + 1)
    page, following = page_of(rows, limit, lambda r: (r.item.inventory_item_id,))
    return StockedItemList(items=[_stocked(r) for r in page], next=following)


def _stocked(row: reads.StockedItem) -> StockedItemOut:
    item = InventoryItemOut.model_validate(row.item)
    return StockedItemOut(
        **item.model_dump(), area_id=row.area_id, aisle_id=row.aisle_id, section_id=row.section_id
    )
