"""Seed-document import (seeds 001/002 as they stand): an upsert that never double-posts.

Catalogue rows are upserted field by field. Ledger rows are keyed by the document's
inventoryItemDetailSeqId (or, when absent, by their content), and a variance by its
(physicalInventoryId, inventoryItemId): loading a document again writes nothing.
"""

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from stockledger.catalog.import_bounds import (
    detail_acc,
    require_at_most_records,
    require_item_totals_within,
)
from stockledger.catalog.inventory_items import link_product_facility, require_facility
from stockledger.catalog.schemas import (
    DetailDoc,
    FacilityDoc,
    InventoryItemDoc,
    PhysicalInventoryDoc,
    ProductDoc,
)
from stockledger.catalog.service import find_inventory_item
from stockledger.core.actor import acting_user
from stockledger.core.db import upsert
from stockledger.core.errors import Conflict, Forbidden, ValidationFailed, listed_errors
from stockledger.core.fixed import ZERO
from stockledger.core.model_base import utcnow
from stockledger.core.scope import facilities_in_scope
from stockledger.core.sums import require_summable
from stockledger.events.outbox import record_event
from stockledger.ledger.models import (
    Facility,
    FacilityLocation,
    InventoryItem,
    InventoryItemDetail,
    InventoryItemVariance,
    PhysicalInventory,
    Product,
    ProductFacility,
    ProductFacilityLocation,
    VarianceReason,
)
from stockledger.ledger.post import Links, Posting, post

IMPORT_ADJUST = "INV_IMPORT_ADJ"  # reconciles stated totals that their details do not explain


@dataclass
class ImportOutcome:
    document_type: str
    counts: Counter[str] = field(default_factory=Counter)
    ledger_rows_written: int = 0


def import_document(session: Session, document: Any) -> ImportOutcome:
    """Load one seed document (any of the four kinds); raises ValidationFailed if unknown."""
    require_at_most_records(document)
    if isinstance(document, list):
        items = _parse(TypeAdapter(list[InventoryItemDoc]), document)
        return _import_items(session, items)
    if isinstance(document, dict):
        if "physicalInventoryId" in document:
            return _import_physical_inventory(session, _parse(PhysicalInventoryDoc, document))
        if "facilityId" in document:
            return _import_facility(session, _parse(FacilityDoc, document))
        if "productId" in document:
            outcome = ImportOutcome("product")
            _upsert_product(session, _parse(ProductDoc, document), outcome)
            return outcome
    raise ValidationFailed(
        "Unrecognised document: expected a facility (facilityId), a product (productId), a list of "
        "InventoryItems, or a PhysicalInventory (physicalInventoryId)"
    )


def _parse(model: type[BaseModel] | TypeAdapter[Any], data: Any) -> Any:
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationFailed("The document does not match its schema", **clean_errors(exc)) from exc


