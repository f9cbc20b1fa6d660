"""Write docs/api.md from real requests: one per endpoint of /openapi.json, on a fresh SQLite database.

    .venv/bin/python docs/gen_api.py           # rewrite docs/api.md
    .venv/bin/python docs/gen_api.py --check   # exit 1 when docs/api.md differs (volatile values aside)

The app runs in-process (TestClient) on a new SQLite file loaded with the seed demo data; each
example below is sent in order and its real answer is written down. Text between
`<!-- prose:NAME -->` and `<!-- /prose:NAME -->` in docs/api.md is hand-written and kept as is.
tests/e2e/test_docs_api.py regenerates the page and compares it with the committed one.
"""

import json
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from stockledger.app import create_app
from stockledger.auth.rules import ROLES, is_open, may_call
from stockledger.auth.service import create_token
from stockledger.catalog.cli import load_documents
from stockledger.catalog.seeds import seed_documents
from stockledger.core import migrate
from stockledger.core.db import Database

API_MD = Path(__file__).resolve().parent / "api.md"
PROSE = re.compile(r"<!-- prose:(?P<name>[\w-]+) -->\n(?P<text>.*?)<!-- /prose:(?P=name) -->", re.DOTALL)
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

# What each endpoint does (one paragraph) and the error codes it may answer besides the
# ones every /v1 call may get (401 unauthorized, 403 forbidden, 503 database_unavailable).
ENDPOINTS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("GET", "/healthz"): (
        "Liveness and database check for load balancers. No token. 503 `database_unavailable` "
        "when the database cannot be reached.",
        ("database_unavailable",),
    ),
    ("GET", "/metrics"): (
        "Prometheus text format: request latency by route, reservations by outcome, ledger rows "
        "posted (see [operations.md](operations.md#metrics)). No token. Below, an excerpt: the "
        "stockledger counters only (sample values vary from run to run).",
        (),
    ),
    ("POST", "/v1/import"): (
        "Load one seed-format document (upsert): a facility with `facilityLocations` or "
        "`products`, a list of InventoryItems with `inventoryItemDetails`, or a PhysicalInventory "
        "with `inventoryItemVariances`. The answer says what was written, by kind of record: `created`, "
        "`updated` (a field the document gives held another value), `unchanged` (there as given: not "
        "written), each listing every kind the document holds; `counts` is the rows written (created + "
        "updated: a record named twice is one row) and `ledgerRowsWritten` the ledger rows. Loading the "
        "same document again writes nothing (`counts` all 0, all `unchanged`). An item keeps "
        "its facility and its product: naming an existing item with another one is 409 `conflict` "
        "and applies nothing. The ledger is append-only: a ledger row (same item and "
        "`inventoryItemDetailSeqId`) or a count variance (same count and item) sent again as it is "
        "stays `unchanged`, and sent with other values is 409 `conflict` naming the row and, in "
        "`differs`, each field `held` and `given`; nothing of the document is written. A count sent "
        "without `physicalInventoryDate` is dated by its first load, and a reload keeps that date. "
        "At most 50,000 records (objects and array elements); an item's total "
        "at most 10^12 units. Only the members the format lists: another (`inventoryItemVariances` in "
        "a facility document) is 422 `extra_forbidden` naming it, and nothing is loaded. A product "
        "document on its own names no facility: its `productFacility` or `productFacilityLocations` is "
        "422 `validation_failed` naming it (they go under the product in its facility's document). The OFBiz "
        "entity engine's audit stamps (`lastUpdatedStamp`, `lastUpdatedTxStamp`, `createdStamp`, "
        "`createdTxStamp`), on every record of an OFBiz export, are accepted and not stored.",
        ("validation_failed", "malformed_json", "not_found", "conflict", "quantity_overflow"),
    ),
    ("GET", "/v1/facilities/{facility_id}"): (
        "A facility, its costing method and its locations.",
        ("not_found",),
    ),
    ("PATCH", "/v1/facilities/{facility_id}"): (
        "Set the facility's `costingMethodId` (`FIFO`, `LIFO` or `AVERAGE`): how shipments from it "
        "are priced from now on.",
        ("not_found", "validation_failed"),
    ),
    ("GET", "/v1/products/{product_id}"): (
        "A product and its ProductFacility rows (minimum stock, reorder quantity, the facility item), "
        "each with its `productFacilityLocations` (where the product is kept: location, minimum stock, "
        "move quantity). A token scoped to facilities sees the rows of its facilities only.",
        ("not_found",),
    ),
    ("GET", "/v1/facilities/{facility_id}/products"): (
        "The products a facility carries: its ProductFacility rows with each product's name and type, "
        "by `productId`. Paginated.",
        ("not_found", "validation_failed"),
    ),
    ("GET", "/v1/inventory-items"): (
        "A facility's inventory items (`facilityId`, required; one product's with `productId`), by "
        "`inventoryItemId`: lot, expiry, status, location (with its area, aisle and section), QOH, ATP "
        "and accounting quantity. Paginated.",
        ("not_found", "validation_failed"),
    ),
    ("POST", "/v1/facilities/{facility_id}/products/{product_id}/inventory-item"): (
        "findOrCreateFacilityInventoryItem: the product's facility inventory item, created with zero "
        "stock the first time. Every stock movement without a lot or location goes to it.",
        ("not_found",),
    ),
    ("GET", "/v1/inventory-items/{inventory_item_id}"): (
        "An inventory item with its totals (QOH, ATP, accounting quantity), lot, expiry and location.",
        ("not_found",),
    ),
    ("GET", "/v1/inventory-items/{inventory_item_id}/details"): (
        "The item's ledger rows (InventoryItemDetail), oldest first, with the ids of what caused "
        "each one. Paginated. With `Accept: text/csv` (or `format=csv`) every row, streamed as CSV "
        "(see [CSV export](#csv-export)).",
        ("not_found", "validation_failed"),
    ),
    ("GET", "/v1/product-facility-inventory"): (
        "Rows of the ProductFacilityInventoryItem view: totals per facility and product, "
        "`computedInventoryCount` = ATP − minimum stock. `availableToPromiseTotal` is promisable "
        "ATP only (items in `INV_AVAILABLE` whose lot has not expired); `notPromisable` gives the "
        "quantity on hand that a new reservation cannot take, by kind (`onHold`, `returned`, "
        "`defective`, `expired`, `other`). Optional `facilityId` and `productId` filters; paginated. "
        "With `Accept: text/csv` (or `format=csv`) every row of the filters, streamed as CSV "
        "(see [CSV export](#csv-export)).",
        ("validation_failed",),
    ),
    ("GET", "/v1/inventory-items/{inventory_item_id}/details.csv"): (
        "Every ledger row of the item, oldest first, streamed as `text/csv`: the CSV of the list "
        "above as an operation of its own, so a generated client gets it as text (see "
        "[CSV export](#csv-export)).",
        ("not_found",),
    ),
    ("GET", "/v1/product-facility-inventory.csv"): (
        "Every row of the ProductFacilityInventoryItem view of the optional `facilityId` and "
        "`productId` filters (and the caller's facilities), streamed as `text/csv`: the CSV of the "
        "list above as an operation of its own (see [CSV export](#csv-export)).",
        ("forbidden",),
    ),
    ("GET", "/v1/availability"): (
        "QOH, ATP, reserved quantity and `computedInventoryCount` of a product at a facility, summed "
        "over its items. `availableToPromiseTotal` is exactly what a new reservation can take now: "
        "the ATP of items in `INV_AVAILABLE` whose lot has not expired (`expireDate` absent or later "
        "than now). QOH sums every item; `notPromisable` is the quantity on hand of the others, by "
        "kind (`onHold`, `returned`, `defective`, `expired`, `other`), so QOH = Σ QOH of promisable "
        "items + Σ `notPromisable`. It is a net sum: an item with negative ATP (stock owed: a "
        "backorder, a negative variance, an `ATP_ALL` rejection) lowers it. `allowExpired=true` counts "
        "expired lots as promisable, as a reservation with `allowExpired` does. `asOf` replays the "
        "ledger to an instant (time travel); expiry is judged at that instant, status as it is now.",
        ("validation_failed",),
    ),
    ("POST", "/v1/external-inventory-resets"): (
        "ERP sync (createExternalInventoryReset): each line sets a product's `quantityOnHand` "
        "or `availableToPromise` (exactly one); given − current (QOH over all its items, or the "
        "promisable ATP that availability reports) is posted to both QOH and ATP of its facility item, "
        "so availability then shows the value sent; no change when they are equal. A facility item "
        "that is not promisable (on hold, an expired lot) gives way to the product's oldest promisable "
        "item in the facility, else a new empty one, which the ProductFacility link then names. "
        "JSON (`lines`) "
        "or CSV, as `text/csv` or `application/octet-stream` (streamed; the 10 MB limit does not "
        "apply; a generated client sends its File body as octet-stream). Lines that cannot be applied are "
        "listed in `failures` with a line code (`unknown_product`, `no_quantity`, …), the others are "
        "applied. A JSON member other than `lines` and `source`, or than a line's four, is 422 "
        "`extra_forbidden` naming each (a misspelt `quantityOnHnad`), and nothing is applied; so is "
        "a CSV header naming a column twice or one other than these four (case counts), and a "
        "JSON line with a NUL or a lone surrogate in a string (422, nothing applied).",
        ("validation_failed", "malformed_json", "unsupported_media_type"),
    ),
    ("GET", "/v1/external-inventory-resets/{inventory_reset_id}"): (
        "One ERP reset run: source, counts, when.",
        ("not_found",),
    ),
    ("GET", "/v1/external-inventory-resets/{inventory_reset_id}/failures"): (
        "The run's failed lines (line, code, message, the ids the line named), stored with the run: "
        "its first 1,000 in line order (`linesFailed` counts them all). Visible to whoever may read "
        "the run. Paginated.",
        ("not_found", "validation_failed"),
    ),
    ("POST", "/v1/physical-inventories"): (
        "createPhysicalInventory: a cycle count or a seed document with variances. A line by "
        "`productId` sets the product's sellable (promisable: `INV_AVAILABLE`, lot not expired) "
        "items: their QOH sums to the counted quantity and no item goes below zero: more goes to the "
        "facility item (or, when it is not sellable, the oldest sellable item, else a new one); less "
        "is taken from the facility item, then the other items FEFO, unreserved units before reserved "
        "ones (docs/procedures.md, section 6). Items on hold, returned, defective or expired stay as "
        "they are: they are counted by `inventoryItemId` (a sellable item of a "
        "product counted whole: 422). After a count every counted item's ATP = its QOH − the units "
        "reserved on it; a sellable item whose ATP only is corrected is listed with "
        "`quantityCounted: null`. The same `physicalInventoryId` again records nothing "
        "(`alreadyRecorded: true`).",
        ("not_found", "validation_failed", "conflict"),
    ),
    ("GET", "/v1/physical-inventories/{physical_inventory_id}"): (
        "A physical inventory (a count or an imported document) with its variances by "
        "`inventoryItemId`: QOH and ATP variance, counted quantity, reason, comments, who. Its id is the "
        "caller's, so it may exist in several facilities: then `facilityId` says which (else 422). "
        "Counts of other facilities than the token's are 404, as unknown ones.",
        ("not_found", "validation_failed"),
    ),
    ("GET", "/v1/variance-reasons"): (
        "The VarianceReason codes a variance or a count may give (the same in every facility). Paginated.",
        ("validation_failed",),
    ),
    ("POST", "/v1/variances"): (
        "logVariance: QOH and ATP ± quantity on an item (or a product's facility item), with a reason. "
        "By `productId` it counts sellable stock: an addition goes to the facility item, or when that "
        "is on hold or an expired lot, to the oldest promisable item, else a new empty one (as an ERP "
        "reset); a removal comes from the product's promisable items as a whole, free ATP first "
        "(units no reservation holds), oldest item first, then reserved units, oldest first: one "
        "ledger row per item touched, listed in `items` (the top-level item and totals are the "
        "first). A variance that would take the item's (by `productId`: the promisable items') QOH "
        "below zero needs `allowNegative: true`; without it 409 `negative_stock` (with `retryWith: "
        "allowNegative`) and nothing changes; by `productId` the 409 names the product and facility, "
        "not an item (a new one is not kept).",
        ("not_found", "validation_failed", "negative_stock"),
    ),
    ("GET", "/v1/events"): (
        "The outbox feed, oldest first: every business change as an event with a global "
        "`eventSeq`. Start with `after=<last eventSeq seen>`; `next` goes back as `cursor` and is "
        "null when nothing more is final (see [events.md](events.md)).",
        ("validation_failed",),
    ),
    ("POST", "/v1/shipments"): (
        "Create a sales shipment for reserved order items, with its ship group and route segments.",
        ("not_found", "validation_failed", "conflict", "order_item_conflict"),
    ),
    ("GET", "/v1/shipments/{shipment_id}"): ("A shipment, its items and route segments.", ("not_found",)),
    ("GET", "/v1/item-issuances"): (
        "What was taken out of stock in the token's facilities: each ItemIssuance with its item, "
        "product, lot, quantity and COGS; of an order with `orderId`, of a shipment with "
        "`shipmentId`, of both when both are given. Paginated.",
        ("validation_failed",),
    ),
    ("PATCH", "/v1/shipments/{shipment_id}"): (
        "Change a shipment's status, carrier or shipment method.",
        ("not_found", "validation_failed", "conflict"),
    ),
    ("POST", "/v1/shipments/{shipment_id}/reset"): (
        "Put a packed shipment back to `SHIPMENT_INPUT` with its ship group's carrier and method. "
        "Stock is not touched.",
        ("not_found", "conflict"),
    ),
    ("POST", "/v1/shipments/{shipment_id}/ship"): (
        "Confirm the shipment shipped: each line is issued (ItemIssuance) from the reserved items, "
        "QOH − quantity, COGS by the facility's costing method. An empty body ships every line as "
        "planned. With `allowUnreserved: true` units beyond the reservations come only from "
        "promisable stock (`INV_AVAILABLE`, lot not expired; `allowExpired: true` adds expired "
        "lots) and never exceed the product's net promisable ATP: otherwise 409 "
        "`insufficient_stock` with `available` = availability's figure, nothing changes.",
        ("not_found", "validation_failed", "conflict", "insufficient_stock"),
    ),
    ("POST", "/v1/pos-sales"): (
        "A till sale: a shipment created and shipped at once (QOH and ATP − quantity). It sells "
        "what a new reservation could take: `INV_AVAILABLE` items whose lot has not expired "
        "(`allowExpired: true` adds expired lots), FEFO, never beyond the product's net promisable "
        "ATP; otherwise 409 `insufficient_stock` with `available` = availability's figure.",
        ("not_found", "validation_failed", "conflict", "insufficient_stock", "order_item_conflict"),
    ),
    ("POST", "/v1/returns"): (
        "Receive a customer return into items of its own (QOH + quantity, ATP unchanged), at the "
        "original cost: `INV_RETURNED` pending inspection, or `INV_DEFECTIVE` (and the line "
        "`RETURN_COMPLETED` at once) when `receivedCondition` is `DAMAGED` or `DEFECTIVE`. Only what "
        "the order shipped can come back, less earlier returns of the order item (or, without "
        "`orderItemSeqId`, of the product in the order): else 409 `not_shipped` or `return_exceeds_shipped`. "
        "An order shipped by another facility may come back here (its cost is the order's); a token "
        "scoped to facilities is then told only `returnable`, not what was shipped or returned.",
        (
            "not_found",
            "validation_failed",
            "conflict",
            "order_item_conflict",
            "not_shipped",
            "return_exceeds_shipped",
        ),
    ),
    ("GET", "/v1/returns/{return_id}"): (
        "A return, its items, their status and the items they went to.",
        ("not_found",),
    ),
    ("POST", "/v1/returns/{return_id}/items/{return_item_seq_id}/inspect"): (
        "Inspect a returned item: `AVAILABLE` makes it sellable (ATP + quantity; the return item then "
        "names the sellable item its units moved to; any ATP the returned item held for them, as a "
        "count by item gives it, moves with them), `DEFECTIVE` keeps it out of ATP. The return is "
        "`RETURN_COMPLETED` once none of its items waits for inspection.",
        ("not_found", "validation_failed", "conflict"),
    ),
    ("POST", "/v1/inventory-increases"): (
        "Increase ATP and QOH of a product's facility item, linked to what caused it. A facility item "
        "on hold or an expired lot gives way to the oldest promisable item, else a new empty one (as an "
        "ERP reset), so availability shows the units. `reasonEnumId` is "
        "one of `INV_INCREASE` (the default), `VAR_FOUND`, `VAR_INTEGR`, `VAR_MISSHIP_ORDERED`, "
        "`RETURN_RESTOCKED`; any other (a system reason such as `RESERVATION` or `VAR_EXT_RESET`, or one "
        "that lowers stock) is 422 naming `reasonEnumId`. `orderId`, `orderItemSeqId`, `shipmentId` and "
        '`shipmentItemSeqId` are references stored on the ledger row as given (SPEC §4: "where known"): '
        "an order or shipment this ledger does not hold (the OMS's, a purchase shipment of another "
        "system) is taken as is; a `shipmentId` of another facility's shipment is 409 `conflict` (403 "
        "for a token that may not touch that facility).",
        ("not_found", "validation_failed", "conflict"),
    ),
    ("POST", "/v1/reservations"): (
        "createOrderItemInventoryReservation: ATP − quantity for one order item, first-expiring "
        "items first, only from items in `INV_AVAILABLE` whose lot has not expired "
        "(`allowExpired: true` lets it take expired lots, earliest first). `fill`: `ALL_OR_NOTHING` "
        "(default: 409 when short), `PARTIAL`, `BACKORDER` (the uncovered part goes on a promisable "
        "item, never on one on hold, returned, defective or expired). A line never takes more than "
        "the product's net promisable ATP (`availableToPromiseTotal` of availability; with "
        "`allowExpired`, of `availability?allowExpired=true`); the 409's `available` is that figure.",
        ("not_found", "validation_failed", "conflict", "insufficient_stock", "order_item_conflict"),
    ),
    ("DELETE", "/v1/reservations/{order_id}/{order_item_seq_id}"): (
        "cancelOrderItemInventoryReservation: release what the order item holds (ATP + reserved); a "
        "token scoped to facilities releases its facilities' part only (404 when they hold nothing).",
        ("not_found",),
    ),
    ("POST", "/v1/orders/{order_id}/reserve"): (
        "reserveStock: every line of an order in one transaction (`ALL_OR_NOTHING`, `PARTIAL` or "
        "`BACKORDER`), FEFO over promisable items; `allowExpired: true` lets it take expired lots. "
        "The lines of a product never take more than its net promisable ATP, as availability reports it.",
        ("not_found", "validation_failed", "conflict", "insufficient_stock", "order_item_conflict"),
    ),
    ("GET", "/v1/orders/{order_id}/pick-suggestions"): (
        "What to pick for an order's reservations, first-expiring first, with locations; only "
        "`INV_AVAILABLE` stock, and no expired lot unless `allowExpired=true`. Nothing reserved "
        "(or nothing in the token's facilities): an empty list. Paginated.",
        ("validation_failed",),
    ),
    ("GET", "/v1/orders/{order_id}/reservations"): (
        "getReservationsForItem: every reservation of an order (active and cancelled) in the token's "
        "facilities, by facility, order item and inventory item: product, item, lot, `quantity`, "
        "`quantityNotAvailable` (the backordered part), status. An order with none: an empty list. "
        "Paginated.",
        ("validation_failed",),
    ),
    ("POST", "/v1/receipts"): (
        "receivePurchaseShipment: accepted units are added to QOH and ATP (to the facility item, or "
        "to an item of the given lot and location; a facility item on hold or an expired lot gives way "
        "to the oldest promisable item, else a new empty one, as an ERP reset), rejected ones are "
        "only recorded; `unitCost` opens a cost layer. Fills backorders of the product, oldest "
        "first, when the receiving item is promisable (not on hold, returned, defective or expired). "
        "A shipment line received before needs `additional: true`; without it 409 `already_received` (with "
        "`retryWith: additional`) and nothing changes; a line received before as another product "
        "is 409 `conflict`, `additional` or not. `shipmentId` names a purchase shipment (its id is "
        "the facility's own): a sales shipment of this ledger is 409 `conflict` (403 naming "
        "nothing for a token that may not touch its facility). `rejectionReasonId` (one of "
        "`SRJ_DAMAGED`, `SRJ_NOT_ORDERED`, `SRJ_OVER_SHIPPED`, `SRJ_EXPIRED`) is given exactly "
        "when `quantityRejected` is above 0: else 422 naming it.",
        ("not_found", "validation_failed", "conflict", "already_received"),
    ),
    ("GET", "/v1/receipts/{receipt_id}"): (
        "One received line: accepted and rejected quantities, the rejection reason, the item the "
        "accepted units went to, who received it and when.",
        ("not_found",),
    ),
    ("POST", "/v1/orders/{order_id}/items/{order_item_seq_id}/reject"): (
        "rejectOrderItem: release the reservation, then `rejectionMode` says what else happens "
        "(`RELEASE`, `ATP_ONE`, `ATP_QOH_ONE`, `ATP_ALL`, `ATP_QOH_ALL`). A token scoped to "
        "facilities rejects its facilities' part only.",
        ("not_found", "validation_failed", "order_item_conflict"),
    ),
}


