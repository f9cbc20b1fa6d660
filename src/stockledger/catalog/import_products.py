"""The products of a seed document, set-based: checked in document order first (the refusal a
product-by-product load would meet first is the one raised), then written a batch at a time,
one upsert per table and batch (core.bulk.upsert_copied: on PostgreSQL the batch's rows COPYed
into a staging table and one INSERT … SELECT … ON CONFLICT), where a statement per product
loaded ≈ 1,000 products/s. The rows go from the validated models to the COPY as tuples: no
dump and no dict per row (a batch's products alike, as a document's usually are).

A product named twice in one batch is written once, with the fields of both (the later wins a
field both give): what the two upserts in a row would leave; the counts are of the rows: one
product, not two, created, updated (a field it gives held another value) or unchanged (not
written: core.upserts.upsert_action).
"""

from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from stockledger.catalog.import_rows import ImportOutcome, fields
from stockledger.catalog.import_stock import Tick, no_tick
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
LINK_FIELDS = frozenset({"product_facility", "product_facility_locations"})
NOTHING: frozenset[str] = frozenset()

# A row to write: the values that precede the model's (keys the document implies: facility_id,
# product_id) and the model whose given fields follow (None: none given).
Item = tuple[tuple[Any, ...], BaseModel | None]
Rows = tuple[list[str], list[tuple[Any, ...]]]  # columns, and the rows in their order


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
    written = _Written()
    with WriteBehind(session):  # PostgreSQL: a batch upserted while the next is made (core.bulk)
        for batch in _batches(docs):
            if not scoped:  # a scoped token's products are as they are (_check): none written
                _write_products(session, batch, written.products)
            if facility_id is not None:
                _write_links(session, batch, facility_id, written)
            written.count(batch)
            tick(len(batch))
    written.record(outcome, facility_id is not None)


def _batches(docs: list[ProductDoc]) -> Iterator[list[ProductDoc]]:
    """The documents BATCH at a time; a product named more than once has all its records in one
    batch (the batch of its first), merged there as they stand in the document (`_rows`): what
    upserts one after the other would leave, each row written once and counted once."""
    if len(set(map(_product_id, docs))) == len(docs):  # the usual document
        yield from (docs[start : start + BATCH] for start in range(0, len(docs), BATCH))
        return
    named: dict[str, list[ProductDoc]] = {}
    for doc in docs:
        named.setdefault(doc.product_id, []).append(doc)
    batch: list[ProductDoc] = []
    for records in named.values():
        if batch and len(batch) + len(records) > BATCH:
            yield batch
            batch = []
        batch.extend(records)
    if batch:
        yield batch


@dataclass
class _Written:
    """What the batches wrote (Upserted: counted as the answers come) and how many rows they
    named (a product named twice is one row, in one batch: `_batches`)."""

    products: Upserted = field(default_factory=Upserted)
    links: Upserted = field(default_factory=Upserted)
    located: Upserted = field(default_factory=Upserted)
    named: Counter[str] = field(default_factory=Counter)

    def count(self, batch: list[ProductDoc]) -> None:
        self.named["products"] += len(set(map(_product_id, batch)))
        located = {(d.product_id, pfl.location_seq_id) for d in batch for pfl in d.product_facility_locations}
        self.named["located"] += len(located)

    def record(self, outcome: ImportOutcome, linked: bool) -> None:
        """Into `outcome`: created, updated, and the rest of the rows named unchanged (once the
        writes settled); links and their locations for a facility's document (locations where
        it names some, as a row-by-row load counted them)."""
        kinds = [("products", self.products, self.named["products"])]
        if linked:
            kinds.append(("productFacilities", self.links, self.named["products"]))
        if linked and self.named["located"]:
            kinds.append(("productFacilityLocations", self.located, self.named["located"]))
        for kind, upserted, named in kinds:
            unchanged = named - upserted.created - upserted.updated
            outcome.add(kind, upserted.created, upserted.updated, unchanged)


