"""core.bulk: rows COPYed (PostgreSQL) or inserted (SQLite) exactly as given, and upserted
as core.dialects.upsert_rows would, on both databases (PostgreSQL: new rows COPYed straight
into their table, the others through a staging table)."""

from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stockledger.core.bulk import copy_rows, upsert_copied
from stockledger.core.db import Database
from stockledger.core.write_behind import WriteBehind, writes_behind
from stockledger.ledger.models import Facility, Product, ProductFacility

STAMP = datetime(2026, 1, 2, 3, 4, 5, 678901)
# texts COPY's text format must escape (tab, line breaks, backslash, its NULL marker), and others
AWKWARD = ["tab\there", "line\nbreak\r", "back\\slash", "\\N", "", "ünïcödé ✓", "quote \" and ' both"]


def _products(db: Database) -> list[tuple[Any, ...]]:
    with db.reading() as session:
        p = Product
        stmt = select(p.product_id, p.product_name, p.description, p.created_stamp).order_by(p.product_id)
        return [tuple(r) for r in session.execute(stmt)]


def test_copy_rows_writes_every_value_as_given_and_counts_them(db: Database) -> None:
    rows = [(f"P{n}", name, None, STAMP) for n, name in enumerate(AWKWARD)]
    with db.transaction() as session:
        copied = copy_rows(
            session, "product", ["product_id", "product_name", "description", "created_stamp"], rows
        )
    assert copied == len(AWKWARD)
    assert _products(db) == [
        (f"P{n}", name, None, STAMP.replace(tzinfo=UTC)) for n, name in enumerate(AWKWARD)
    ]


def test_copy_rows_takes_any_iterable_and_an_empty_one_copies_nothing(db: Database) -> None:
    def generated() -> Iterator[tuple[object, ...]]:
        yield from ((f"G{n}", STAMP) for n in range(3))

    with db.transaction() as session:
        assert copy_rows(session, "product", ["product_id", "created_stamp"], generated()) == 3
        assert copy_rows(session, "product", ["product_id", "created_stamp"], []) == 0
    assert [r[0] for r in _products(db)] == ["G0", "G1", "G2"]


def test_copy_rows_of_an_aware_datetime_and_integers(db: Database) -> None:
    """A value str() cannot write as COPY reads it (an aware datetime) goes row by row."""
    aware = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    with db.transaction() as session:
        copy_rows(session, "product", ["product_id", "created_stamp"], [("A1", aware)])
        copy_rows(
            session,
            "facility",
            ["facility_id", "costing_method_id", "created_stamp"],
            [("F1", "FIFO", STAMP)],
        )
        copy_rows(
            session,
            "product_facility",
            ["facility_id", "product_id", "minimum_stock", "days_to_ship"],
            [("F1", "A1", 2_500_000, 3)],
        )
    with db.reading() as session:
        link = session.execute(select(ProductFacility)).scalar_one()
        assert (link.minimum_stock, link.days_to_ship) == (Decimal("2.5"), 3)
        product = session.get(Product, "A1")
        assert product is not None
        assert product.created_stamp == aware


def test_upsert_copied_inserts_then_updates_the_columns_given_but_never_insert_only(db: Database) -> None:
    columns = ["product_id", "product_name", "created_stamp"]
    later = datetime(2027, 1, 1, tzinfo=UTC)
    with db.transaction() as session:
        rows = [("U1", "one", STAMP), ("U2", "tab\tand \\", STAMP)]
        upsert_copied(session, Product.__table__, columns, rows, ["product_id"], ["created_stamp"])  # type: ignore[arg-type]
    with db.transaction() as session:  # a second transaction: its staging table made again
        session.add(Product(product_id="U3", product_name="kept", description="d", created_stamp=STAMP))
        session.flush()
        rows = [("U1", "ONE", later), ("U3", None, later)]
        upsert_copied(session, Product.__table__, columns, rows, ["product_id"], ["created_stamp"])  # type: ignore[arg-type]
        only_new = [("U1", later)]  # nothing but insert_only to change: DO NOTHING
        upsert_copied(session, Product.__table__, columns[::2], only_new, ["product_id"], ["created_stamp"])  # type: ignore[arg-type]
    stamp = STAMP.replace(tzinfo=UTC)
    assert _products(db) == [
        ("U1", "ONE", None, stamp),
        ("U2", "tab\tand \\", None, stamp),
        ("U3", None, "d", stamp),
    ]