@dataclass(frozen=True)
class Call:
    """One documented request: sent as `role`, written down with its real answer."""

    method: str
    path: str
    body: Any = None
    role: str = "admin"
    headers: dict[str, str] = field(default_factory=dict)
    raw: str | None = None  # a non-JSON body, sent as written


@dataclass
class Exchange:
    call: Call
    status: int
    content_type: str
    text: str
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.text)


RECEIPT: dict[str, Any] = {
    "shipmentId": "PO-1",
    "facilityId": "FACILITY_1",
    "receivedByUserLoginId": "store.clerk",
    "items": [
        {
            "shipmentItemSeqId": "00001",
            "productId": "FG002",
            "quantityAccepted": 10,
            "quantityRejected": 2,
            "unitCost": 12.5,
            "rejectionReasonId": "SRJ_DAMAGED",
        }
    ],
}
CUSTOMER_RETURN: dict[str, Any] = {
    "returnId": "R-1",
    "orderId": "O1",
    "facilityId": "FACILITY_1",
    "items": [
        {
            "returnItemSeqId": "00001",
            "orderItemSeqId": "00001",
            "productId": "FG002",
            "returnQuantity": 1,
            "returnReasonId": "RTN_NOT_WANT",
            "receivedCondition": "unopened",
        }
    ],
}
SHIPMENT: dict[str, Any] = {
    "shipmentId": "SH-1",
    "primaryOrderId": "O1",
    "originFacilityId": "FACILITY_1",
    "items": [{"shipmentItemSeqId": "00001", "orderItemSeqId": "00001", "productId": "FG002", "quantity": 2}],
    "shipGroup": {"shipGroupSeqId": "00001", "carrierPartyId": "UPS", "shipmentMethodTypeId": "GROUND"},
    "routeSegments": [{"shipmentRouteSegmentId": "00001"}],
}