def _write_products(session: Session, batch: list[ProductDoc], upserted: Upserted) -> None:
    items: list[Item] = [((), doc) for doc in batch]
    now = (utcnow(),)  # created_stamp: written by the INSERT alone
    for columns, rows in _rows(items, (), LINK_FIELDS, _product_key):
        stamped = [row + now for row in rows]
        stamp = ["created_stamp"]
        upsert_copied(session, PRODUCT, [*columns, *stamp], stamped, ["product_id"], stamp, upserted)


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


def _write_links(session: Session, batch: list[ProductDoc], facility_id: str, written: _Written) -> None:
    """Each product's ProductFacility row (the productFacility fields given) and its
    ProductFacilityLocation rows."""
    prefix = ("facility_id", "product_id")
    links: list[Item] = [((facility_id, d.product_id), d.product_facility) for d in batch]
    for columns, rows in _rows(links, prefix, NOTHING, lambda item: item[0]):
        upsert_copied(session, LINK, columns, rows, prefix, upserted=written.links)
    located: list[Item] = [
        ((facility_id, d.product_id), pfl) for d in batch for pfl in d.product_facility_locations
    ]
    keys = [*prefix, "location_seq_id"]
    for columns, rows in _rows(located, prefix, NOTHING, _located_key):
        upsert_copied(session, LINK_LOCATION, columns, rows, keys, upserted=written.located)


_product_id = attrgetter("product_id")


def _product_key(item: Item) -> Hashable:
    return getattr(item[1], "product_id", None)


def _located_key(item: Item) -> Hashable:
    return item[0][1], getattr(item[1], "location_seq_id", None)


def _rows(
    items: list[Item], prefix: tuple[str, ...], exclude: frozenset[str], key_of: Callable[[Any], Hashable]
) -> Iterator[Rows]:
    """The rows of `items` grouped by the columns they give (one upsert each): the prefix's
    columns, then the fields each model was given (exclude_unset), in the model's order. Items
    of one key (`key_of`) are merged into one row, in order, the later winning a field both give."""
    if not items:
        return
    if len(set(map(key_of, items))) < len(items):
        yield from _merged(items, prefix, exclude, key_of)
        return
    for given, group in _by_fields_given(items).items():
        model = group[0][1]
        names = [n for n in type(model).model_fields if n in given and n not in exclude] if model else []
        if not names:
            yield list(prefix), [values for values, _ in group]
            continue
        get = attrgetter(*names)
        if len(names) == 1:
            yield [*prefix, *names], [(*values, get(m)) for values, m in group]
        else:
            yield [*prefix, *names], [values + get(m) for values, m in group]


def _by_fields_given(items: list[Item]) -> dict[frozenset[str], list[Item]]:
    given = [NOTHING if model is None else model.model_fields_set for _, model in items]
    if given.count(given[0]) == len(given):  # the usual document: every row alike
        return {frozenset(given[0]): items}
    groups: dict[frozenset[str], list[Item]] = {}
    for item, fields_given in zip(items, given, strict=True):
        groups.setdefault(frozenset(fields_given), []).append(item)
    return groups


def _merged(
    items: list[Item], prefix: tuple[str, ...], exclude: frozenset[str], key_of: Callable[[Any], Hashable]
) -> Iterator[Rows]:
    """`_rows` where a key is named twice: each key's fields merged in order, as dicts."""
    merged: dict[Hashable, dict[str, Any]] = {}
    for item in items:
        values, model = item
        row = dict(zip(prefix, values, strict=True))
        if model is not None:
            row.update(model.model_dump(exclude_unset=True, exclude=set(exclude)))
        key = key_of(item)
        merged[key] = {**merged[key], **row} if key in merged else row
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for row in merged.values():
        groups.setdefault(tuple(row), []).append(tuple(row.values()))
    for columns, rows in groups.items():
        yield list(columns), rows


def _ids_per_query(session: Session) -> int:
    """A batch's ids in one array parameter where the database binds arrays, else an IN list
    under the bind-parameter limit."""
    return BATCH if binds_arrays(session) else 900


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
