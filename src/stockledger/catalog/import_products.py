"""The products of a seed document, set-based: checked in document order first (the refusal a
product-by-product load would meet first is the one raised), then written a batch at a time,
one upsert per table and batch (core.db.upsert_rows: on PostgreSQL one INSERT … SELECT FROM
unnest(arrays) … ON CONFLICT, sent in pipeline mode while the next batch is built), where a
statement per product loaded ≈ 1,000 products/s.

A product named twice in one batch is written once, with the fields of both (the later wins a
field both give): what the two upserts in a row would leave.
"""

from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from stockledger.catalog.import_rows import ImportOutcome, fields
from stockledger.catalog.import_stock import Tick, no_tick
from stockledger.catalog.schemas import ProductDoc
from stockledger.core.config import at_import
from stockledger.core.db import WriteBehind, one_of, upsert_rows
from stockledger.core.dialects import binds_arrays
from stockledger.core.errors import Forbidden, ValidationFailed
from stockledger.core.model_base import utcnow
from stockledger.core.scope import facilities_in_scope
from stockledger.ledger.models import FacilityLocation, Product, ProductFacility, ProductFacilityLocation

BATCH: int = at_import("import_batch_size")  # products per batch: the progress bar moves a batch at a time
PRODUCT: Table = Product.__table__  # type: ignore[assignment]
LINK: Table = ProductFacility.__table__  # type: ignore[assignment]
LINK_LOCATION: Table = ProductFacilityLocation.__table__  # type: ignore[assignment]
DOCS = TypeAdapter(list[ProductDoc])
LINK_FIELDS = frozenset({"product_facility", "product_facility_locations"})


def import_products(
    session: Session,
    docs: list[ProductDoc],
    outcome: ImportOutcome,
    facility_id: str | None = None,
    tick: Tick = no_tick,
) -> None:
    """Upsert the products (an unscoped token; a scoped one may only name them as they are) and,
    for a facility's document, their ProductFacility and ProductFacilityLocation rows."""
    scoped = facilities_in_scope(session) is not None
    _check(session, docs, facility_id, scoped)
    with WriteBehind(session) as writes:  # PostgreSQL: a batch is written while the next is built
        for start in range(0, len(docs), BATCH):
            batch = docs[start : start + BATCH]
            # the fields each document gave, nested ones too: one call, where 3 a product took longer
            dumped: list[dict[str, Any]] = DOCS.dump_python(batch, exclude_unset=True)
            if not scoped:
                now = utcnow()  # created_stamp: written by the INSERT alone
                products = [{k: v for k, v in d.items() if k not in LINK_FIELDS} for d in dumped]
                rows = [{**p, "created_stamp": now} for p in products]
                _upsert(session, PRODUCT, rows, ["product_id"], writes)
            outcome.counts["products"] += len(batch)
            if facility_id is not None:
                _write_links(session, dumped, facility_id, outcome, writes)
            tick(len(batch))


def _check(session: Session, docs: list[ProductDoc], facility_id: str | None, scoped: bool) -> None:
    """Every refusal the documents earn, the first in document order raised, before any write."""
    current = _current_products(session, [doc.product_id for doc in docs]) if scoped else {}
    named = {pfl.location_seq_id for doc in docs for pfl in doc.product_facility_locations}
    known = _known_locations(session, facility_id, named) if facility_id is not None and named else set()
    for doc in docs:
        if scoped:
            _require_as_is(fields(doc, *LINK_FIELDS), current.get(doc.product_id))
        if facility_id is None:
            continue
        for pfl in doc.product_facility_locations:
            if pfl.location_seq_id not in known:
                raise ValidationFailed(
                    f"Location {pfl.location_seq_id} is not a location of facility {facility_id}; "
                    "load the facility's facilityLocations first",
                    facilityId=facility_id,
                    locationSeqId=pfl.location_seq_id,
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


def _write_links(
    session: Session,
    dumped: list[dict[str, Any]],
    facility_id: str,
    outcome: ImportOutcome,
    writes: WriteBehind,
) -> None:
    """`dumped`: the products as their fields given (model_dump(exclude_unset=True))."""
    links = [
        {"facility_id": facility_id, "product_id": d["product_id"], **(d.get("product_facility") or {})}
        for d in dumped
    ]
    _upsert(session, LINK, links, ["facility_id", "product_id"], writes)
    outcome.counts["productFacilities"] += len(links)
    located = [
        {"facility_id": facility_id, "product_id": d["product_id"], **pfl}
        for d in dumped
        for pfl in d.get("product_facility_locations", ())
    ]
    _upsert(session, LINK_LOCATION, located, ["facility_id", "product_id", "location_seq_id"], writes)
    if located:  # counted when there are some, as a row-by-row load counted them
        outcome.counts["productFacilityLocations"] += len(located)


def _upsert(
    session: Session, table: Table, rows: list[dict[str, Any]], keys: list[str], writes: WriteBehind
) -> None:
    """The rows upserted by `keys`: each key once, with the fields of its rows merged in order;
    one statement per set of columns the rows give."""
    if not rows:
        return
    key_of = itemgetter(*keys)
    if len(set(map(key_of, rows))) < len(rows):  # a key named twice: its rows merged in order
        merged: dict[Any, dict[str, Any]] = {}
        for row in rows:
            key = key_of(row)
            merged[key] = {**merged[key], **row} if key in merged else row
        rows = list(merged.values())
    for group in _by_columns(rows):
        upsert_rows(session, table, group, keys, writes)


def _by_columns(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    columns = rows[0].keys()
    if all(row.keys() == columns for row in rows):  # the usual document: every row alike
        yield rows
        return
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(frozenset(row), []).append(row)
    yield from groups.values()


def _ids_per_query(session: Session) -> int:
    """A batch's ids in one array parameter where the database binds arrays, else an IN list
    under the bind-parameter limit."""
    return BATCH if binds_arrays(session) else 900


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