# The examples, in the order they are sent: later ones use what earlier ones created.
EXAMPLES: tuple[Call, ...] = (
    Call("GET", "/healthz", role=""),
    Call("GET", "/v1/facilities/FACILITY_1"),
    Call("PATCH", "/v1/facilities/FACILITY_1", {"costingMethodId": "FIFO"}),
    Call("GET", "/v1/products/FG002"),
    Call(
        "POST",
        "/v1/import",
        {
            "facilityId": "FACILITY_1",
            "products": [
                {
                    "productId": "FG004",
                    "productTypeId": "FINISHED_GOOD",
                    "productName": "Product 4",
                    "productFacility": {"minimumStock": 5, "reorderQuantity": 20, "daysToShip": 2},
                }
            ],
        },
    ),
    Call("POST", "/v1/facilities/FACILITY_1/products/FG004/inventory-item", role="oms"),
    Call(
        "POST",
        "/v1/external-inventory-resets",
        {
            "source": "Opening stock FG004",
            "lines": [
                {"facilityId": "FACILITY_1", "productId": "FG004", "quantityOnHand": 20},
                {"facilityId": "FACILITY_1", "productId": "NO_SUCH", "quantityOnHand": 1},
            ],
        },
    ),
    Call("GET", "/v1/external-inventory-resets/{inventoryResetId}", role="viewer"),
    Call("GET", "/v1/external-inventory-resets/{inventoryResetId}/failures", role="viewer"),
    Call("POST", "/v1/receipts", RECEIPT, role="store"),
    Call("GET", "/v1/receipts/{receiptId}", role="viewer"),
    Call(
        "POST",
        "/v1/reservations",
        {
            "orderId": "O1",
            "orderItemSeqId": "00001",
            "productId": "FG002",
            "facilityId": "FACILITY_1",
            "quantity": 3,
        },
        role="oms",
    ),
    Call(
        "POST",
        "/v1/orders/O2/reserve",
        {
            "facilityId": "FACILITY_1",
            "fill": "BACKORDER",
            "items": [
                {"orderItemSeqId": "00001", "productId": "FG003", "quantity": 2},
                {"orderItemSeqId": "00002", "productId": "FG004", "quantity": 25},
            ],
        },
        role="oms",
    ),
    Call("GET", "/v1/orders/O2/pick-suggestions", role="store"),
    Call("DELETE", "/v1/reservations/O2/00002", role="oms"),
    Call("GET", "/v1/orders/O2/reservations", role="oms"),
    Call(
        "POST",
        "/v1/orders/O2/items/00001/reject",
        {"rejectionMode": "ATP_QOH_ONE", "rejectReasonId": "NOT_IN_STOCK", "description": "one unit missing"},
        role="store",
    ),
    Call(
        "POST",
        "/v1/physical-inventories",
        {
            "physicalInventoryId": "PI-1",
            "facilityId": "FACILITY_1",
            "partyId": "store.clerk",
            "counts": [{"productId": "FG001", "quantityCounted": 29, "varianceReasonId": "VAR_LOST"}],
        },
        role="store",
    ),
    Call(
        "POST",
        "/v1/variances",
        {
            "facilityId": "FACILITY_1",
            "productId": "FG001",
            "quantity": -1,
            "varianceReasonId": "VAR_DAMAGED",
            "comments": "dropped",
            "changeByUserLoginId": "store.clerk",
        },
        role="store",
    ),
    Call("POST", "/v1/shipments", SHIPMENT, role="oms"),
    Call(
        "PATCH", "/v1/shipments/SH-1", {"carrierPartyId": "FEDEX", "statusId": "SHIPMENT_PACKED"}, role="oms"
    ),
    Call("POST", "/v1/shipments/SH-1/reset", role="oms"),
    Call("POST", "/v1/shipments/SH-1/ship", {}, role="oms"),
    Call("GET", "/v1/shipments/SH-1", role="viewer"),
    Call("GET", "/v1/item-issuances?shipmentId=SH-1", role="viewer"),
    Call(
        "POST",
        "/v1/pos-sales",
        {
            "orderId": "POS-1",
            "facilityId": "FACILITY_1",
            "items": [{"orderItemSeqId": "00001", "productId": "FG003", "quantity": 2}],
        },
        role="store",
    ),
    Call("POST", "/v1/returns", CUSTOMER_RETURN, role="oms"),
    Call("POST", "/v1/returns/R-1/items/00001/inspect", {"outcome": "AVAILABLE"}, role="oms"),
    Call("GET", "/v1/returns/R-1", role="viewer"),
    Call(
        "POST",
        "/v1/inventory-increases",
        {
            "facilityId": "FACILITY_1",
            "productId": "FG001",
            "quantity": 2,
            "shipmentId": "SH-1",
            "shipmentItemSeqId": "00001",
            "reasonEnumId": "VAR_FOUND",
            "description": "found behind the packing table",
        },
        role="store",
    ),
    Call("GET", "/v1/physical-inventories/PI-1", role="viewer"),
    Call("GET", "/v1/variance-reasons", role="viewer"),
    Call("GET", "/v1/facilities/FACILITY_1/products?limit=2", role="viewer"),
    Call("GET", "/v1/inventory-items?facilityId=FACILITY_1&productId=FG002", role="viewer"),
    Call("GET", "/v1/inventory-items/{fg002Item}", role="viewer"),
    Call("GET", "/v1/inventory-items/{fg002Item}/details?limit=2", role="viewer"),
    Call("GET", "/v1/product-facility-inventory?facilityId=FACILITY_1&limit=2", role="viewer"),
    Call("GET", "/v1/inventory-items/{fg002Item}/details.csv", role="viewer"),
    Call("GET", "/v1/product-facility-inventory.csv?facilityId=FACILITY_1", role="viewer"),
    Call("GET", "/v1/availability?facilityId=FACILITY_1&productId=FG002", role="viewer"),
    Call("GET", "/v1/events?after=0&limit=2", role="oms"),
    Call("GET", "/v1/events?cursor={next}&limit=2", role="oms"),
    Call("GET", "/metrics", role=""),
)

