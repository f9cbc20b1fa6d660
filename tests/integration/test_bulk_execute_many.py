"""core.bulk.execute_many: the rows and counts SQLAlchemy's executemany would give, on both databases
(SQLite sends driver tuples after the column types' bind processors, PostgreSQL SQLAlchemy's own)."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select, update

from stockledger.core.bulk import execute_many
from stockledger.core.db import Database
from stockledger.ledger.models import Facility, InventoryItem, Product

STAMP = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # no microseconds: the driver's own format would drop them
ITEM = InventoryItem.__table__
FACILITY = Facility.__table__


def _item(n: int, qoh: Decimal, stamp: datetime) -> dict[str, Any]:
    return {
        "facility_id": "F1",
        "inventory_item_id": f"I{n}",
        "inventory_item_type_id": "NON_SERIAL_INV_ITEM",
        "product_id": "P1",
        "status_id": "INV_AVAILABLE",
        "quantity_on_hand_total": qoh,
        "available_to_promise_total": qoh,
        "accounting_quantity_total": Decimal(0),
        "last_detail_seq": 0,
        "created_stamp": stamp,
    }


def _items(db: Database) -> list[tuple[Any, ...]]:
    i = InventoryItem
    stmt = select(
        i.inventory_item_id, i.quantity_on_hand_total, i.available_to_promise_total, i.created_stamp
    ).order_by(i.inventory_item_id)
    with db.reading() as session:
        return [tuple(r) for r in session.execute(stmt)]


@pytest.mark.corrupts_ledger  # bare items, no detail rows: the statements under test, not a posting
def test_execute_many_inserts_and_updates_as_sqlalchemy_would(db: Database) -> None:
    plus_two = timezone(timedelta(hours=2))
    quantities = [Decimal("1.5"), Decimal("1.500000"), Decimal("0.000001"), Decimal(7)]
    stamps = [STAMP, STAMP, STAMP.astimezone(plus_two), STAMP + timedelta(microseconds=5)]
    with db.transaction() as session:
        session.execute(insert(FACILITY), [{"facility_id": "F1", "costing_method_id": "FIFO"}])
        session.execute(insert(Product.__table__), [{"product_id": "P1"}])
        rows = [_item(n, q, s) for n, (q, s) in enumerate(zip(quantities, stamps, strict=True))]
        execute_many(session, insert(ITEM), rows)  # an INSERT's count: SQLite's only (PostgreSQL: -1)
        move = (
            update(ITEM)
            .where(ITEM.c.facility_id == bindparam("f"), ITEM.c.inventory_item_id == bindparam("i"))
            .values(
                quantity_on_hand_total=ITEM.c.quantity_on_hand_total
                + bindparam("d", type_=ITEM.c.quantity_on_hand_total.type)
            )
        )
        moves = [{"f": "F1", "i": "I0", "d": Decimal("-0.5")}, {"f": "F1", "i": "I9", "d": Decimal(1)}]
        assert execute_many(session, move, moves) == 1  # I9 does not exist
        assert execute_many(session, move, []) == 0
    assert _items(db) == [
        ("I0", Decimal(1), Decimal("1.5"), STAMP),
        ("I1", Decimal("1.5"), Decimal("1.5"), STAMP),
        ("I2", Decimal("0.000001"), Decimal("0.000001"), STAMP),
        ("I3", Decimal(7), Decimal(7), STAMP + timedelta(microseconds=5)),
    ]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_execute_many_refuses_rows_lacking_a_parameter(db: Database, backend: str) -> None:
    """A column default SQLAlchemy would fill in is not applied by the driver: refused, not guessed."""
    with db.transaction() as session, pytest.raises(ValueError, match="missing"):
        execute_many(session, insert(FACILITY), [{"facility_id": "F1", "costing_method_id": "FIFO"}])
