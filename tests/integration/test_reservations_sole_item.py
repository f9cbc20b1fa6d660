"""A line whose product has one INV_AVAILABLE item: on PostgreSQL one statement does it all.

The same rows and event as the general path (SQLite runs the general path on the same
scenario, with the same expected values), and it falls back without writing anything.
"""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from stockledger.catalog.inventory_items import find_or_create_facility_inventory_item
from stockledger.core.db import Database
from stockledger.core.errors import InsufficientStock
from stockledger.ledger.models import InventoryItem, InventoryItemDetail, Product
from stockledger.ledger.post import Posting, post
from stockledger.reservations.service import ReserveLine, ReserveOutcome, reserve_stock
from tests.shipping_support import FACILITY, details, events, totals
from tests.stock_support import reservations

D = Decimal
SOLO = "SOLO-1"


@pytest.fixture
def solo(seeded: Database) -> str:
    """A product with exactly one item in the facility, 10 on hand and available."""
    with seeded.transaction() as session:
        session.add(Product(product_id=SOLO, product_name="Sole item"))
        session.flush()
        item = find_or_create_facility_inventory_item(session, FACILITY, SOLO).inventory_item_id
        post(
            session,
            Posting(
                FACILITY, item, "INV_RECEIPT", quantity_on_hand_diff=D(10), available_to_promise_diff=D(10)
            ),
        )
    return item


@pytest.fixture
def statements(seeded: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def _count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    event.listen(seeded.engine, "before_cursor_execute", _count)
    yield seen
    event.remove(seeded.engine, "before_cursor_execute", _count)


def _reserve(db: Database, order_id: str, quantity: int, fill: str = "ALL_OR_NOTHING") -> ReserveOutcome:
    with db.transaction() as session:
        return reserve_stock(session, order_id, FACILITY, [ReserveLine("1", SOLO, D(quantity))], fill)


def test_a_sole_item_line_writes_the_rows_and_event_of_the_general_path(
    seeded: Database, solo: str, statements: list[str]
) -> None:
    statements.clear()
    outcome = _reserve(seeded, "SO1", 3)
    if seeded.engine.dialect.name == "postgresql":
        assert len(statements) == 1
        assert statements[0].startswith("WITH picked AS")
    [line] = outcome.lines
    assert [(r.inventory_item_id, r.quantity, r.quantity_not_available) for r in line.reservations] == [
        (solo, D(3), D(0))
    ]
    assert totals(seeded, solo) == (D(10), D(7))
    [receipt, reserved] = details(seeded, solo)
    assert (receipt.inventory_item_detail_seq_id, reserved.inventory_item_detail_seq_id) == ("00001", "00002")
    assert (
        reserved.seq_num,
        reserved.quantity_on_hand_diff,
        reserved.available_to_promise_diff,
        reserved.accounting_quantity_diff,
        reserved.reason_enum_id,
        reserved.order_id,
        reserved.order_item_seq_id,
    ) == (2, D(0), D(-3), D(0), "RESERVATION", "SO1", "1")
    assert reserved.effective_date.tzinfo is not None
    assert reservations(seeded, "SO1") == [("1", solo, D(3), D(0), "RES_ACTIVE")]
    assert [e for e in events(seeded, "StockReserved") if e["orderId"] == "SO1"] == [
        {
            "facilityId": FACILITY,
            "orderId": "SO1",
            "fill": "ALL_OR_NOTHING",
            "productIds": [SOLO],
            "lines": [
                {
                    "orderItemSeqId": "1",
                    "productId": SOLO,
                    "quantityRequested": 3,
                    "quantityReserved": 3,
                    "quantityNotAvailable": 0,
                    "reservations": [{"inventoryItemId": solo, "quantity": 3, "quantityNotAvailable": 0}],
                }
            ],
        }
    ]


def test_reserving_the_line_again_grows_its_row(seeded: Database, solo: str) -> None:
    _reserve(seeded, "SO2", 3)
    _reserve(seeded, "SO2", 2, "PARTIAL")
    assert reservations(seeded, "SO2") == [("1", solo, D(5), D(0), "RES_ACTIVE")]
    assert totals(seeded, solo) == (D(10), D(5))


def test_a_short_line_falls_back_and_writes_nothing(seeded: Database, solo: str) -> None:
    with pytest.raises(InsufficientStock):
        _reserve(seeded, "SO3", 11)
    assert totals(seeded, solo) == (D(10), D(10))
    assert len(details(seeded, solo)) == 1
    assert reservations(seeded, "SO3") == []
    partial = _reserve(seeded, "SO4", 11, "PARTIAL")  # the general path takes what there is
    assert partial.lines[0].quantity_reserved == 10
    backorder = _reserve(seeded, "SO5", 4, "BACKORDER")
    assert [(r.quantity, r.quantity_not_available) for r in backorder.lines[0].reservations] == [(D(4), D(4))]
    assert totals(seeded, solo) == (D(10), D(-4))


def test_a_second_item_sends_the_line_to_the_general_path(
    seeded: Database, solo: str, statements: list[str]
) -> None:
    with seeded.transaction() as session:
        lot = InventoryItem(
            facility_id=FACILITY,
            inventory_item_id="SOLO-LOT-A",
            inventory_item_type_id="NON_SERIAL_INV_ITEM",
            product_id=SOLO,
            status_id="INV_AVAILABLE",
            lot_id="A",
            expire_date=None,
            datetime_received=None,
        )
        session.add(lot)
    statements.clear()
    outcome = _reserve(seeded, "SO6", 2)
    assert len(statements) > 1  # locked and planned
    assert [r.inventory_item_id for r in outcome.lines[0].reservations] == [solo]


def test_detail_numbers_past_99999_are_written_in_full(seeded: Database, solo: str) -> None:
    """The statement formats the detail sequence as format_seq does: five digits, more if needed."""
    with seeded.transaction() as session:
        session.execute(
            update(InventoryItem)
            .where(InventoryItem.inventory_item_id == solo)
            .values(last_detail_seq=99_999)
        )
    _reserve(seeded, "SO7", 1)
    with seeded.reading() as session:
        newest = session.execute(
            select(InventoryItemDetail.inventory_item_detail_seq_id, InventoryItemDetail.seq_num)
            .where(InventoryItemDetail.inventory_item_id == solo)
            .order_by(InventoryItemDetail.seq_num.desc())
            .limit(1)
        ).one()
        count = session.scalar(
            select(func.count())
            .select_from(InventoryItemDetail)
            .where(InventoryItemDetail.inventory_item_id == solo)
        )
    assert tuple(newest) == ("100000", 100_000)
    assert count == 2