# One refusal per endpoint (where one can be provoked), sent after the examples.
REFUSALS: tuple[Call, ...] = (
    Call("GET", "/v1/facilities/NO_SUCH_FACILITY"),
    Call("PATCH", "/v1/facilities/FACILITY_1", {"costingMethodId": "NEWEST"}),
    Call("GET", "/v1/products/NO_SUCH_PRODUCT"),
    Call("POST", "/v1/import", {"orderId": "O1"}),
    Call("POST", "/v1/facilities/FACILITY_1/products/NO_SUCH_PRODUCT/inventory-item", role="oms"),
    Call(
        "POST",
        "/v1/external-inventory-resets",
        raw="facilityId,productId\nFACILITY_1,FG001\n",
        headers={"Content-Type": "text/plain"},
    ),
    Call("GET", "/v1/external-inventory-resets/NO_SUCH_RESET"),
    Call("GET", "/v1/external-inventory-resets/NO_SUCH_RESET/failures"),
    Call("GET", "/v1/receipts/NO_SUCH_RECEIPT"),
    Call("GET", "/v1/orders/O2/reservations?limit=0", role="oms"),
    Call("GET", "/v1/physical-inventories/NO_SUCH_COUNT"),
    Call("GET", "/v1/variance-reasons?limit=0", role="viewer"),
    Call("GET", "/v1/facilities/NO_SUCH_FACILITY/products"),
    Call("GET", "/v1/inventory-items?facilityId=NO_SUCH_FACILITY"),
    Call("GET", "/v1/item-issuances?limit=0", role="viewer"),
    Call("POST", "/v1/receipts", RECEIPT, role="store"),
    Call(
        "POST",
        "/v1/reservations",
        {
            "orderId": "O9",
            "orderItemSeqId": "00001",
            "productId": "FG001",
            "facilityId": "FACILITY_1",
            "quantity": 1000,
        },
        role="oms",
    ),
    Call(
        "POST",
        "/v1/orders/O9/reserve",
        {
            "facilityId": "FACILITY_1",
            "items": [{"orderItemSeqId": "00001", "productId": "FG003", "quantity": 999}],
        },
        role="oms",
    ),
    Call("GET", "/v1/orders/O2/pick-suggestions?limit=5000", role="store"),
    Call("DELETE", "/v1/reservations/NO_SUCH_ORDER/00001", role="oms"),
    Call("POST", "/v1/orders/O1/items/00001/reject", {"rejectionMode": "ATP_SOME"}, role="oms"),
    Call(
        "POST",
        "/v1/physical-inventories",
        {
            "physicalInventoryId": "PI-2",
            "facilityId": "FACILITY_1",
            "counts": [{"productId": "NO_SUCH", "quantityCounted": 1}],
        },
        role="store",
    ),
    Call(
        "POST",
        "/v1/variances",
        {"facilityId": "FACILITY_1", "productId": "FG001", "quantity": -500, "varianceReasonId": "VAR_LOST"},
        role="store",
    ),
    Call("POST", "/v1/shipments", SHIPMENT, role="oms"),
    Call("PATCH", "/v1/shipments/NO_SUCH_SHIPMENT", {"statusId": "SHIPMENT_PACKED"}, role="oms"),
    Call("POST", "/v1/shipments/SH-1/reset", role="oms"),
    Call("POST", "/v1/shipments/SH-1/ship", {}, role="oms"),
    Call("GET", "/v1/shipments/NO_SUCH_SHIPMENT"),
    Call(
        "POST",
        "/v1/pos-sales",
        {
            "orderId": "POS-2",
            "facilityId": "FACILITY_1",
            "items": [{"orderItemSeqId": "00001", "productId": "FG003", "quantity": 500}],
        },
        role="store",
    ),
    Call(
        "POST",
        "/v1/returns",
        CUSTOMER_RETURN | {"returnId": "R-2", "items": [CUSTOMER_RETURN["items"][0] | {"returnQuantity": 2}]},
        role="oms",
    ),
    Call("POST", "/v1/returns/R-1/items/00001/inspect", {"outcome": "AVAILABLE"}, role="oms"),
    Call("GET", "/v1/returns/NO_SUCH_RETURN"),
    Call(
        "POST",
        "/v1/inventory-increases",
        {"facilityId": "FACILITY_1", "productId": "FG001", "quantity": 0},
        role="store",
    ),
    Call("GET", "/v1/inventory-items/NO_SUCH_ITEM"),
    Call("GET", "/v1/inventory-items/{fg002Item}/details?cursor=bm90LWEtY3Vyc29y", role="viewer"),
    Call("GET", "/v1/product-facility-inventory?limit=0", role="viewer"),
    Call("GET", "/v1/availability?facilityId=FACILITY_1", role="viewer"),
    Call("GET", "/v1/events?after=-1", role="oms"),
)

