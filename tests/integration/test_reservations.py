"""reserveStock and its release on both databases: ATP, detail rows, reservation rows, events."""

from decimal import Decimal

import pytest

from stockledger.core.db import Database
from stockledger.core.errors import InsufficientStock, NotFound, ValidationFailed
from stockledger.reservations.picking import pick_suggestions
from stockledger.reservations.service import ReserveLine, cancel_reservation, reserve_stock
from tests.shipping_support import FACILITY, details, events, product_totals, snapshot, totals
from tests.stock_support import receive, reservations, two_lots_of_fg003

D = Decimal


def _reserve(db: Database, order_id: str, *lines: ReserveLine, fill: str = "ALL_OR_NOTHING") -> None:
    with db.transaction() as session:
        reserve_stock(session, order_id, FACILITY, list(lines), fill)


def test_a_reservation_spreads_fefo_lowers_atp_and_links_the_order(seeded: Database) -> None:
    _reserve(seeded, "O1", ReserveLine("00001", "FG001", D(20)))
    # both items have no expiry: the older receipt (INV-001, 13) first, then INV-002
    assert reservations(seeded, "O1") == [
        ("00001", "FG001-INV-001", D(13), D(0), "RES_ACTIVE"),
        ("00001", "FG001-INV-002", D(7), D(0), "RES_ACTIVE"),
    ]
    assert totals(seeded, "FG001-INV-001") == (D(13), D(0))
    assert totals(seeded, "FG001-INV-002") == (D(18), D(11))
    last = details(seeded, "FG001-INV-002")[-1]
    assert (last.available_to_promise_diff, last.quantity_on_hand_diff) == (D(-7), D(0))
    assert (last.order_id, last.order_item_seq_id, last.reason_enum_id) == ("O1", "00001", "RESERVATION")
    [event] = events(seeded, "StockReserved")
    [line] = event["lines"]
    assert (event["orderId"], event["productIds"], line["quantityReserved"]) == ("O1", ["FG001"], 20)
    assert [r["inventoryItemId"] for r in line["reservations"]] == ["FG001-INV-001", "FG001-INV-002"]


def test_all_or_nothing_lists_every_short_line_and_changes_nothing(seeded: Database) -> None:
    before = snapshot(seeded)
    with pytest.raises(InsufficientStock) as refused:
        _reserve(
            seeded,
            "O2",
            ReserveLine("1", "FG001", D(40)),
            ReserveLine("2", "FG002", D(5)),
            ReserveLine("3", "FG003", D(70)),
        )
    short = refused.value.extra["lines"]
    assert [(s["orderItemSeqId"], s["available"], s["shortfall"]) for s in short] == [
        ("1", D(31), D(9)),
        ("3", D(62), D(8)),
    ]
    assert snapshot(seeded) == before


def test_partial_reserves_what_is_there(seeded: Database) -> None:
    _reserve(seeded, "O3", ReserveLine("1", "FG002", D(40)), fill="PARTIAL")
    assert product_totals(seeded, "FG002") == (D(31), D(0))
    assert sum(r[2] for r in reservations(seeded, "O3")) == 31


def test_backorder_drives_atp_negative_and_a_receipt_fills_the_oldest_first(seeded: Database) -> None:
    _reserve(seeded, "OLD", ReserveLine("1", "FG002", D(35)), fill="BACKORDER")
    _reserve(seeded, "NEW", ReserveLine("1", "FG002", D(2)), fill="BACKORDER")
    assert product_totals(seeded, "FG002") == (D(31), D(-6))
    assert [r[3] for r in reservations(seeded, "OLD")] == [D(4), D(0)]  # the facility item carries it
    assert reservations(seeded, "NEW") == [("1", "FG002-INV-001", D(2), D(2), "RES_ACTIVE")]
    receive(seeded, "PO-1", {"shipmentItemSeqId": "1", "productId": "FG002", "quantityAccepted": 5})
    assert product_totals(seeded, "FG002") == (D(36), D(-1))
    assert [r[3] for r in reservations(seeded, "OLD")] == [D(0), D(0)]  # the oldest is filled first
    assert reservations(seeded, "NEW")[0][3] == D(1)


