"""What the seed-document importers share: the upsert of one row, a document's fields, and the
event that names an item loaded from a document."""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import literal, or_, select
from sqlalchemy.orm import Session

from stockledger.core.dialects import upsert
from stockledger.core.errors import ValidationFailed
from stockledger.core.upserts import rowcount
from stockledger.events.outbox import record_event
from stockledger.ledger.models import FacilityLocation, InventoryItem

Written = Literal["created", "updated", "unchanged"]


@dataclass
class ImportOutcome:
    """What a document's import wrote, by kind of record (facilities, products, inventoryItems…):
    `created`, `updated` (a field the document gives held another value) and `unchanged` (there as
    the document gives it: not written). Every kind the document holds is in all three, zeros
    included. `counts`: the rows written, created + updated (a record named twice in a document
    is one row; a reload of the same document writes nothing: 0)."""

    document_type: str
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    ledger_rows_written: int = 0

    def add(self, kind: str, created: int = 0, updated: int = 0, unchanged: int = 0) -> None:
        self.created[kind] += created
        self.updated[kind] += updated
        self.unchanged[kind] += unchanged

    def add_one(self, kind: str, written: Written) -> None:
        self.add(kind, **{written: 1})

    @property
    def counts(self) -> dict[str, int]:
        return {kind: self.created[kind] + self.updated[kind] for kind in self.created}


def merge(
    session: Session,
    model: type[Any],
    values: dict[str, Any],
    keys: list[str],
    insert_only: dict[str, Any] | None = None,
    existed: bool | None = None,
    unlocked: bool = False,
) -> Written:
    """INSERT, or UPDATE only the fields the document gave, and only where one of them holds
    another value (ON CONFLICT DO UPDATE … WHERE); `insert_only` values are written by the INSERT
    alone (who first recorded a row stays so on a reload). What it did: the row was there before
    (`existed`, read here when the caller does not know) and the statement wrote it or not.

    `unlocked`: a row there as given is read and left alone, not upserted: the upsert locks the
    row until the commit even to write nothing, which makes a later document of the same
    facility wait for this one's commit; `stockledger load` asks it of a document written
    alongside the one ahead (catalog/load_turns.py). Elsewhere the lock stays: two imports of
    one facility at once take turns there, as they always did."""
    table = model.__table__
    changes = {k: v for k, v in values.items() if k not in keys}
    if existed is None:
        columns = [literal(1), *(table.c[c] for c in changes)]
        found = select(*columns).select_from(table).where(*(table.c[k] == values[k] for k in keys))
        row = session.execute(found).first()
        if unlocked and row is not None and tuple(row[1:]) == tuple(changes.values()):
            return "unchanged"
        existed = row is not None
    stmt = upsert(session, table).values(**values, **(insert_only or {}))
    if changes:
        differs = or_(*(table.c[c].is_distinct_from(stmt.excluded[c]) for c in changes))
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=changes, where=differs)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    if not rowcount(session.execute(stmt.execution_options(preserve_rowcount=True))):
        return "unchanged"
    return "updated" if existed else "created"


def fields(doc: BaseModel, *exclude: str) -> dict[str, Any]:
    return doc.model_dump(exclude_unset=True, exclude=set(exclude))


def require_location(session: Session, facility_id: str, location_seq_id: str) -> None:
    if session.get(FacilityLocation, (facility_id, location_seq_id)) is None:
        raise ValidationFailed(
            f"Location {location_seq_id} is not a location of facility {facility_id}; "
            "load the facility's facilityLocations first",
            facilityId=facility_id,
            locationSeqId=location_seq_id,
        )


def record_imported(session: Session, facility_id: str, product_id: str, inventory_item_id: str) -> None:
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
