"""The plain reading of a facility document's products (catalog/plain_products.py) is a part of what
the models accept, read to the same rows: whatever it reads, ProductDoc validates and the rows
made from the models are the same, values and types; whatever the models refuse, it leaves to
them (None). So the answer to any document, rows or refusal, is the models'."""

from decimal import Decimal
from typing import Annotated, Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import StringConstraints, TypeAdapter, ValidationError

from stockledger.catalog import plain_products as plain
from stockledger.catalog.import_bounds import MAX_IMPORT_RECORDS, records_in
from stockledger.catalog.importer import FACILITY_ROWS, parse_document
from stockledger.catalog.product_rows import ModelProducts, Products
from stockledger.catalog.schemas import ProductDoc, ProductFacilityDoc, ProductFacilityLocationDoc
from stockledger.core.errors import ValidationFailed

PRODUCTS = TypeAdapter(list[ProductDoc])


# Each member's values: some the models take as they are (True), and some (False) at or past an
# edge: refused by the models, or taken but not plain (the models' to read).
IDS = {True: ["P1", "P2", "A" * 60, "a:b.c-d_e"], False: ["A" * 61, "", " P1", "P 1", "P1\n", "é", 5, None]}
TEXTS = {
    True: [None, "", "Name", "Café é", "x" * 60, "x" * 255, "x" * 10_000],
    False: [
        " x",
        "x ",
        "\u00a0x",
        "x\u2003",
        "\x1cx",
        "a\x00b",
        "\ud800",
        "x" * 61,
        "x" * 256,
        "x" * 10_001,
        5,
        ["x"],
    ],
}
QUANTITIES = {
    True: [None, 0, 5, 10**9],
    False: [10**9 + 1, -1, True, 1.5, Decimal("1.5"), Decimal(5), "5", [5], 2**70],
}
DAYS = {True: [None, 0, 7, 3650], False: [3651, -1, True, 5.0, "5"]}
STAMPS = {True: [None, "2024-07-15 10:00:00.0"], False: [5, "x" * 41, "a\x00"]}
# Members no model has: a misspelt one, a model's field name (populate_by_name takes it).
STRANGERS = {True: {}, False: {"unknownMember": 1, "product_id": "P9"}}


def _values(pool: dict[bool, Any], plain: bool) -> st.SearchStrategy[Any]:
    """Plain values; or, now and then, one past an edge."""
    if plain:
        return st.sampled_from(pool[True])
    return st.one_of(st.sampled_from(pool[True]), st.sampled_from(pool[False]))


def _record(members: dict[str, Any], plain: bool, required: str | None = None) -> st.SearchStrategy[Any]:
    """Records of some of `members` (`required` among them, when plain), now and then an audit
    stamp, in any order; when not plain, now and then a member no model has, or not a record."""
    given = {name: _values(pool, plain) if isinstance(pool, dict) else pool for name, pool in members.items()}
    required_ = {required: given.pop(required)} if required and plain else {}
    stamps = st.fixed_dictionaries({}, optional={"lastUpdatedStamp": _values(STAMPS, plain)})
    strangers = (
        st.just({}) if plain else st.sampled_from([{}, *({k: v} for k, v in STRANGERS[False].items())])
    )
    records = (
        st.tuples(st.fixed_dictionaries(required_, optional=given), stamps, strangers)
        .map(lambda parts: list({**parts[0], **parts[1], **parts[2]}.items()))
        .flatmap(st.permutations)
        .map(dict)
    )
    return records if plain else st.one_of(records, st.sampled_from([None, [], "x"]))


def _product(plain: bool) -> st.SearchStrategy[Any]:
    link = {"minimumStock": QUANTITIES, "reorderQuantity": QUANTITIES, "daysToShip": DAYS}
    located = _record(
        {"locationSeqId": IDS, "minimumStock": QUANTITIES, "moveQuantity": QUANTITIES}, plain, "locationSeqId"
    )
    pfl = st.lists(located, max_size=3)
    members = {
        "productId": IDS,
        "productTypeId": TEXTS,
        "productName": TEXTS,
        "description": TEXTS,
        "productFacility": st.one_of(st.none(), _record(link, plain)),
        "productFacilityLocations": pfl if plain else st.one_of(pfl, st.sampled_from([None, {}])),
    }
    return _record(members, plain, "productId")


# A document's products: plain ones, and now and then one past an edge among them.
DOCUMENTS = st.tuples(
    st.lists(_product(True), max_size=4), st.none() | _product(False), st.integers(0, 4)
).map(
    lambda parts: parts[0] if parts[1] is None else [*parts[0][: parts[2]], parts[1], *parts[0][parts[2] :]]
)


