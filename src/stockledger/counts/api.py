"""Routes of physical inventories: a seed PhysicalInventory document or a cycle count, and reading one."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import ValidationError as PydanticValidationError

from stockledger.catalog import importer
from stockledger.catalog.schemas import ImportResult, PhysicalInventoryDoc
from stockledger.core.deps import ReadSession, WriteSession
from stockledger.core.errors import ValidationFailed
from stockledger.core.exact_json import ExactJsonRoute
from stockledger.core.openapi import documented_body
from stockledger.core.schemas import ID_MAX, PathId
from stockledger.counts import reads, service
from stockledger.counts.schemas import CountDoc, CountResult, ItemVarianceOut, PhysicalInventoryOut

router = APIRouter(prefix="/v1", tags=["counts"], route_class=ExactJsonRoute)

COUNT_EXAMPLE = {
    "physicalInventoryId": "PI_20260115_A",
    "facilityId": "FACILITY_1",
    "partyId": "PARTY_EMPLOYEE_JOHN_DOE",
    "counts": [
        {"productId": "FG001", "quantityCounted": 30},
        {"inventoryItemId": "FG002-INV-002", "quantityCounted": 8, "varianceReasonId": "VAR_DAMAGED"},
    ],
}


@router.post(
    "/physical-inventories",
    response_model=CountResult | ImportResult,
    summary="createPhysicalInventory: a seed document with variances, or a cycle count",
    openapi_extra=documented_body(
        "PhysicalInventoryRequest", CountDoc, PhysicalInventoryDoc, example=COUNT_EXAMPLE
    ),
)
def create_physical_inventory(
    session: WriteSession, document: dict[str, Any] = Body(...)
) -> CountResult | ImportResult:
    """With `inventoryItemVariances`: loaded as the seed document it is. With `counts`: QOH := counted
    (a product's count spread over its sellable items, none below zero), ATP := QOH − active
    reservations, each difference a ledger row linked to the count."""
    if "inventoryItemVariances" in document:
        outcome = importer.import_document(session, document)
        return importer.import_result(outcome)
    try:
        count = CountDoc.model_validate(document)
    except PydanticValidationError as exc:
        raise ValidationFailed("The count does not match its schema", **importer.clean_errors(exc)) from exc
    return service.record_count(session, count)


@router.get(
    "/physical-inventories/{physical_inventory_id}",
    response_model=PhysicalInventoryOut,
    operation_id="getPhysicalInventory",
)
def get_physical_inventory(
    physical_inventory_id: PathId,
    session: ReadSession,
    facility_id: Annotated[str | None, Query(alias="facilityId", min_length=1, max_length=ID_MAX)] = None,
) -> PhysicalInventoryOut:
    """A count (or an imported PhysicalInventory) with its variances by inventoryItemId. Its id is
    the caller's: when it exists in several of the token's facilities, `facilityId` says which (422)."""
    count, variances = reads.get_physical_inventory(session, physical_inventory_id, facility_id)
    return PhysicalInventoryOut(
        physical_inventory_id=count.physical_inventory_id,
        facility_id=count.facility_id,
        physical_inventory_date=count.physical_inventory_date,
        party_id=count.party_id,
        general_comments=count.general_comments,
        change_by_user_login_id=count.change_by_user_login_id,
        inventory_item_variances=[ItemVarianceOut.model_validate(v) for v in variances],
    )