# The general sections' examples.
AUTH_CALLS: tuple[Call, ...] = (
    Call("GET", "/v1/products/FG001", role=""),
    Call(
        "GET",
        "/v1/products/FG001",
        headers={"Authorization": "Bearer sl_000000000000_not-a-real-secret"},
        role="",
    ),
    Call(
        "POST",
        "/v1/reservations",
        {
            "orderId": "O5",
            "orderItemSeqId": "00001",
            "productId": "FG001",
            "facilityId": "FACILITY_1",
            "quantity": 1,
        },
        role="viewer",
    ),
    Call(
        "POST",
        "/v1/variances",
        {"facilityId": "FACILITY_2", "productId": "FG001", "quantity": 1, "varianceReasonId": "VAR_FOUND"},
        role="store",
    ),
)
IDEMPOTENT_VARIANCE: dict[str, Any] = {
    "facilityId": "FACILITY_1",
    "productId": "FG003",
    "quantity": 1,
    "varianceReasonId": "VAR_FOUND",
}
IDEMPOTENCY_CALLS: tuple[Call, ...] = (
    Call(
        "POST",
        "/v1/variances",
        IDEMPOTENT_VARIANCE,
        role="store",
        headers={"Idempotency-Key": "var-2026-11-25-0001"},
    ),
    Call(
        "POST",
        "/v1/variances",
        IDEMPOTENT_VARIANCE,
        role="store",
        headers={"Idempotency-Key": "var-2026-11-25-0001"},
    ),
    Call(
        "POST",
        "/v1/variances",
        IDEMPOTENT_VARIANCE | {"quantity": 2},
        role="store",
        headers={"Idempotency-Key": "var-2026-11-25-0001"},
    ),
    Call(
        "POST", "/v1/variances", IDEMPOTENT_VARIANCE, role="store", headers={"Idempotency-Key": "has spaces"}
    ),
)
PAGINATION_CALLS: tuple[Call, ...] = (
    Call("GET", "/v1/product-facility-inventory?facilityId=FACILITY_1&limit=1", role="viewer"),
    Call("GET", "/v1/product-facility-inventory?facilityId=FACILITY_1&limit=1&cursor={next}", role="viewer"),
)
CSV_CALLS: tuple[Call, ...] = (
    Call(
        "GET",
        "/v1/product-facility-inventory?facilityId=FACILITY_1",
        role="viewer",
        headers={"Accept": "text/csv"},
    ),
    Call("GET", "/v1/inventory-items/{fg002Item}/details?format=csv", role="viewer"),
)
ERROR_CALLS: tuple[Call, ...] = (
    Call(
        "POST",
        "/v1/reservations",
        raw='{"orderId": "O6",',
        headers={"Content-Type": "application/json"},
        role="oms",
    ),
    Call(
        "POST", "/v1/reservations", {"orderId": "O6", "orderItemSeqId": "00001", "quantity": -1}, role="oms"
    ),
    Call("PUT", "/v1/reservations", {}, role="oms"),
)


