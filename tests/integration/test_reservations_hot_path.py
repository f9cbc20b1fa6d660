"""The single-line fast path of reserve_stock writes what the general path writes."""

from decimal import Decimal

import pytest

from stockledger.core.db import Database
from stockledger.core.errors import NotFound
from stockledger.reservations.service import ReserveLine, reserve_stock
from tests.shipping_support import FACILITY, details, events, product_totals
from tests.stock_support import reservations

D = Decimal


def _reserve(db: Database, order_id: str, facility_id: str, line: ReserveLine) -> None:
    with db.transaction() as session:
        reserve_stock(session, order_id, facility_id, [line])


def test_reserving_the_same_line_again_grows_its_active_row(seeded: Database) -> None:
    qoh, atp = product_totals(seeded, "FG002")
    _reserve(seeded, "HOT", FACILITY, ReserveLine("1", "FG002", D(2)))
    (first,) = reservations(seeded, "HOT")
    _reserve(seeded, "HOT", FACILITY, ReserveLine("1", "FG002", D(3)))
    assert reservations(seeded, "HOT") == [("1", first[1], D(5), D(0), "RES_ACTIVE")]
    assert product_totals(seeded, "FG002") == (qoh, atp - 5)
    rows = [d for d in details(seeded, first[1]) if d.order_id == "HOT"]
    assert [(d.available_to_promise_diff, d.reason_enum_id, d.order_item_seq_id) for d in rows] == [
        (D(-2), "RESERVATION", "1"),
        (D(-3), "RESERVATION", "1"),
    ]
    reserved = [e for e in events(seeded, "StockReserved") if e["orderId"] == "HOT"]
    assert [e["lines"][0]["quantityReserved"] for e in reserved] == [2, 3]


def test_unknown_facility_or_product_is_still_a_404_and_changes_nothing(seeded: Database) -> None:
    before = product_totals(seeded, "FG001")
    with pytest.raises(NotFound, match="Facility NO_SUCH_FACILITY"):
        _reserve(seeded, "H404", "NO_SUCH_FACILITY", ReserveLine("1", "FG001", D(1)))
    with pytest.raises(NotFound, match="Product NO_SUCH"):
        _reserve(seeded, "H404", FACILITY, ReserveLine("1", "NO_SUCH", D(1)))
    assert product_totals(seeded, "FG001") == before
    assert reservations(seeded, "H404") == []
    assert [e for e in events(seeded, "StockReserved") if e["orderId"] == "H404"] == []
