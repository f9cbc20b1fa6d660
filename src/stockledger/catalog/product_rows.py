"""A document's products as the rows they write, a batch at a time: what catalog/import_products.py
checks and writes, whichever way the products were read. `ModelProducts` makes them from the
validated models (ProductDoc); catalog/plain_products.py reads the usual document straight
into the same rows.

A batch's rows of each table are grouped by the columns they give (the fields each record was
given: one upsert a group, the other columns of an existing row left as they are). A product
named twice has its records in one batch (ModelProducts; the plain reading takes no such
document) and is written once, with the fields of both (the later wins a field both give): what
the two upserts in a row would leave.
"""

from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Protocol

from pydantic import BaseModel

from stockledger.catalog.import_rows import fields
from stockledger.catalog.schemas import ProductDoc

Rows = tuple[list[str], list[tuple[Any, ...]]]  # columns, and the rows in their order
# A row to write: the values that precede the model's (keys the document implies: facility_id,
# product_id) and the model whose given fields follow (None: none given).
Item = tuple[tuple[Any, ...], BaseModel | None]
LINK_FIELDS = frozenset({"product_facility", "product_facility_locations"})
NOTHING: frozenset[str] = frozenset()
LINK_KEYS = ("facility_id", "product_id")  # the prefix of a ProductFacility(Location) row


@dataclass(frozen=True)
class Batch:
    """Some of a document's products, as rows grouped by the columns given (one upsert each)."""

    size: int  # products in the batch: the progress bar's ticks
    products: list[Rows]  # Product rows (created_stamp is the writer's)
    links: list[Rows]  # ProductFacility rows, facility_id and product_id first (none without a facility)
    located: list[Rows]  # ProductFacilityLocation rows, likewise


class Products(Protocol):
    """A document's products, however read: what the checks need, and the rows a batch at a time."""

    @property
    def ids(self) -> Sequence[str]:
        """Each product's id, in document order."""
        ...

    @property
    def locations(self) -> Sequence[Sequence[str]]:
        """Each product's locationSeqIds (productFacilityLocations), in document order."""
        ...

    def own_fields(self, index: int) -> dict[str, Any]:
        """The product's own fields as given (product_id and the others the record names)."""
        ...

    def batches(self, size: int) -> Iterator[Batch]:
        """The rows, `size` products at a time, in document order."""
        ...


class ModelProducts:
    """Products from the validated models: rows made a batch at a time, as they are written."""

    def __init__(self, docs: list[ProductDoc], facility_id: str | None) -> None:
        self._docs, self._facility_id = docs, facility_id
        self.ids = [doc.product_id for doc in docs]
        self.locations = [[pfl.location_seq_id for pfl in doc.product_facility_locations] for doc in docs]

    def own_fields(self, index: int) -> dict[str, Any]:
        return fields(self._docs[index], *LINK_FIELDS)

    def batches(self, size: int) -> Iterator[Batch]:
        for batch in _batches(self._docs, self.ids, size):
            products = list(_rows([((), doc) for doc in batch], (), LINK_FIELDS, _product_key))
            if self._facility_id is None:
                yield Batch(len(batch), products, [], [])
                continue
            yield Batch(len(batch), products, *_link_rows(batch, self._facility_id))


def _batches(docs: list[ProductDoc], ids: list[str], size: int) -> Iterator[list[ProductDoc]]:
    """The documents `size` at a time; a product named more than once has all its records in one
    batch (the batch of its first), merged there as they stand in the document (`_rows`): what
    upserts one after the other would leave, each row written once and counted once."""
    if len(set(ids)) == len(docs):  # the usual document
        yield from (docs[start : start + size] for start in range(0, len(docs), size))
        return
    named: dict[str, list[ProductDoc]] = {}
    for doc in docs:
        named.setdefault(doc.product_id, []).append(doc)
    batch: list[ProductDoc] = []
    for records in named.values():
        if batch and len(batch) + len(records) > size:
            yield batch
            batch = []
        batch.extend(records)
    if batch:
        yield batch


def _link_rows(batch: list[ProductDoc], facility_id: str) -> tuple[list[Rows], list[Rows]]:
    """Each product's ProductFacility row (the productFacility fields given) and its
    ProductFacilityLocation rows."""
    links: list[Item] = [((facility_id, d.product_id), d.product_facility) for d in batch]
    located: list[Item] = [
        ((facility_id, d.product_id), pfl) for d in batch for pfl in d.product_facility_locations
    ]
    return (
        list(_rows(links, LINK_KEYS, NOTHING, lambda item: item[0])),
        list(_rows(located, LINK_KEYS, NOTHING, _located_key)),
    )


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
