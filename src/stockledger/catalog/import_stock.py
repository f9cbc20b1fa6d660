"""Seed-document import of stock: InventoryItems with their details, and PhysicalInventory
documents with their variances. Ledger rows are keyed by the document's
inventoryItemDetailSeqId (or, when absent, by their content), and a variance by its
(physicalInventoryId, inventoryItemId): loading a document again writes nothing.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockledger.catalog.import_bounds import detail_acc, require_item_totals_within
from stockledger.catalog.import_rows import ImportOutcome, fields, merge, record_imported, require_location
from stockledger.catalog.inventory_items import link_product_facility, require_facility
from stockledger.catalog.schemas import DetailDoc, InventoryItemDoc, PhysicalInventoryDoc, VarianceDoc
from stockledger.core.actor import acting_user
from stockledger.core.errors import Conflict, NotFound
from stockledger.core.fixed import ZERO
from stockledger.core.model_base import utcnow
from stockledger.core.quantities import json_number
from stockledger.core.scope import check_owner
from stockledger.core.sums import require_summable
from stockledger.ledger.items import find_inventory_item
from stockledger.ledger.models import (
    InventoryItem,
    InventoryItemDetail,
    InventoryItemVariance,
    OrderItemInventoryReservation,
    PhysicalInventory,
    Product,
    VarianceReason,
)
from stockledger.ledger.post import Links, Posting, post

INV_AVAILABLE, RES_ACTIVE = "INV_AVAILABLE", "RES_ACTIVE"
IMPORT_ADJUST = "INV_IMPORT_ADJ"  # reconciles stated totals that their details do not explain


class Tick(Protocol):
    """Told after each record, or each batch of `steps` records: the CLI's progress bar."""

    def __call__(self, steps: int = 1) -> None: ...


def no_tick(steps: int = 1) -> None:
    """No one is watching."""


def import_items(session: Session, docs: list[InventoryItemDoc], tick: Tick = no_tick) -> ImportOutcome:
    outcome = ImportOutcome("inventoryItems")
    for doc in docs:
        _import_item(session, doc, outcome)
        tick()
    require_summable(session, {doc.facility_id for doc in docs})
    return outcome


def _import_item(session: Session, doc: InventoryItemDoc, outcome: ImportOutcome) -> None:
    _check_item_refs(session, doc)
    existing = session.get(InventoryItem, (doc.facility_id, doc.inventory_item_id))
    is_new = existing is None
    require_item_totals_within(doc, _totals(existing))
    if existing is not None:
        _require_status_keeps_reservations(session, existing, doc)
    attrs = fields(
        doc,
        "inventory_item_details",
        "quantity_on_hand_total",
        "available_to_promise_total",
        "accounting_quantity_total",
    )
    if is_new:
        session.add(InventoryItem(**attrs))
        session.flush()
        outcome.add_one("inventoryItems", "created")
    else:
        keys = ["facility_id", "inventory_item_id"]
        outcome.add_one("inventoryItems", merge(session, InventoryItem, attrs, keys, existed=True))
    link_product_facility(session, doc.facility_id, doc.product_id, doc.inventory_item_id)
    written = outcome.ledger_rows_written
    for detail in doc.inventory_item_details:
        held = _held_detail(session, doc, detail)
        if held is not None:  # a ledger row is never changed: there as it was, or refused
            _require_as_held(
                f"Ledger row {detail.inventory_item_detail_seq_id} of inventory item {doc.inventory_item_id}",
                held,
                _detail_given(detail),
                inventoryItemId=doc.inventory_item_id,
                inventoryItemDetailSeqId=detail.inventory_item_detail_seq_id,
            )
            outcome.add_one("inventoryItemDetails", "unchanged")
            continue
        post(session, _detail_posting(doc, detail))
        outcome.ledger_rows_written += 1
        outcome.add_one("inventoryItemDetails", "created")
    if is_new:
        outcome.ledger_rows_written += _reconcile_stated_totals(session, doc)
    if outcome.ledger_rows_written > written:
        record_imported(session, doc.facility_id, doc.product_id, doc.inventory_item_id)