def _written(products: Products) -> list[tuple[int, list[list[str]]]]:
    """Each batch's size and what each table is given: every row with its columns, values with
    their types (repr: Decimal('5') is not 5), in order (one upsert or two of the same columns
    write the same)."""
    return [
        (
            batch.size,
            [
                [repr((c, r)) for c, rows in groups for r in rows]
                for groups in (batch.products, batch.links, batch.located)
            ],
        )
        for batch in products.batches(2)
    ]


def _model_rows(records: list[Any]) -> ModelProducts | None:
    try:
        return ModelProducts(PRODUCTS.validate_python(records), "F")
    except ValidationError:
        return None


@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_what_is_read_plainly_is_what_the_models_read(records: list[Any]) -> None:
    read = plain.plain_products(records, "F")
    models = _model_rows(records)
    event("refused" if models is None else ("valid, not plain" if read is None else "read plainly"))
    if models is None:
        assert read is None  # a refusal is the models' to give
        return
    if read is None:
        return  # valid but not plain: the models read it
    assert _written(read) == _written(models)
    assert (read.ids, read.locations) == (models.ids, models.locations)
    assert read.records == records_in(records, 10**9)  # as the bound on a document counts them
    assert [read.own_fields(i) for i in range(len(read.ids))] == [
        models.own_fields(i) for i in range(len(models.ids))
    ]


def _usual(count: int) -> list[dict[str, Any]]:
    return [
        {
            "productId": f"P{n}",
            "productTypeId": "FINISHED_GOOD",
            "productName": f"Product {n}",
            "productFacility": {"minimumStock": n % 3, "reorderQuantity": 50, "daysToShip": 2},
            "productFacilityLocations": [{"locationSeqId": "L1", "minimumStock": 5, "moveQuantity": 10}],
        }
        for n in range(count)
    ]


def test_the_usual_document_is_read_plainly_to_the_models_rows() -> None:
    records = _usual(7)
    records[3] = {"productId": "P3", "lastUpdatedStamp": "2024-07-15 10:00:00.0"}  # another shape
    records[5]["productFacility"] = None
    read = plain.plain_products(records, "F")
    models = _model_rows(records)
    assert read is not None
    assert models is not None
    assert _written(read) == _written(models)
    document = {"facilityId": "F", "facilityLocations": [{"locationSeqId": "L1"}], "products": records}
    kind, (facility, products) = parse_document(document)
    assert (kind, facility.facility_id, products.ids) == (FACILITY_ROWS, "F", [f"P{n}" for n in range(7)])


def test_a_product_or_a_location_named_twice_is_the_models_to_merge() -> None:
    records = _usual(3)
    assert plain.plain_products([*records, records[0]], "F") is None
    records[1]["productFacilityLocations"] *= 2
    assert plain.plain_products(records, "F") is None
    assert _model_rows(records) is not None


def test_the_members_read_are_the_models_own() -> None:
    """Each table names every member of its model (nested ones aside), with its field's column."""
    for members, model, nested in [
        (plain.PRODUCT_MEMBERS, ProductDoc, {"product_facility", "product_facility_locations"}),
        (plain.LINK_MEMBERS, ProductFacilityDoc, set()),
        (plain.LOCATED_MEMBERS, ProductFacilityLocationDoc, set()),
    ]:
        fields = [(f.alias, name) for name, f in model.model_fields.items() if name not in nested]
        assert [(member, column) for member, (column, _) in members.items()] == fields


def test_what_pydantic_trims_python_trims_too() -> None:
    """Text with whitespace at either end is left to the models (they trim it), found by Python's
    str.isspace: every character pydantic-core trims is one of those."""
    points = [c for c in range(1, 0x110000) if not 0xD800 <= c < 0xE000]
    trimmed = TypeAdapter(list[Annotated[str, StringConstraints(strip_whitespace=True)]]).validate_python(
        [chr(c) + "x" for c in points]
    )
    trims = [chr(c) for c, text in zip(points, trimmed, strict=True) if text == "x"]
    assert all(character.isspace() for character in trims)
    products = PRODUCTS.validate_python([{"productId": "P", "productName": f"{c}x{c}"} for c in trims])
    assert {doc.product_name for doc in products} == {"x"}  # the models trim by the same rule


def test_a_plain_document_past_the_bound_is_refused_as_any_other() -> None:
    """The bound counts a plain document's products as it counts any document's records."""
    located = [{"locationSeqId": "L1"}]
    products = [
        {"productId": f"P{n}", "productFacility": {}, "productFacilityLocations": located}
        for n in range(16_666)
    ]
    document = {"facilityId": "F", "facilityLocations": [{"locationSeqId": "L1"}], "products": products}
    assert records_in(document, 10**9) == MAX_IMPORT_RECORDS  # 3 a product, the facility, its location
    assert parse_document(document)[0] == FACILITY_ROWS
    document["facilityLocations"].append({"locationSeqId": "L2"})
    with pytest.raises(ValidationFailed) as refused:
        parse_document(document)
    assert refused.value.extra == {"maxRecords": MAX_IMPORT_RECORDS}