def clean_errors(exc: PydanticValidationError) -> dict[str, Any]:
    """`errors` (the first few) and `errorCount`, for a ValidationFailed."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    return listed_errors(errors, exc.error_count())


def _merge(session: Session, model: type[Any], values: dict[str, Any], keys: list[str]) -> None:
    """INSERT, or UPDATE only the fields the document gave (ON CONFLICT DO UPDATE)."""
    table = model.__table__
    changes = {k: v for k, v in values.items() if k not in keys}
    stmt = upsert(session, table).values(**values)
    if changes:
        session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changes))
    else:
        session.execute(stmt.on_conflict_do_nothing(index_elements=keys))


def _fields(doc: BaseModel, *exclude: str) -> dict[str, Any]:
    return doc.model_dump(exclude_unset=True, exclude=set(exclude))


# ---- facility documents ----


def _import_facility(session: Session, doc: FacilityDoc) -> ImportOutcome:
    outcome = ImportOutcome("facility")
    _merge(session, Facility, _fields(doc, "facility_locations", "products"), ["facility_id"])
    outcome.counts["facilities"] += 1
    for loc in doc.facility_locations:
        _merge(
            session,
            FacilityLocation,
            {"facility_id": doc.facility_id, **_fields(loc)},
            ["facility_id", "location_seq_id"],
        )
        outcome.counts["facilityLocations"] += 1
    for product in doc.products:
        _upsert_product(session, product, outcome, doc.facility_id)
    return outcome


def _upsert_product(
    session: Session, doc: ProductDoc, outcome: ImportOutcome, facility_id: str | None = None
) -> None:
    values = _fields(doc, "product_facility", "product_facility_locations")
    if facilities_in_scope(session) is None:
        _merge(session, Product, values, ["product_id"])
    else:
        _require_product_as_is(session, values)
    outcome.counts["products"] += 1
    if facility_id is None:
        return
    pf = _fields(doc.product_facility) if doc.product_facility else {}
    _merge(
        session,
        ProductFacility,
        {"facility_id": facility_id, "product_id": doc.product_id, **pf},
        ["facility_id", "product_id"],
    )
    outcome.counts["productFacilities"] += 1
    for pfl in doc.product_facility_locations:
        _require_location(session, facility_id, pfl.location_seq_id)
        _merge(
            session,
            ProductFacilityLocation,
            {"facility_id": facility_id, "product_id": doc.product_id, **_fields(pfl)},
            ["facility_id", "product_id", "location_seq_id"],
        )
        outcome.counts["productFacilityLocations"] += 1


def _require_product_as_is(session: Session, values: dict[str, Any]) -> None:
    """Products are shared by every facility: a token scoped to some may name one as it is
    (reloading its facility's document), but only an unscoped token may create or change it."""
    product_id = values["product_id"]
    product = session.get(Product, product_id)
    if product is None or any(getattr(product, name) != value for name, value in values.items()):
        raise Forbidden(
            f"Product {product_id} is shared by every facility: only a token of every facility "
            "may create or change it",
            productId=product_id,
        )


def _require_location(session: Session, facility_id: str, location_seq_id: str) -> None:
    if session.get(FacilityLocation, (facility_id, location_seq_id)) is None:
        raise ValidationFailed(
            f"Location {location_seq_id} is not a location of facility {facility_id}; "
            "load the facility's facilityLocations first",
            facilityId=facility_id,
            locationSeqId=location_seq_id,
        )


# ---- inventory items with their details ----


def _import_items(session: Session, docs: list[InventoryItemDoc]) -> ImportOutcome:
    outcome = ImportOutcome("inventoryItems")
    for doc in docs:
        _import_item(session, doc, outcome)
    require_summable(session, {doc.facility_id for doc in docs})
    return outcome


def _import_item(session: Session, doc: InventoryItemDoc, outcome: ImportOutcome) -> None:
    _check_item_refs(session, doc)
    existing = session.get(InventoryItem, (doc.facility_id, doc.inventory_item_id))
    is_new = existing is None
    require_item_totals_within(doc, _totals(existing))
    attrs = _fields(
        doc,
        "inventory_item_details",
        "quantity_on_hand_total",
        "available_to_promise_total",
        "accounting_quantity_total",
    )
    if is_new:
        session.add(InventoryItem(**attrs))
        session.flush()
    else:
        _merge(session, InventoryItem, attrs, ["facility_id", "inventory_item_id"])
    link_product_facility(session, doc.facility_id, doc.product_id, doc.inventory_item_id)
    outcome.counts["inventoryItems"] += 1
    written = outcome.ledger_rows_written
    for detail in doc.inventory_item_details:
        if not _detail_exists(session, doc, detail):
            post(session, _detail_posting(doc, detail))
            outcome.ledger_rows_written += 1
        outcome.counts["inventoryItemDetails"] += 1
    if is_new:
        outcome.ledger_rows_written += _reconcile_stated_totals(session, doc)
    if outcome.ledger_rows_written > written:
        _record_imported(session, doc.facility_id, doc.product_id, doc.inventory_item_id)


def _totals(item: InventoryItem | None) -> tuple[Decimal, Decimal, Decimal]:
    if item is None:
        return ZERO, ZERO, ZERO
    return item.quantity_on_hand_total, item.available_to_promise_total, item.accounting_quantity_total


def _record_imported(session: Session, facility_id: str, product_id: str, inventory_item_id: str) -> None:
    """Ledger rows loaded from a document are a change like any other: an event names the item."""
    item = session.get(InventoryItem, (facility_id, inventory_item_id), populate_existing=True)
    assert item is not None  # imported just above
    payload = {
        "facilityId": facility_id,
        "productId": product_id,
        "inventoryItemId": inventory_item_id,
        "reasonEnumId": "INV_IMPORT",
        "quantityOnHandTotal": item.quantity_on_hand_total,
        "availableToPromiseTotal": item.available_to_promise_total,
    }
    record_event(session, facility_id, "InventoryImported", payload)


def _check_item_refs(session: Session, doc: InventoryItemDoc) -> None:
    require_facility(session, doc.facility_id)
    if session.get(Product, doc.product_id) is None:
        raise ValidationFailed(
            f"Inventory item {doc.inventory_item_id} names unknown product {doc.product_id}; "
            "load the facility's products document first",
            productId=doc.product_id,
        )
    if doc.location_seq_id is not None:
        _require_location(session, doc.facility_id, doc.location_seq_id)
    elsewhere = session.scalar(
        select(InventoryItem.facility_id).where(
            InventoryItem.inventory_item_id == doc.inventory_item_id,
            InventoryItem.facility_id != doc.facility_id,
        )
    )
    if elsewhere is not None:
        raise Conflict(
            f"Inventory item {doc.inventory_item_id} already exists in facility {elsewhere}",
            inventoryItemId=doc.inventory_item_id,
        )


def _detail_exists(session: Session, item: InventoryItemDoc, detail: DetailDoc) -> bool:
    d = InventoryItemDetail
    stmt = select(d.seq_num).where(
        d.facility_id == item.facility_id, d.inventory_item_id == item.inventory_item_id
    )
    if detail.inventory_item_detail_seq_id is not None:
        stmt = stmt.where(d.inventory_item_detail_seq_id == detail.inventory_item_detail_seq_id)
    else:  # no key given: the same content at the same instant is the same row
        stmt = stmt.where(
            d.effective_date == detail.effective_date,
            d.reason_enum_id == detail.reason_enum_id,
            d.quantity_on_hand_diff == detail.quantity_on_hand_diff,
            d.available_to_promise_diff == detail.available_to_promise_diff,
        )
    return session.scalar(stmt.limit(1)) is not None


def _detail_posting(item: InventoryItemDoc, d: DetailDoc) -> Posting:
    links = Links(**d.model_dump(include=set(Links.__dataclass_fields__) & set(DetailDoc.model_fields)))
    return Posting(
        facility_id=item.facility_id,
        inventory_item_id=item.inventory_item_id,
        reason_enum_id=d.reason_enum_id or "INV_IMPORT",
        quantity_on_hand_diff=d.quantity_on_hand_diff,
        available_to_promise_diff=d.available_to_promise_diff,
        accounting_quantity_diff=d.accounting_quantity_diff,
        effective_date=d.effective_date or item.datetime_received,
        links=links,
        detail_seq_id=d.inventory_item_detail_seq_id,
    )


def _reconcile_stated_totals(session: Session, doc: InventoryItemDoc) -> int:
    """A new item whose stated totals its details do not explain gets one row that does."""
    qoh = sum((d.quantity_on_hand_diff for d in doc.inventory_item_details), ZERO)
    atp = sum((d.available_to_promise_diff for d in doc.inventory_item_details), ZERO)
    acc = sum((detail_acc(d) for d in doc.inventory_item_details), ZERO)
    want_qoh = doc.quantity_on_hand_total if doc.quantity_on_hand_total is not None else qoh
    want_atp = doc.available_to_promise_total if doc.available_to_promise_total is not None else atp
    want_acc = (
        doc.accounting_quantity_total if doc.accounting_quantity_total is not None else acc + (want_qoh - qoh)
    )
    if (want_qoh, want_atp, want_acc) == (qoh, atp, acc):
        return 0
    post(
        session,
        Posting(
            facility_id=doc.facility_id,
            inventory_item_id=doc.inventory_item_id,
            reason_enum_id=IMPORT_ADJUST,
            quantity_on_hand_diff=want_qoh - qoh,
            available_to_promise_diff=want_atp - atp,
            accounting_quantity_diff=want_acc - acc,
            effective_date=doc.datetime_received,
            links=Links(description="Totals stated by the imported document"),
        ),
    )
    return 1


# ---- physical inventory with its variances ----


def _import_physical_inventory(session: Session, doc: PhysicalInventoryDoc) -> ImportOutcome:
    outcome = ImportOutcome("physicalInventory")
    when = doc.physical_inventory_date or utcnow()
    header = _fields(doc, "inventory_item_variances")
    header.setdefault("physical_inventory_date", when)
    facilities: set[str] = set()
    for variance in doc.inventory_item_variances:
        item = _item_anywhere(session, variance.inventory_item_id)
        _require_reason(session, variance.variance_reason_id)
        _merge(
            session,
            PhysicalInventory,
            {"facility_id": item.facility_id, **header},
            ["facility_id", "physical_inventory_id"],
        )
        key = (item.facility_id, item.inventory_item_id, doc.physical_inventory_id)
        outcome.counts["inventoryItemVariances"] += 1
        if session.get(InventoryItemVariance, key) is not None:
            continue
        session.add(
            InventoryItemVariance(
                facility_id=item.facility_id,
                physical_inventory_id=doc.physical_inventory_id,
                **_fields(variance, "physical_inventory_id"),
            )
        )
        session.flush()
        post(
            session,
            Posting(
                facility_id=item.facility_id,
                inventory_item_id=item.inventory_item_id,
                reason_enum_id=variance.variance_reason_id or "VAR_INTEGR",
                quantity_on_hand_diff=variance.quantity_on_hand_var,
                available_to_promise_diff=variance.available_to_promise_var,
                effective_date=when,
                links=Links(
                    physical_inventory_id=doc.physical_inventory_id,
                    change_by_user_login_id=acting_user(session) or doc.party_id,
                    description=variance.comments,
                ),
            ),
        )
        outcome.ledger_rows_written += 1
        _record_imported(session, item.facility_id, item.product_id, item.inventory_item_id)
        facilities.add(item.facility_id)
    require_summable(session, facilities)
    outcome.counts["physicalInventories"] = 1
    return outcome


def _item_anywhere(session: Session, inventory_item_id: str) -> InventoryItem:
    item = find_inventory_item(session, inventory_item_id)
    if item is None:
        raise ValidationFailed(
            f"Variance names unknown inventory item {inventory_item_id}",
            inventoryItemId=inventory_item_id,
        )
    return item


def _require_reason(session: Session, reason_id: str | None) -> None:
    if reason_id is not None and session.get(VarianceReason, reason_id) is None:
        raise ValidationFailed(f"Unknown variance reason {reason_id}", varianceReasonId=reason_id)