def _check_item_refs(session: Session, doc: InventoryItemDoc) -> None:
    require_facility(session, doc.facility_id)
    if session.get(Product, doc.product_id) is None:
        raise NotFound(
            f"Inventory item {doc.inventory_item_id} names unknown product {doc.product_id}; "
            "load the facility's products document first",
            productId=doc.product_id,
        )
    if doc.location_seq_id is not None:
        require_location(session, doc.facility_id, doc.location_seq_id)
    _check_item_identity(session, doc)


def _check_item_identity(session: Session, doc: InventoryItemDoc) -> None:
    """An item keeps its facility and its product: a document may add to it, never move it.
    An item of a facility outside the token's scope is a 403 that names nothing of it."""
    item_id = doc.inventory_item_id
    found = find_inventory_item(session, item_id)
    if found is None:
        return
    check_owner(session, found.facility_id, f"inventory item {item_id}", inventoryItemId=item_id)
    if found.facility_id != doc.facility_id:
        raise Conflict(
            f"Inventory item {item_id} already exists in facility {found.facility_id}",
            inventoryItemId=item_id,
        )
    if found.product_id != doc.product_id:
        raise Conflict(
            f"Inventory item {item_id} holds product {found.product_id}, not {doc.product_id}: "
            "an import cannot change an item's product",
            inventoryItemId=item_id,
            productId=found.product_id,
            requestedProductId=doc.product_id,
        )


def _require_status_keeps_reservations(session: Session, item: InventoryItem, doc: InventoryItemDoc) -> None:
    """Units reserved on an item stay promised only while it is sellable (SPEC §11): a document
    that puts an item with active reservations on hold (or any status but INV_AVAILABLE) is
    refused, as `stockledger verify` would otherwise report nothing_reserved_on_non_promisable_items.
    The reservations are cancelled (or moved) first; then the status can change."""
    if doc.status_id is None or doc.status_id == INV_AVAILABLE or "status_id" not in doc.model_fields_set:
        return
    r = OrderItemInventoryReservation
    reserved = session.scalar(
        select(func.coalesce(func.sum(r.quantity), 0)).where(
            r.facility_id == item.facility_id,
            r.inventory_item_id == item.inventory_item_id,
            r.status_id == RES_ACTIVE,
            r.quantity > 0,
        )
    )
    if reserved:
        units = json_number(Decimal(reserved))
        raise Conflict(
            f"Inventory item {item.inventory_item_id} has {units} units reserved by active "
            f"reservations; it cannot become {doc.status_id} until they are cancelled (nothing written)",
            inventoryItemId=item.inventory_item_id,
            reservedQuantity=units,
            statusId=doc.status_id,
        )


def _held_detail(session: Session, item: InventoryItemDoc, detail: DetailDoc) -> InventoryItemDetail | None:
    d = InventoryItemDetail
    stmt = select(d).where(d.facility_id == item.facility_id, d.inventory_item_id == item.inventory_item_id)
    if detail.inventory_item_detail_seq_id is not None:
        stmt = stmt.where(d.inventory_item_detail_seq_id == detail.inventory_item_detail_seq_id)
    else:  # no key given: the same content at the same instant is the same row
        stmt = stmt.where(
            d.effective_date == detail.effective_date,
            d.reason_enum_id == detail.reason_enum_id,
            d.quantity_on_hand_diff == detail.quantity_on_hand_diff,
            d.available_to_promise_diff == detail.available_to_promise_diff,
        )
    return session.scalars(stmt.limit(1)).first()


def _detail_given(detail: DetailDoc) -> dict[str, Any]:
    """What a re-sent ledger row states of itself: its diffs (0 when not given, as posted) and the
    accounting diff, reason and instant when it gives them (else the row took derived values)."""
    given = detail.model_dump(include={"accounting_quantity_diff", "reason_enum_id", "effective_date"})
    return {
        "quantity_on_hand_diff": detail.quantity_on_hand_diff,
        "available_to_promise_diff": detail.available_to_promise_diff,
        **{k: v for k, v in given.items() if v is not None},
    }


def _require_as_held(what: str, held: object, given: dict[str, Any], **names: str | None) -> None:
    """The ledger is append-only: a row sent again is the row there (unchanged) or a 409 that
    names it and what differs, never an edit taken silently as `unchanged`."""
    differs = {
        _camel(field): {"held": _shown(getattr(held, field)), "given": _shown(value)}
        for field, value in given.items()
        if not _same(getattr(held, field), value)
    }
    if differs:
        raise Conflict(
            f"{what} is already recorded with other values ({', '.join(differs)}): "
            "the ledger is append-only; post a new row for a correction",
            **names,
            differs=differs,
        )


