"""A facility document's products read straight into the rows they write, when every one of them
is plain: the usual document, as an ERP or the seeds write it. Validating three models a product
and making rows of them took ≈ 8 µs a product, most of a 100,000-product load's own CPU; this
reads a plain product into its rows in ≈ 2 µs: each record's values taken as given (one C call
a record), then each column checked at once (a quantity column's few distinct values each once).

Plain is a part of what ProductDoc accepts, read to the very values its models hold: members
named as the contract names them (camelCase; OFBiz audit stamps accepted and dropped, as
DocumentModel does), ids that match Id, text that is a str already trimmed, within its bound,
without NUL or lone surrogate, integer quantities within their bounds, each product named once
and each of its locations once. Anything else (a decimal quantity, a snake_case member, a
product named twice, a refusal of any kind) is not plain: `plain_products` answers None, and
the document goes through the models, whose answer, rows or refusal, is the one given. The
rules each member is read by are the tables in PlainProducts; tests/unit/test_plain_products.py
holds them to the models' (the same members and bounds, the same rows, and None wherever the
models refuse).
"""

import re
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from operator import itemgetter
from typing import Any

from stockledger.catalog.product_rows import LINK_KEYS, Batch, Rows
from stockledger.core.quantities import MAX_QUANTITY
from stockledger.core.schemas import ID_MAX, OFBIZ_STAMPS

Column = Sequence[Any]
Check = Callable[[Column], Column]  # a column's values as the models hold them, or NotPlain raised
_ID = re.compile(rf"[A-Za-z0-9_.:\-]{{1,{ID_MAX}}}").fullmatch  # core.schemas.Id: its pattern and bound
_SURROGATE = re.compile("[\ud800-\udfff]").search
_STAMPS = frozenset(OFBIZ_STAMPS)
_STAMP_MAX = 40  # DocumentModel's bound on an audit stamp
_NONE = type(None)


class NotPlain(Exception):
    """A record the models must read (and perhaps refuse)."""


def _ids(values: Column) -> Column:
    if set(map(type, values)) != {str} or not all(map(_ID, values)):
        raise NotPlain
    return values


def _texts(most: int) -> Check:
    """Optional text of at most `most` characters, taken only as the model keeps it: no
    whitespace at either end (InputModel trims it: Python's str.strip trims all the Rust
    trim of pydantic-core does, and more), no NUL, no lone surrogate."""

    def check(values: Column) -> Column:
        given = [value for value in values if value is not None]
        if not set(map(type, given)) <= {str} or max(map(len, given), default=0) > most:
            raise NotPlain
        joined = "".join(given)
        if "\x00" in joined or (not joined.isascii() and _SURROGATE(joined)):
            raise NotPlain
        if list(map(str.strip, given)) != given:
            raise NotPlain
        return values

    return check


def _integers(values: Column, least: int, most: int) -> list[int]:
    """The column's integers (None aside), each within least…most; NotPlain for anything else
    (a bool, a decimal)."""
    if not set(map(type, values)) <= {int, _NONE}:
        raise NotPlain
    given = [value for value in values if value is not None]
    if given and (min(given) < least or max(given) > most):
        raise NotPlain
    return given


def _days(values: Column) -> Column:
    _integers(values, 0, 3650)  # ProductFacilityDoc.days_to_ship
    return values


def _quantities(values: Column) -> Column:
    """Optional non-negative quantities given as JSON integers: the model's Decimal of each,
    made once a distinct value."""
    decimals: dict[Any, Decimal | None] = {v: Decimal(v) for v in set(_integers(values, 0, _MOST))}
    decimals[None] = None
    return list(map(decimals.__getitem__, values))


_MOST = int(MAX_QUANTITY)