def test_fefo_takes_the_earlier_lot_and_the_pick_list_shows_it_first(seeded: Database) -> None:
    early, late = two_lots_of_fg003(seeded)
    _reserve(seeded, "OF", ReserveLine("1", "FG003", D(6)))
    assert {(r[1], r[2]) for r in reservations(seeded, "OF")} == {(early, D(4)), (late, D(2))}
    with seeded.reading() as session:
        picks = pick_suggestions(session, "OF")
    assert [(p.inventory_item_id, p.lot_id, p.quantity_to_pick, p.location_seq_id) for p in picks] == [
        (early, "L-EARLY", D(4), "0004"),
        (late, "L-LATE", D(2), "0010"),
    ]
    assert (picks[0].area_id, picks[0].aisle_id, picks[0].section_id) == ("A", "02", "02")
    assert picks[0].product_name is not None
    assert picks[0].expire_date is not None


def test_an_explicit_lot_is_honoured(seeded: Database) -> None:
    _early, late = two_lots_of_fg003(seeded)
    _reserve(seeded, "OL", ReserveLine("1", "FG003", D(5), lot_id="L-LATE"))
    assert reservations(seeded, "OL") == [("1", late, D(5), D(0), "RES_ACTIVE")]
    with pytest.raises(InsufficientStock):
        _reserve(seeded, "OL2", ReserveLine("1", "FG003", D(1), lot_id="L-LATE"))


def test_cancel_releases_every_row_and_a_new_reservation_reactivates_the_key(seeded: Database) -> None:
    _reserve(seeded, "OC", ReserveLine("1", "FG001", D(20)))
    with seeded.transaction() as session:
        released = cancel_reservation(session, None, "OC", "1")
    assert released.quantity_released == 20
    assert product_totals(seeded, "FG001") == (D(31), D(31))
    assert {r[4] for r in reservations(seeded, "OC")} == {"RES_CANCELLED"}
    last = details(seeded, "FG001-INV-001")[-1]
    assert (last.available_to_promise_diff, last.reason_enum_id, last.order_id) == (
        D(13),
        "RESERVATION_RELEASE",
        "OC",
    )
    assert events(seeded, "ReservationReleased")[0]["quantityReleased"] == 20
    _reserve(seeded, "OC", ReserveLine("1", "FG001", D(2)))
    assert reservations(seeded, "OC")[0] == ("1", "FG001-INV-001", D(2), D(0), "RES_ACTIVE")
    with pytest.raises(NotFound), seeded.transaction() as session:
        cancel_reservation(session, FACILITY, "NOPE", "1")


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ([ReserveLine("1", "NO_SUCH", D(1))], NotFound),
        ([ReserveLine("1", "FG001", D(-1))], ValidationFailed),
        ([ReserveLine("1", "FG001", D("NaN"))], ValidationFailed),
        ([ReserveLine("1", "FG001", D(1)), ReserveLine("1", "FG002", D(1))], ValidationFailed),
        ([], ValidationFailed),
    ],
)
def test_bad_lines_are_refused_and_change_nothing(
    seeded: Database, lines: list[ReserveLine], error: type[Exception]
) -> None:
    before = snapshot(seeded)
    with pytest.raises(error), seeded.transaction() as session:
        reserve_stock(session, "OB", FACILITY, lines)
    assert snapshot(seeded) == before


def test_a_later_receipt_is_not_needed_for_stock_already_there(seeded: Database) -> None:
    """A receipt with no backorders waiting changes no reservation."""
    _reserve(seeded, "OK", ReserveLine("1", "FG001", D(1)))
    receive(seeded, "PO-2", {"shipmentItemSeqId": "1", "productId": "FG001", "quantityAccepted": 2})
    assert reservations(seeded, "OK") == [("1", "FG001-INV-001", D(1), D(0), "RES_ACTIVE")]