def _camel(field: str) -> str:
    first, *rest = field.split("_")
    return first + "".join(part.title() for part in rest)


def _same(held: object, given: object) -> bool:
    if isinstance(held, datetime) and isinstance(given, datetime):
        return _naive_utc(held) == _naive_utc(given)
    return held == given


def _naive_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _shown(value: object) -> object:
    if isinstance(value, datetime):
        return _naive_utc(value).isoformat()
    return str(value) if isinstance(value, Decimal) else value


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


def _totals(item: InventoryItem | None) -> tuple[Decimal, Decimal, Decimal]:
    if item is None:
        return ZERO, ZERO, ZERO
    return item.quantity_on_hand_total, item.available_to_promise_total, item.accounting_quantity_total


def import_physical_inventory(
    session: Session, doc: PhysicalInventoryDoc, tick: Tick = no_tick
) -> ImportOutcome:
    outcome = ImportOutcome("physicalInventory")
    who = acting_user(session) or doc.party_id  # header, variances and ledger rows alike
    when = doc.physical_inventory_date or utcnow()
    header = fields(doc, "inventory_item_variances")
    # A count the document does not date is dated by its first load: a reload keeps that date.
    first_load: dict[str, Any] = {"change_by_user_login_id": who}
    if "physical_inventory_date" not in header:
        first_load["physical_inventory_date"] = when
    facilities: set[str] = set()
    outcome.add("physicalInventories")  # one header per facility its variances' items are in
    for variance in doc.inventory_item_variances:
        item = _item_anywhere(session, variance.inventory_item_id)
        _require_reason(session, variance.variance_reason_id)
        written = merge(
            session,
            PhysicalInventory,
            {"facility_id": item.facility_id, **header},
            ["facility_id", "physical_inventory_id"],
            first_load,
        )
        if item.facility_id not in facilities:  # merged again per variance: counted once
            outcome.add_one("physicalInventories", written)
        facilities.add(item.facility_id)
        key = (item.facility_id, item.inventory_item_id, doc.physical_inventory_id)
        tick()
        held_variance = session.get(InventoryItemVariance, key)
        if held_variance is not None:  # a variance is never changed: there as it was, or refused
            _require_as_held(
                f"Variance of inventory item {item.inventory_item_id} in count {doc.physical_inventory_id}",
                held_variance,
                _variance_given(variance),
                inventoryItemId=item.inventory_item_id,
                physicalInventoryId=doc.physical_inventory_id,
            )
            outcome.add_one("inventoryItemVariances", "unchanged")
            continue
        outcome.add_one("inventoryItemVariances", "created")
        session.add(
            InventoryItemVariance(
                facility_id=item.facility_id,
                physical_inventory_id=doc.physical_inventory_id,
                **fields(variance, "physical_inventory_id"),
                change_by_user_login_id=who,
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
                    change_by_user_login_id=who,
                    description=variance.comments,
                ),
            ),
        )
        outcome.ledger_rows_written += 1
        record_imported(session, item.facility_id, item.product_id, item.inventory_item_id)
    require_summable(session, facilities)
    return outcome


def _variance_given(variance: VarianceDoc) -> dict[str, Any]:
    given = variance.model_dump(include={"variance_reason_id", "comments"})
    return {
        "quantity_on_hand_var": variance.quantity_on_hand_var,
        "available_to_promise_var": variance.available_to_promise_var,
        **{k: v for k, v in given.items() if v is not None},
    }


def _item_anywhere(session: Session, inventory_item_id: str) -> InventoryItem:
    item = find_inventory_item(session, inventory_item_id)
    if item is None:
        raise NotFound(
            f"Variance names unknown inventory item {inventory_item_id}",
            inventoryItemId=inventory_item_id,
        )
    what = f"inventory item {inventory_item_id}"
    check_owner(session, item.facility_id, what, inventoryItemId=inventory_item_id)
    return item


def _require_reason(session: Session, reason_id: str | None) -> None:
    if reason_id is not None and session.get(VarianceReason, reason_id) is None:
        raise NotFound(f"Unknown variance reason {reason_id}", varianceReasonId=reason_id)