def test_upsert_copied_binds_quantities_as_their_millionths(db: Database) -> None:
    """Fixed6 columns go through their bind processor, once per distinct value."""
    with db.transaction() as session:
        session.add(Facility(facility_id="F1", costing_method_id="FIFO"))
        session.add_all(Product(product_id=f"Q{n}", created_stamp=STAMP) for n in range(3))
        session.flush()
        rows = [("F1", "Q0", Decimal("1.5"), None), ("F1", "Q1", Decimal("1.5"), 4), ("F1", "Q2", None, 0)]
        columns = ["facility_id", "product_id", "minimum_stock", "days_to_ship"]
        upsert_copied(session, ProductFacility.__table__, columns, rows, ["facility_id", "product_id"])  # type: ignore[arg-type]
    with db.reading() as session:
        stmt = select(ProductFacility.product_id, ProductFacility.minimum_stock, ProductFacility.days_to_ship)
        got = sorted(tuple(r) for r in session.execute(stmt))
    assert got == [("Q0", Decimal("1.5"), None), ("Q1", Decimal("1.5"), 4), ("Q2", None, 0)]


def test_a_reloaded_product_keeps_its_created_stamp_and_takes_awkward_names(
    client: TestClient, db: Database
) -> None:
    document = {"facilityId": "BULK", "products": [{"productId": "AW", "productName": "a\tb\\c\nd"}]}
    assert client.post("/v1/import", json=document).status_code == 200
    first = _products(db)
    document["products"][0]["productName"] = "plain"  # type: ignore[index]
    assert client.post("/v1/import", json=document).status_code == 200
    again = _products(db)
    assert first[0][1] == "a\tb\\c\nd"
    assert again == [("AW", "plain", None, first[0][3])]


def _staged(session: Session) -> bool:
    """Whether this transaction made the product's staging table (an upsert through it), once
    the writes left behind are done."""
    writes = writes_behind(session)
    if writes is not None:
        writes.settle()
    return session.execute(text("SELECT to_regclass('pg_temp.stage_product')")).scalar() is not None


@pytest.mark.parametrize("behind", [False, True], ids=["waited", "behind"])
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_new_rows_are_copied_straight_into_their_table_and_the_others_upserted(
    db: Database, behind: bool
) -> None:
    """A first load's rows go by COPY into the table (no staging table, no ON CONFLICT); a
    batch with a key already there (this transaction's or an earlier one's) is upserted whole,
    and so is every later batch of that table in the transaction; earlier rows stay. In a
    WriteBehind block the COPY runs in a thread, and a key already there is found at the settle."""
    columns = ["product_id", "product_name", "created_stamp"]
    table = Product.__table__
    later = datetime(2027, 1, 1, tzinfo=UTC)
    with db.transaction() as session, WriteBehind(session) if behind else nullcontext():
        upsert_copied(session, table, columns, [("N1", "one", STAMP)], ["product_id"], ["created_stamp"])  # type: ignore[arg-type]
        upsert_copied(session, table, columns, [("N2", "two", STAMP)], ["product_id"], ["created_stamp"])  # type: ignore[arg-type]
        assert not _staged(session)
        mixed = [("N3", "three", later), ("N1", "ONE", later)]
        upsert_copied(session, table, columns, mixed, ["product_id"], ["created_stamp"])  # type: ignore[arg-type]
        upsert_copied(session, table, columns, [("N4", "four", later)], ["product_id"], ["created_stamp"])  # type: ignore[arg-type]
        assert _staged(session)
    stamp, later_stamp = STAMP.replace(tzinfo=UTC), later
    assert _products(db) == [
        ("N1", "ONE", None, stamp),
        ("N2", "two", None, stamp),
        ("N3", "three", None, later_stamp),
        ("N4", "four", None, later_stamp),
    ]
    with db.transaction() as session:  # a reload: the key is there, the row upserted
        upsert_copied(session, table, columns, [("N2", "TWO", later)], ["product_id"], ["created_stamp"])  # type: ignore[arg-type]
        assert _staged(session)
    assert _products(db)[1] == ("N2", "TWO", None, stamp)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_foreign_key_refusal_of_new_rows_is_raised_as_before(db: Database) -> None:
    """Only a key already there turns the direct COPY into an upsert: a missing product still
    fails the transaction, as the upsert would have."""
    refused = pytest.raises(IntegrityError, match="fk_product_facility_product_id_product")
    with refused, db.transaction() as session:
        session.add(Facility(facility_id="F1", costing_method_id="FIFO"))
        session.flush()
        columns, keys = ["facility_id", "product_id", "days_to_ship"], ["facility_id", "product_id"]
        upsert_copied(session, ProductFacility.__table__, columns, [("F1", "NONE", 1)], keys)  # type: ignore[arg-type]
    with db.reading() as session:
        assert session.get(Facility, "F1") is None