class Session:
    """The app on a migrated database: seed data, one token per role, values carried forward."""

    def __init__(self, database_url: str) -> None:
        db = Database(database_url)
        load_documents(db, seed_documents())
        with db.transaction() as session:
            self.tokens = {
                role: create_token(session, role, description=f"docs {role}", user=f"docs.{role}").token
                for role in ROLES
            }
            scoped = create_token(
                session, "store", ["FACILITY_1"], description="docs store FACILITY_1", user="till.1"
            )
            self.tokens["store"] = scoped.token
        db.dispose()
        self.app = create_app(database_url)
        self.values: dict[str, str] = {}

    def send(self, client: TestClient, call: Call) -> Exchange:
        path = call.path.format(**self.values) if "{" in call.path else call.path
        headers = dict(call.headers)
        if call.role:
            headers["Authorization"] = f"Bearer {self.tokens[call.role]}"
        content: bytes | None = None
        if call.raw is not None:
            content = call.raw.encode()
        elif call.body is not None:
            content = json.dumps(call.body).encode()
            headers.setdefault("Content-Type", "application/json")
        answer = client.request(call.method, path, content=content, headers=headers)
        exchange = Exchange(
            Call(call.method, path, call.body, call.role, call.headers, call.raw),
            answer.status_code,
            answer.headers.get("content-type", ""),
            answer.text,
            dict(answer.headers),
        )
        self._remember(exchange)
        return exchange

    def _remember(self, exchange: Exchange) -> None:
        if "json" not in exchange.content_type:
            return
        body = exchange.json
        if isinstance(body, dict):
            if "inventoryResetId" in body:
                self.values["inventoryResetId"] = body["inventoryResetId"]
            if body.get("next") and isinstance(body["next"], str):
                self.values["next"] = body["next"]
            if exchange.call.path == "/v1/receipts" and body.get("items"):
                self.values["receiptId"] = body["items"][0]["receiptId"]
            if exchange.call.path == "/v1/products/FG002":
                self.values["fg002Item"] = body["productFacilities"][0]["inventoryItemId"]


