"""Route of physical inventories: a seed PhysicalInventory document, or a cycle count."""

from typing import Any

from fastapi import APIRouter, Body
from pydantic import ValidationError as PydanticValidationError

from stockledger.catalog import importer
from stockledger.catalog.schemas import ImportResult, PhysicalInventoryDoc
from stockledger.core.deps import WriteSession
from stockledger.core.errors import ValidationFailed
from stockledger.core.exact_json import ExactJsonRoute
from stockledger.core.openapi import documented_body
from stockledger.counts import service
from stockledger.counts.schemas import CountDoc, CountResult

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
        return ImportResult(
            document_type=outcome.document_type,
            counts=dict(outcome.counts),
            ledger_rows_written=outcome.ledger_rows_written,
        )
    try:
        count = CountDoc.model_validate(document)
    except PydanticValidationError as exc:
        raise ValidationFailed("The count does not match its schema", **importer.clean_errors(exc)) from exc
    return service.record_count(session, count)
