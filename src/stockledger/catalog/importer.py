"""Seed-document import (seeds 001/002 as they stand): an upsert that never double-posts.

Catalogue rows (facilities, locations, products) are upserted field by field here; stock
(InventoryItems, PhysicalInventory documents) is loaded by catalog/import_stock.py.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.orm import Session

from stockledger.catalog.import_bounds import MAX_IMPORT_RECORDS, require_at_most_records
from stockledger.catalog.import_products import import_products
from stockledger.catalog.import_rows import ImportOutcome, fields, merge
from stockledger.catalog.import_stock import Tick, import_items, import_physical_inventory, no_tick
from stockledger.catalog.plain_products import PlainProducts, plain_products
from stockledger.catalog.schemas import (
    FacilityDoc,
    ImportResult,
    InventoryItemDoc,
    PhysicalInventoryDoc,
    ProductDoc,
)
from stockledger.core.errors import ValidationFailed, listed_errors
from stockledger.core.schemas import unique_lines
from stockledger.ledger.models import Facility, FacilityLocation

__all__ = [
    "ALONE",
    "MAX_IMPORT_RECORDS",
    "Alongside",
    "ImportOutcome",
    "Parsed",
    "Placed",
    "clean_errors",
    "import_document",
    "import_parsed",
    "parse_document",
    "products_named",
]


Parsed = tuple[str, Any]  # a document's kind and its validated models (`parse_document`)
Placed = Callable[[bool], None]  # told once a facility and its locations are merged: whether it wrote any


@dataclass(frozen=True)
class Alongside:
    """How `stockledger load` writes a document among others (catalog/load_turns.py): `placed` is
    told once its facility and locations are merged (whether it wrote any of them); `unlocked`:
    another document is written meanwhile, so a facility or location row there as given is read
    and left alone, not upserted (catalog/import_rows.merge: the upsert would lock it)."""

    placed: Placed = lambda wrote: None
    unlocked: bool = False


ALONE = Alongside()  # a document written on its own: POST /v1/import, the first of a load

# A facility document whose products were read as rows (catalog/plain_products.py): its kind,
# and the facility's model (without its products) with them.
FACILITY_ROWS = "facilityRows"
# The same item twice in one list would merge its fields and lose a line: refused as a duplicate_line.
ITEMS = TypeAdapter(Annotated[list[InventoryItemDoc], unique_lines("inventory_item_id", "inventoryItemId")])


def import_document(session: Session, document: Any, tick: Tick = no_tick) -> ImportOutcome:
    """Load one seed document (any of the four kinds); raises ValidationFailed if unknown.
    `tick` is called after each record or batch of records (item, product, variance): the CLI's
    progress bar."""
    return import_parsed(session, parse_document(document), tick)


def parse_document(document: Any) -> Parsed:
    """The document bounded and validated, before anything is read or written (no session: the
    CLI parses the next document in a thread while this one is written)."""
    plain = _parse_plain(document)
    if plain is not None:
        return plain
    require_at_most_records(document)
    if isinstance(document, list):
        return "inventoryItems", _parse(ITEMS, document)
    if isinstance(document, dict):
        if "physicalInventoryId" in document:
            return "physicalInventory", _parse(PhysicalInventoryDoc, document)
        if "facilityId" in document:
            return "facility", _parse(FacilityDoc, document)
        if "productId" in document:
            return "product", _without_facility_settings(_parse(ProductDoc, document))
    raise ValidationFailed(
        "Unrecognised document: expected a facility (facilityId), a product (productId), a list of "
        "InventoryItems, or a PhysicalInventory (physicalInventoryId)"
    )


def _parse_plain(document: Any) -> Parsed | None:
    """A facility document whose products are all plain, read the fast way: the products
    straight into rows (catalog/plain_products.py), counted for the bound with the rest of the
    document, then the facility and its locations by FacilityDoc. None for any other document,
    or any refusal: it is bounded and validated whole, as before, and that answer is given."""
    if type(document) is not dict or "physicalInventoryId" in document or "facilityId" not in document:
        return None
    records = document.get("products")
    if type(records) is not list or len(records) > MAX_IMPORT_RECORDS:
        return None  # each product is a record: past the bound anyway
    products = plain_products(records, document["facilityId"])
    if products is None:
        return None
    rest = {name: value for name, value in document.items() if name != "products"}
    require_at_most_records(rest, products.records)
    try:
        facility = FacilityDoc.model_validate(rest)
    except PydanticValidationError:
        return None
    if facility.facility_id != document["facilityId"]:
        return None
    return FACILITY_ROWS, (facility, products)


def import_parsed(
    session: Session, parsed: Parsed, tick: Tick = no_tick, alongside: Alongside = ALONE
) -> ImportOutcome:
    """Write a document `parse_document` validated (a facility's `alongside` others: Alongside)."""
    kind, doc = parsed
    if kind == FACILITY_ROWS:
        return _import_facility(session, doc[0], tick, alongside, doc[1])
    if kind == "inventoryItems":
        return import_items(session, doc, tick)
    if kind == "physicalInventory":
        return import_physical_inventory(session, doc, tick)
    if kind == "facility":
        return _import_facility(session, doc, tick, alongside)
    outcome = ImportOutcome("product")
    import_products(session, [doc], outcome)
    return outcome


def _without_facility_settings(doc: ProductDoc) -> ProductDoc:
    """A product document on its own names no facility: its productFacility or
    productFacilityLocations would have nowhere to go (they were dropped, the answer counting
    the product alone: an outside tester's find). Refused: they belong in the facility's
    document, under its products."""
    given = [
        {"loc": [name], "msg": _NO_FACILITY, "type": "facility_settings_without_facility"}
        for name, value in (
            ("productFacility", doc.product_facility),
            ("productFacilityLocations", doc.product_facility_locations),
        )
        if value
    ]
    if given:
        raise ValidationFailed("The document does not match its schema", **listed_errors(given))
    return doc


_NO_FACILITY = (
    "a product document names no facility: give the product's settings for a facility in that "
    "facility's document (facilityId, then products), not here"
)


def _parse(model: type[BaseModel] | TypeAdapter[Any], data: Any) -> Any:
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationFailed("The document does not match its schema", **clean_errors(exc)) from exc


def import_result(outcome: ImportOutcome) -> ImportResult:
    """The answer of a route that imported a document: what it wrote, by kind of record."""
    return ImportResult(
        document_type=outcome.document_type,
        counts=dict(outcome.counts),
        created=dict(outcome.created),
        updated=dict(outcome.updated),
        unchanged=dict(outcome.unchanged),
        ledger_rows_written=outcome.ledger_rows_written,
    )


def clean_errors(exc: PydanticValidationError) -> dict[str, Any]:
    """`errors` (the first few) and `errorCount`, for a ValidationFailed."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    return listed_errors(errors, exc.error_count())


def products_named(parsed: Parsed) -> frozenset[str] | None:
    """The product ids a facility's document names (a validated one); None for any other kind."""
    kind, doc = parsed
    if kind == FACILITY_ROWS:
        return frozenset(doc[1].ids)
    if kind == "facility":
        return frozenset(product.product_id for product in doc.products)
    return None


def _import_facility(
    session: Session, doc: FacilityDoc, tick: Tick, alongside: Alongside, plain: PlainProducts | None = None
) -> ImportOutcome:
    outcome = ImportOutcome("facility")
    unlocked = alongside.unlocked
    written = merge(
        session, Facility, fields(doc, "facility_locations", "products"), ["facility_id"], unlocked=unlocked
    )
    outcome.add_one("facilities", written)
    for loc in doc.facility_locations:
        written = merge(
            session,
            FacilityLocation,
            {"facility_id": doc.facility_id, **fields(loc)},
            ["facility_id", "location_seq_id"],
            unlocked=unlocked,
        )
        outcome.add_one("facilityLocations", written)
    alongside.placed(any(outcome.created.values()) or any(outcome.updated.values()))
    import_products(session, doc.products if plain is None else plain, outcome, doc.facility_id, tick)
    return outcome
