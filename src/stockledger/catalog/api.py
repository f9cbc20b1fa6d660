"""Routes of the catalogue: seed import, facilities, products, findOrCreate."""

from typing import Any

from fastapi import APIRouter, Body

from stockledger.catalog import importer, inventory_items, service
from stockledger.catalog.schemas import (
    FacilityOut,
    ImportResult,
    LocationOut,
    ProductFacilityOut,
    ProductOut,
)
from stockledger.core.db import analyze_after_commit, inserts_counted
from stockledger.core.deps import ReadSession, WriteSession
from stockledger.core.exact_json import ExactJsonRoute
from stockledger.core.schemas import PathId
from stockledger.ledger.schemas import InventoryItemOut

router = APIRouter(prefix="/v1", tags=["catalog"], route_class=ExactJsonRoute)

IMPORT_EXAMPLE = {
    "facilityId": "FACILITY_1",
    "facilityTypeId": "RETAIL_STORE",
    "facilityName": "Main Street Store",
    "facilityLocations": [{"locationSeqId": "0001", "locationTypeEnumId": "FLT_PICKLOC", "areaId": "A"}],
}


@router.post("/import", response_model=ImportResult, summary="Load a seed document (upsert)")
def import_document(
    session: WriteSession,
    document: Any = Body(..., examples=[IMPORT_EXAMPLE]),
) -> ImportResult:
    """A facility with facilityLocations or products, a list of InventoryItems with
    inventoryItemDetails, or a PhysicalInventory with inventoryItemVariances."""
    inserts_before = inserts_counted(session)
    outcome = importer.import_document(session, document)
    analyze_after_commit(session, inserts_before)  # the tables a large document grew, once committed
    return ImportResult(
        document_type=outcome.document_type,
        counts=dict(outcome.counts),
        ledger_rows_written=outcome.ledger_rows_written,
    )


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
    product, links = service.get_product(session, product_id)
    return ProductOut(
        product_id=product.product_id,
        product_type_id=product.product_type_id,
        product_name=product.product_name,
        description=product.description,
        product_facilities=[ProductFacilityOut.model_validate(pf) for pf in links],
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