# Each kind of record's members (as ProductDoc, ProductFacilityDoc and ProductFacilityLocationDoc
# name them in JSON, in their field order): the column each gives, and its check.
PRODUCT_MEMBERS: dict[str, tuple[str, Check]] = {
    "productId": ("product_id", _ids),
    "productTypeId": ("product_type_id", _texts(ID_MAX)),
    "productName": ("product_name", _texts(255)),
    "description": ("description", _texts(10_000)),
}
LINK_MEMBERS: dict[str, tuple[str, Check]] = {
    "minimumStock": ("minimum_stock", _quantities),
    "reorderQuantity": ("reorder_quantity", _quantities),
    "daysToShip": ("days_to_ship", _days),
}
LOCATED_MEMBERS: dict[str, tuple[str, Check]] = {
    "locationSeqId": ("location_seq_id", _ids),
    "minimumStock": ("minimum_stock", _quantities),
    "moveQuantity": ("move_quantity", _quantities),
}


class _Kind:
    """One kind of record: each member's column and check, in the model's field order. The
    records' shapes (their members, in the order given) are learnt as they come; each shape's
    rows are taken in one C call a record (itemgetter) and checked a column at a time."""

    def __init__(
        self, members: dict[str, tuple[str, Check]], required: str | None, nested: Sequence[str] = ()
    ) -> None:
        self._members, self._required, self._nested = members, required, frozenset(nested)
        self._shapes: dict[tuple[str, ...], tuple[int, Callable[[Any], tuple[Any, ...]], list[str]]] = {}
        self._numbers: dict[tuple[str, ...], int] = {}
        self.columns: list[list[str]] = []  # each shape's columns, by shape number
        self.checks: list[list[Check]] = []  # each shape's checks, likewise

    def take(self, record: Any) -> tuple[int, tuple[Any, ...]]:
        """The record's shape number and its values, unchecked (`_Table.check` checks them)."""
        if type(record) is not dict:
            raise NotPlain
        names = tuple(record)
        shape = self._shapes.get(names) or self._learn(names)
        number, values_of, stamps = shape
        for stamp in stamps:
            value = record[stamp]
            if value is not None and (type(value) is not str or len(value) > _STAMP_MAX or "\x00" in value):
                raise NotPlain
        return number, values_of(record)

    def _learn(self, names: tuple[str, ...]) -> tuple[int, Callable[[Any], tuple[Any, ...]], list[str]]:
        given = set(names)
        if self._required is not None and self._required not in given:
            raise NotPlain
        if not given <= self._members.keys() | _STAMPS | self._nested:
            raise NotPlain
        members = tuple(member for member in self._members if member in given)
        number = self._numbers.get(members)
        if number is None:
            number = self._numbers[members] = len(self.columns)
            self.columns.append([self._members[member][0] for member in members])
            self.checks.append([self._members[member][1] for member in members])
        shape = (number, _values_of(members), [name for name in names if name in _STAMPS])
        self._shapes[names] = shape
        return shape


