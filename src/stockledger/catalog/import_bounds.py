"""What an import document may hold, checked before anything is written: a bounded number of
records, and items whose totals stay within MAX_ITEM_TOTAL (docs/api.md "Quantities")."""

from decimal import Decimal
from typing import Any

from stockledger.catalog.schemas import DetailDoc, InventoryItemDoc
from stockledger.core.errors import QuantityOverflow, ValidationFailed
from stockledger.core.quantities import MAX_ITEM_TOTAL

MAX_IMPORT_RECORDS = 50_000


def require_at_most_records(document: Any, counted: int = 0) -> None:
    """Refuse a document of more than MAX_IMPORT_RECORDS records before validating any of them:
    validating millions would take minutes (and list millions of errors). A record is a JSON
    object or any element of an array (`[1, 1, …]` counts too). `counted`: the records of the
    document's other part, counted already (a facility document's plain products)."""
    if counted + records_in(document, MAX_IMPORT_RECORDS - counted) > MAX_IMPORT_RECORDS:
        raise ValidationFailed(
            f"An import document holds at most {MAX_IMPORT_RECORDS} records (JSON objects and "
            "array elements); split it",
            maxRecords=MAX_IMPORT_RECORDS,
        )


def records_in(document: Any, most: int) -> int:
    """The document's records, counted until there are more than `most`."""
    pending, records = [document], 0
    containers = (dict, list)
    while pending and records <= most:
        node = pending.pop()
        if isinstance(node, dict):
            records += 1
            for value in node.values():
                if isinstance(value, containers):
                    pending.append(value)
        elif isinstance(node, list):
            for value in node:
                if isinstance(value, containers):
                    pending.append(value)
                else:
                    records += 1
    return records


def require_item_totals_within(doc: InventoryItemDoc, current: tuple[Decimal, Decimal, Decimal]) -> None:
    """Refuse an item whose totals would pass ±MAX_ITEM_TOTAL at any of its detail rows."""
    qoh, atp, acc = current
    for detail in doc.inventory_item_details:
        qoh += detail.quantity_on_hand_diff
        atp += detail.available_to_promise_diff
        acc += detail_acc(detail)
        if max(abs(qoh), abs(atp), abs(acc)) > MAX_ITEM_TOTAL:
            raise QuantityOverflow(
                f"Inventory item {doc.inventory_item_id}: its details take a total past "
                f"{MAX_ITEM_TOTAL:,} units, the most one item may hold",
                inventoryItemId=doc.inventory_item_id,
                maxItemTotal=MAX_ITEM_TOTAL,
            )


def detail_acc(d: DetailDoc) -> Decimal:
    """The detail's accounting diff: as given, else its QOH diff."""
    return d.quantity_on_hand_diff if d.accounting_quantity_diff is None else d.accounting_quantity_diff