@dataclass
class Run:
    examples: list[Exchange]
    refusals: list[Exchange]
    auth: list[Exchange]
    idempotency: list[Exchange]
    pagination: list[Exchange]
    csv: list[Exchange]
    errors: list[Exchange]


def run_examples(database_url: str) -> Run:
    """Send every documented request, in order, to the app on `database_url` (migrated, empty)."""
    session = Session(database_url)
    with TestClient(session.app, raise_server_exceptions=True) as client:

        def sent(calls: tuple[Call, ...]) -> list[Exchange]:
            return [session.send(client, c) for c in calls]

        return Run(
            sent(EXAMPLES),
            sent(REFUSALS),
            sent(AUTH_CALLS),
            sent(IDEMPOTENCY_CALLS),
            sent(PAGINATION_CALLS),
            sent(CSV_CALLS),
            sent(ERROR_CALLS),
        )


def endpoint_of(method: str, path: str, templates: list[tuple[str, str]]) -> tuple[str, str] | None:
    bare = path.split("?", 1)[0]
    for m, template in templates:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if m == method and re.match(pattern, bare):
            return (m, template)
    return None


def openapi_endpoints(schema: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m.upper(), p) for p, ops in schema["paths"].items() for m in ops]


def roles_line(method: str, template: str) -> str:
    concrete = re.sub(r"\{[^}]+\}", "X", template)
    if is_open(concrete) or not concrete.startswith("/v1"):
        return "none (no token)"
    allowed = [r for r in ROLES if may_call(r, method, concrete)]
    return ", ".join(f"`{r}`" for r in allowed) + (" (every role may read)" if method == "GET" else "")


def render_request(call: Call) -> str:
    lines = [f"{call.method} {call.path}"]
    headers = dict(call.headers)
    if call.raw is not None or call.body is not None:
        headers.setdefault("Content-Type", "application/json")
    lines += [f"{k}: {v}" for k, v in headers.items() if k != "Authorization" or "not-a-real" in v]
    if call.raw is not None:
        lines += ["", call.raw.rstrip("\n")]
    elif call.body is not None:
        lines += ["", json.dumps(call.body, indent=2, ensure_ascii=False)]
    return "```http\n" + "\n".join(lines) + "\n```"


SHOWN_HEADERS = ("idempotent-replayed", "www-authenticate", "retry-after", "content-disposition")


def render_response(exchange: Exchange, metrics: bool = False) -> str:
    reason = HTTPStatus(exchange.status).phrase
    lines = [f"HTTP/1.1 {exchange.status} {reason}", f"Content-Type: {exchange.content_type}"]
    lines += [f"{h.title()}: {exchange.headers[h]}" for h in SHOWN_HEADERS if h in exchange.headers]
    if metrics:
        body = "\n".join(_metrics_excerpt(exchange.text))
    elif "json" in exchange.content_type:
        body = json.dumps(exchange.json, indent=2, ensure_ascii=False)
    elif exchange.content_type.startswith("text/csv"):
        body = exchange.text.replace("\r\n", "\n").rstrip("\n")  # CRLF on the wire (RFC 4180)
    else:
        body = exchange.text
    return "```http\n" + "\n".join(lines) + "\n\n" + body + "\n```"


METRICS_SHOWN = (
    "stockledger_request_duration_seconds",
    "stockledger_reservations_total",
    "stockledger_ledger_rows_posted_total",
    'stockledger_request_duration_seconds_count{method="GET",route="/healthz",status="200"}',
    'stockledger_reservations_total{outcome="reserved"}',
)


def _metrics_excerpt(text: str) -> Iterator[str]:
    """HELP and TYPE of our metrics and a few samples: other series depend on what ran before."""
    for line in text.splitlines():
        name = line.split(" ")[2] if line.startswith("# ") else line.split(" ")[0]
        if name in METRICS_SHOWN:
            yield line


