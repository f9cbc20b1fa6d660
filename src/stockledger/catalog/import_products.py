"""The products of a seed document, set-based: checked in document order first (the refusal a
product-by-product load would meet first is the one raised), then written a batch at a time,
one upsert per table and batch (core.bulk.upsert_copied: on PostgreSQL the batch's rows COPYed
into their table, or into a staging table and one INSERT … SELECT … ON CONFLICT), where a
statement per product loaded ≈ 1,000 products/s. The rows come from catalog/product_rows.py
(`Products`): made from the validated models, or read straight from the usual document
(catalog/plain_products.py); the checks, the writes and the counts are the same either way.

A product named twice in one document is written once (its records in one batch:
product_rows.ModelProducts), with the fields of both (the later wins a field both give): what the
two upserts in a row would leave; the counts are of the rows: one product, not two, created,
updated (a field it gives held another value) or unchanged (not written:
core.upserts.upsert_action).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from stockledger.catalog.import_rows import ImportOutcome
from stockledger.catalog.import_stock import Tick, no_tick
from stockledger.catalog.product_rows import LINK_KEYS, Batch, ModelProducts, Products
from stockledger.catalog.schemas import ProductDoc
from stockledger.core.bulk import upsert_copied
from stockledger.core.config import at_import
from stockledger.core.dialects import binds_arrays, one_of
from stockledger.core.errors import Forbidden, ValidationFailed
from stockledger.core.model_base import utcnow
from stockledger.core.scope import facilities_in_scope
from stockledger.core.upserts import Upserted
from stockledger.core.write_behind import WriteBehind
from stockledger.ledger.models import FacilityLocation, Product, ProductFacility, ProductFacilityLocation

BATCH: int = at_import("import_batch_size")  # products per batch: the progress bar moves a batch at a time
PRODUCT: Table = Product.__table__  # type: ignore[assignment]
LINK: Table = ProductFacility.__table__  # type: ignore[assignment]
LINK_LOCATION: Table = ProductFacilityLocation.__table__  # type: ignore[assignment]


def import_products(
    session: Session,
    docs: list[ProductDoc] | Products,
    outcome: ImportOutcome,
    facility_id: str | None = None,
    tick: Tick = no_tick,
) -> None:
    """Upsert the products (an unscoped token; a scoped one may only name them as they are) and,
    for a facility's document, their ProductFacility and ProductFacilityLocation rows."""
    products = ModelProducts(docs, facility_id) if isinstance(docs, list) else docs
    scoped = facilities_in_scope(session) is not None
    _check(session, products, facility_id, scoped)
    written = _Written()
    with WriteBehind(session):  # PostgreSQL: a batch upserted while the next is made (core.bulk)
        for batch in products.batches(BATCH):
            if not scoped:  # a scoped token's products are as they are (_check): none written
                _write_products(session, batch, written.products)
            _write_links(session, batch, written)
            tick(batch.size)
    written.record(outcome, products, facility_id is not None)


@dataclass
class _Written:
    """What the batches wrote (Upserted: counted as the answers come)."""

    products: Upserted = field(default_factory=Upserted)
    links: Upserted = field(default_factory=Upserted)
    located: Upserted = field(default_factory=Upserted)

    def record(self, outcome: ImportOutcome, products: Products, linked: bool) -> None:
        """Into `outcome`: created, updated, and the rest of the rows named unchanged (once the
        writes settled). The rows named, not the records read: a product named twice is one
        product (its ProductFacility one row, a location it names twice one
        ProductFacilityLocation); links and their locations for a facility's document
        (locations where it names some, as a row-by-row load counted them)."""
        ids = products.ids
        named = len(set(ids))
        kinds = [("products", self.products, named)]
        if linked:
            kinds.append(("productFacilities", self.links, named))
            located = {(pid, loc) for pid, locs in zip(ids, products.locations, strict=True) for loc in locs}
            if located:
                kinds.append(("productFacilityLocations", self.located, len(located)))
        for kind, upserted, count in kinds:
            outcome.add(kind, upserted.created, upserted.updated, count - upserted.created - upserted.updated)


def _write_products(session: Session, batch: Batch, upserted: Upserted) -> None:
    now = (utcnow(),)  # created_stamp: written by the INSERT alone
    stamp = ["created_stamp"]
    for columns, rows in batch.products:
        stamped = [row + now for row in rows]
        upsert_copied(session, PRODUCT, [*columns, *stamp], stamped, ["product_id"], stamp, upserted)


def _write_links(session: Session, batch: Batch, written: _Written) -> None:
    """The batch's ProductFacility rows, then its ProductFacilityLocation rows (none without a
    facility)."""
    for columns, rows in batch.links:
        upsert_copied(session, LINK, columns, rows, LINK_KEYS, upserted=written.links)
    keys = [*LINK_KEYS, "location_seq_id"]
    for columns, rows in batch.located:
        upsert_copied(session, LINK_LOCATION, columns, rows, keys, upserted=written.located)


def _check(session: Session, products: Products, facility_id: str | None, scoped: bool) -> None:
    """Every refusal the documents earn, the first in document order raised, before any write."""
    ids, locations = products.ids, products.locations
    current = _current_products(session, list(ids)) if scoped else {}
    named = {loc for locs in locations for loc in locs} if facility_id is not None else set()
    known = _known_locations(session, facility_id, named) if facility_id is not None and named else set()
    if not scoped and named <= known:
        return  # nothing to refuse (the usual document: every location is the facility's)
    for index, product_id in enumerate(ids):
        if scoped:
            _require_as_is(products.own_fields(index), current.get(product_id))
        if facility_id is None:
            continue
        for location_seq_id in locations[index]:
            if location_seq_id not in known:
                raise ValidationFailed(
                    f"Location {location_seq_id} is not a location of facility {facility_id}; "
                    "load the facility's facilityLocations first",
                    facilityId=facility_id,
                    locationSeqId=location_seq_id,
                )


def _require_as_is(values: dict[str, Any], current: dict[str, Any] | None) -> None:
    """Products are shared by every facility: a token scoped to some may name one as it is
    (reloading its facility's document), but only an unscoped token may create or change it."""
    if current is None or any(current[name] != value for name, value in values.items()):
        product_id = values["product_id"]
        raise Forbidden(
            f"Product {product_id} is shared by every facility: only a token of every facility "
            "may create or change it",
            productId=product_id,
        )


def _current_products(session: Session, product_ids: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(product_ids)), _ids_per_query(session)):
        for row in session.execute(select(PRODUCT).where(one_of(session, PRODUCT.c.product_id, chunk))):
            found[row.product_id] = dict(row._mapping)
    return found


def _known_locations(session: Session, facility_id: str, named: set[str]) -> set[str]:
    loc = FacilityLocation
    known: set[str] = set()
    for chunk in _chunks(sorted(named), _ids_per_query(session)):
        stmt = select(loc.location_seq_id).where(
            loc.facility_id == facility_id, one_of(session, loc.location_seq_id, chunk)
        )
        known.update(session.scalars(stmt))
    return known


def _ids_per_query(session: Session) -> int:
    """A batch's ids in one array parameter where the database binds arrays, else an IN list
    under the bind-parameter limit."""
    return BATCH if binds_arrays(session) else 900


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