def _values_of(members: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if not members:
        return lambda _: ()
    if len(members) == 1:
        one = itemgetter(members[0])
        return lambda record: (one(record),)
    return itemgetter(*members)


class _Table:
    """One table's rows in document order (the keys the document implies first), each with its
    shape number."""

    def __init__(self, kind: _Kind, prefix: Sequence[str] = ()) -> None:
        self.kind, self._prefix = kind, list(prefix)
        self.rows: list[tuple[Any, ...]] = []
        self.shapes: list[int] = []

    def add(self, keys: tuple[Any, ...], record: Any) -> tuple[Any, ...]:
        shape, values = self.kind.take(record)
        self.rows.append(keys + values)
        self.shapes.append(shape)
        return values

    def check(self) -> None:
        """Every column checked, the values made those the models hold; NotPlain if any is not."""
        width = len(self._prefix)
        for shape, indexes in self._by_shape().items():
            rows = self.rows if indexes is None else [self.rows[i] for i in indexes]
            columns = list(zip(*rows, strict=True)) or [()] * width
            checked = columns[:width] + [
                check(column) for check, column in zip(self.kind.checks[shape], columns[width:], strict=True)
            ]
            made = list(zip(*checked, strict=True))
            if indexes is None:
                self.rows = made
            else:
                for index, row in zip(indexes, made, strict=True):
                    self.rows[index] = row

    def _by_shape(self) -> dict[int, list[int] | None]:
        """Each shape's rows by index (None: every row, the usual document)."""
        shapes = self.shapes
        if not shapes or shapes.count(shapes[0]) == len(shapes):
            return {shapes[0]: None} if shapes else {}
        indexes: dict[int, list[int] | None] = {}
        for index, shape in enumerate(shapes):
            indexes.setdefault(shape, []).append(index)  # type: ignore[union-attr]
        return indexes

    def groups(self, start: int, end: int) -> list[Rows]:
        """Rows start…end-1 grouped by the columns they give, groups in order of first appearance."""
        rows, shapes = self.rows[start:end], self.shapes[start:end]
        if not rows:
            return []
        if shapes.count(shapes[0]) == len(shapes):
            return [([*self._prefix, *self.kind.columns[shapes[0]]], rows)]
        grouped: dict[int, list[tuple[Any, ...]]] = {}
        for shape, row in zip(shapes, rows, strict=True):
            grouped.setdefault(shape, []).append(row)
        return [([*self._prefix, *self.kind.columns[shape]], group) for shape, group in grouped.items()]


class PlainProducts:
    """A facility document's products as rows (catalog/product_rows.py's `Products`)."""

    def __init__(self, facility_id: str) -> None:
        self._facility_id = facility_id
        nested = ("productFacility", "productFacilityLocations")
        self._products = _Table(_Kind(PRODUCT_MEMBERS, "productId", nested))
        self._links = _Table(_Kind(LINK_MEMBERS, None), LINK_KEYS)
        self._located = _Table(_Kind(LOCATED_MEMBERS, "locationSeqId"), LINK_KEYS)
        self.ids: list[Any] = []  # str once checked
        self.records = 0  # JSON objects read (catalog/import_bounds.py counts them)
        self.locations: list[list[Any]] = []
        self._located_ends: list[int] = []  # after each product, how many located rows so far

    def add(self, record: Any) -> None:
        """Take one product's values; NotPlain when the models must read it."""
        product_id = self._products.add((), record)[0]
        self.ids.append(product_id)
        keys = (self._facility_id, product_id)
        given = record.get("productFacility")  # absent or null: the ProductFacility row's keys alone
        self._links.add(keys, _NO_FIELDS if given is None else given)
        locations = record.get("productFacilityLocations", _NO_LOCATIONS)
        if type(locations) is not list:
            raise NotPlain
        names = [self._located.add(keys, location)[0] for location in locations]
        self.records += 1 + (given is not None) + len(locations)
        self.locations.append(names)
        self._located_ends.append(len(self._located.rows))

    def check(self) -> None:
        """Every value checked; NotPlain if the models must read the document."""
        for table in (self._products, self._links, self._located):
            table.check()
        if len(set(self.ids)) < len(self.ids):  # a product named twice: the models merge it
            raise NotPlain
        if any(len(set(names)) < len(names) for names in self.locations if len(names) > 1):
            raise NotPlain  # a location named twice for one product: likewise

    def own_fields(self, index: int) -> dict[str, Any]:
        columns = self._products.kind.columns[self._products.shapes[index]]
        return dict(zip(columns, self._products.rows[index], strict=True))

    def batches(self, size: int) -> Iterator[Batch]:
        ends = self._located_ends
        for start in range(0, len(self.ids), size):
            end = min(start + size, len(self.ids))
            first, last = (ends[start - 1] if start else 0), ends[end - 1]
            yield Batch(
                end - start,
                self._products.groups(start, end),
                self._links.groups(start, end),
                self._located.groups(first, last),
            )


_NO_LOCATIONS: list[Any] = []  # productFacilityLocations not given
_NO_FIELDS: dict[str, Any] = {}  # productFacility not given, or null


def plain_products(records: Any, facility_id: str) -> PlainProducts | None:
    """The products of a facility document (its `products` member) as rows, or None when any of
    them is not plain (the models read the document then)."""
    if type(records) is not list:
        return None
    products = PlainProducts(facility_id)
    try:
        for record in records:
            products.add(record)
        products.check()
    except (NotPlain, TypeError):  # TypeError: a value that cannot be hashed or compared
        return None
    return products
