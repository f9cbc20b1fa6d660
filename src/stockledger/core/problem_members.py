"""The members a problem+json carries beside RFC 9457's and `code`, typed in the contract (so a
generated client exposes them as attributes, not as untyped extras). Each is optional: which
codes carry which is said in its description; tests/e2e/test_openapi_contract.py checks that
every keyword an AppError is raised with in src/ is one of these."""

from typing import Any

NUMBER = {"type": "number"}  # a quantity: a JSON number with at most 6 decimals
TEXT = {"type": "string"}
TEXT_OR_NULL = {"anyOf": [{"type": "string"}, {"type": "null"}]}
TEXTS = {"type": "array", "items": {"type": "string"}}


def _member(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {**schema, "description": description}


SHORT_LINE: dict[str, Any] = {
    "title": "ShortLine",
    "type": "object",
    "description": "A line of an order the stock cannot cover (insufficient_stock of a reservation)",
    "required": ["orderItemSeqId", "productId", "requested", "available", "shortfall"],
    "properties": {
        "orderItemSeqId": TEXT,
        "productId": TEXT,
        "lotId": TEXT_OR_NULL,
        "requested": NUMBER,
        "available": NUMBER,
        "shortfall": _member(NUMBER, "requested − available"),
    },
}

_IDS = (
    "facilityId",
    "inventoryItemId",
    "inventoryResetId",
    "orderId",
    "physicalInventoryId",
    "productId",
    "receiptId",
    "requestedProductId",
    "returnId",
    "returnItemSeqId",
    "shipmentId",
    "shipmentItemSeqId",
    "tokenId",
    "varianceReasonId",
)
PROBLEM_MEMBERS: dict[str, dict[str, Any]] = {
    **{
        name: _member(TEXT, "An id the refusal is about (not_found, conflict, forbidden, …)") for name in _IDS
    },
    "orderItemSeqId": _member(TEXT_OR_NULL, "The order item the refusal is about (none: the whole order)"),
    "shipmentItemSeqIds": _member(TEXTS, "Lines of the shipment received already (already_received)"),
    "idempotencyKey": _member(TEXT, "The Idempotency-Key used for another request"),
    "lotId": _member(TEXT_OR_NULL, "The lot short of stock (insufficient_stock)"),
    "locationSeqId": _member(TEXT_OR_NULL, "A location not found in the facility"),
    "statusId": _member(TEXT, "The item's status that refuses the change (conflict)"),
    "expireDate": _member(TEXT_OR_NULL, "When the lot expired, ISO 8601 (insufficient_stock)"),
    "requested": _member(NUMBER, "What the request asks (insufficient_stock)"),
    "available": _member(NUMBER, "What the stock holds for it (insufficient_stock)"),
    "unreserved": _member(NUMBER, "What a shipment ships beyond its reservation (insufficient_stock)"),
    "quantityOnHandTotal": _member(NUMBER, "The item's quantity on hand (negative_stock)"),
    "reservedQuantity": _member(NUMBER, "What active reservations hold of the item (conflict)"),
    "quantityOnHandDiff": _member(NUMBER, "The change that would take it below zero (negative_stock)"),
    "quantityAccepted": _member(NUMBER, "What was accepted of the line before (already_received)"),
    "quantityRejected": _member(NUMBER, "What was rejected of the line before (already_received)"),
    "quantityShipped": _member(NUMBER, "What the order item shipped (return_exceeds_shipped)"),
    "quantityReturned": _member(NUMBER, "What of it came back already (return_exceeds_shipped)"),
    "returnable": _member(NUMBER, "What may still be returned (return_exceeds_shipped)"),
    "maxItemTotal": _member(NUMBER, "The most one inventory item may hold (quantity_overflow)"),
    "lines": {
        "type": "array",
        "items": {"$ref": "#/components/schemas/ShortLine"},
        "description": "Every line short of stock (insufficient_stock of a reservation)",
    },
    "line": _member({"type": "integer", "minimum": 1}, "The line of a CSV or reset refused"),
    "maxRecords": _member({"type": "integer"}, "The most records an import document holds"),
    "productIds": _member(TEXTS, "Products not found (the first 100)"),
    "facilityIds": _member(TEXTS, "Facilities not found"),
    "quantity": _member(
        NUMBER, "The quantity as sent, when it is not usable (0 or below; absent when not finite)"
    ),
    "cursor": _member(TEXT, "A cursor this service did not issue"),
    "fill": _member(TEXT, "A fill policy that is not one of the service's"),
    "rejectionMode": _member(TEXT, "A rejection mode that is not one of the service's"),
    "retryWith": _member(TEXT, "The flag that makes the same request go through (e.g. allowNegative)"),
    "differs": _member(
        {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["held", "given"],
                "properties": {"held": TEXT_OR_NULL, "given": TEXT_OR_NULL},
            },
        },
        "A ledger row or count variance sent again with other values (conflict of an import): "
        "each field that differs, as held and as given",
    ),
    "role": _member(TEXT, "A role that is not one of the service's"),
    "user": _member(TEXT, "A user name that is not usable"),
}
