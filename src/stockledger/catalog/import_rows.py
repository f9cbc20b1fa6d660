"""What the seed-document importers share: the upsert of one row, a document's fields, and the
event that names an item loaded from a document."""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from stockledger.core.dialects import upsert
from stockledger.core.errors import ValidationFailed
from stockledger.events.outbox import record_event
from stockledger.ledger.models import FacilityLocation, InventoryItem


@dataclass
class ImportOutcome:
    document_type: str
    counts: Counter[str] = field(default_factory=Counter)
    ledger_rows_written: int = 0


def merge(
    session: Session,
    model: type[Any],
    values: dict[str, Any],
    keys: list[str],
    insert_only: dict[str, Any] | None = None,
) -> None:
    """INSERT, or UPDATE only the fields the document gave (ON CONFLICT DO UPDATE); `insert_only`
    values are written by the INSERT alone (who first recorded a row stays so on a reload)."""
    table = model.__table__
    changes = {k: v for k, v in values.items() if k not in keys}
    stmt = upsert(session, table).values(**values, **(insert_only or {}))
    if changes:
        session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changes))
    else:
        session.execute(stmt.on_conflict_do_nothing(index_elements=keys))


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