def _prose(existing: str) -> dict[str, str]:
    return {m["name"]: m["text"] for m in PROSE.finditer(existing)}


def _sent_with(role: str) -> str:
    if not role:
        return "without a token"
    article = "an" if role[0] in "aeiou" else "a"
    scope = " scoped to `FACILITY_1`" if role == "store" else ""
    return f"with {article} `{role}` token{scope}"


class Writer:
    def __init__(self, existing: str) -> None:
        self.prose = _prose(existing)
        self.parts: list[str] = []

    def add(self, *texts: str) -> None:
        self.parts.extend(texts)

    def prose_block(self, name: str) -> None:
        text = self.prose.get(name, "_(to be written)_\n")
        self.parts.append(f"<!-- prose:{name} -->\n{text}<!-- /prose:{name} -->")

    def exchange(self, exchange: Exchange, lead: str = "", metrics: bool = False) -> None:
        self.add(f"{lead}{_sent_with(exchange.call.role)}:", render_request(exchange.call))
        self.add(render_response(exchange, metrics))

    def text(self) -> str:
        return "\n\n".join(p.strip("\n") for p in self.parts) + "\n"


def render(run: Run, schema: dict[str, Any], existing: str) -> str:
    """The whole page from the answers of one run."""
    templates = openapi_endpoints(schema)
    missing = [e for e in templates if e not in ENDPOINTS]
    assert not missing, f"docs/gen_api.py: describe {missing} in ENDPOINTS"
    w = Writer(existing)
    w.add(
        "# API reference",
        "<!-- Generated by docs/gen_api.py from real requests; edit only between the prose markers, "
        "then run `.venv/bin/python docs/gen_api.py`. -->",
    )
    w.prose_block("intro")
    w.add("| endpoint | roles that may call it | what it does |", "|---|---|---|")
    for method, template in templates:
        anchor = _anchor(method, template)
        summary = ENDPOINTS[(method, template)][0].split(". ")[0].split(": ")[0].rstrip(".")
        w.add(f"| [`{method} {template}`](#{anchor}) | {roles_line(method, template)} | {summary} |")
    _join_table(w)
    w.add("## Authentication")
    w.prose_block("authentication")
    for exchange in run.auth:
        w.exchange(exchange, "Sent ")
    w.add("## Errors")
    w.prose_block("errors")
    for exchange in run.errors:
        w.exchange(exchange, "Sent ")
    w.add("## Idempotency")
    w.prose_block("idempotency")
    for exchange in run.idempotency:
        w.exchange(exchange, "Sent ")
    w.add("## Pagination")
    w.prose_block("pagination")
    for exchange in run.pagination:
        w.exchange(exchange, "Sent ")
    w.add("## CSV export")
    w.prose_block("csv-export")
    for exchange in run.csv:
        w.exchange(exchange, "Sent ")
    w.add("## Endpoints")
    w.prose_block("endpoints")
    examples = _by_endpoint(run.examples, templates)
    refusals = _by_endpoint(run.refusals, templates)
    for method, template in templates:
        what, codes = ENDPOINTS[(method, template)]
        w.add(f"### `{method} {template}`", what, f"**Roles:** {roles_line(method, template)}.")
        common = (
            ""
            if not template.startswith("/v1")
            else "; and `401 unauthorized`, `403 forbidden`, `503 database_unavailable` as every `/v1` call"
        )
        shown = ", ".join(f"`{c}`" for c in codes) or "none of its own"
        w.add(f"**Errors:** {shown}{common}.")
        example = examples.get((method, template))
        assert example is not None, f"docs/gen_api.py: no example request for {method} {template}"
        w.exchange(example, "Example, ", metrics=template == "/metrics")
        refusal = refusals.get((method, template))
        if refusal is not None:
            w.exchange(refusal, "Refused, ")
    return w.text()


def _join_table(w: Writer) -> None:
    """The table rows were added one part each; make them one block."""
    start = next(i for i, p in enumerate(w.parts) if p.startswith("| endpoint |"))
    w.parts[start:] = ["\n".join(w.parts[start:])]


def _anchor(method: str, template: str) -> str:
    heading = f"{method} {template}".lower()
    return re.sub(r"[^a-z0-9 _-]", "", heading).replace(" ", "-")


def _by_endpoint(
    exchanges: list[Exchange], templates: list[tuple[str, str]]
) -> dict[tuple[str, str], Exchange]:
    found: dict[tuple[str, str], Exchange] = {}
    for exchange in exchanges:
        endpoint = endpoint_of(exchange.call.method, exchange.call.path, templates)
        assert endpoint is not None, f"not an endpoint of /openapi.json: {exchange.call}"
        found.setdefault(endpoint, exchange)
    return found


def generate(database_url: str, existing: str) -> str:
    """docs/api.md as the app on `database_url` (migrated, empty) answers today."""
    run = run_examples(database_url)
    schema = create_app(database_url).openapi()
    return render(run, schema, existing)


def fresh_sqlite(folder: Path) -> str:
    url = f"sqlite:///{folder / 'api-docs.db'}"
    db = Database(url)
    migrate.upgrade(db.engine)
    db.dispose()
    return url


VOLATILE = (
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<timestamp>"),
    (re.compile(r"sl_[0-9a-f]{12}_[A-Za-z0-9_-]+"), "<token>"),
    (re.compile(r"\b[A-Z]{0,6}\d{13}[0-9A-F]{10}\b"), "<generated id>"),  # core.ids.new_id
    (re.compile(r"^(stockledger_\w+(?:\{[^}]*\})?) \S+$", re.MULTILINE), r"\1 <value>"),
)


def without_volatile(text: str) -> str:
    """The page with what changes from run to run (timestamps, tokens, counter values) masked."""
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def main(argv: list[str]) -> int:
    existing = API_MD.read_text() if API_MD.exists() else ""
    with tempfile.TemporaryDirectory() as folder:
        page = generate(fresh_sqlite(Path(folder)), existing)
    if "--check" in argv:
        if without_volatile(page) != without_volatile(existing):
            print("docs/api.md is out of date: run .venv/bin/python docs/gen_api.py", file=sys.stderr)
            return 1
        print("docs/api.md is up to date")
        return 0
    API_MD.write_text(page)
    print(f"wrote {API_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
