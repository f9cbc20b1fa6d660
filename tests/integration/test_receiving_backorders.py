"""A receipt onto another item (a new lot) moves the filled backorder's promise there (both databases)."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from stockledger.core.db import Database
from stockledger.ledger.models import InventoryItem, OrderItemInventoryReservation
from stockledger.ledger.verify import find_mismatches
from stockledger.receiving.schemas import ReceiptDoc, ReceiptLine
from stockledger.receiving.service import receive_purchase_shipment
from stockledger.reservations.picking import pick_suggestions
from stockledger.reservations.service import ReserveLine, cancel_reservation, reserve_stock
from tests.conftest import POSTGRES_LIKE
from tests.shipping_support import FACILITY, details, events, product_totals, totals
from tests.stock_support import receive, reservations

D = Decimal
FACILITY_ITEM = "FG002-INV-001"  # FG002's facility item: 22 on hand; FG002-INV-002 has 9


def _reserve(db: Database, order_id: str, quantity: int, fill: str = "BACKORDER") -> None:
    with db.transaction() as session:
        reserve_stock(session, order_id, FACILITY, [ReserveLine("1", "FG002", D(quantity))], fill)


def _new_lot(db: Database, shipment_id: str, quantity: int) -> str:
    [item] = receive(
        db,
        shipment_id,
        {"shipmentItemSeqId": "1", "productId": "FG002", "quantityAccepted": quantity, "lotId": "L-NEW"},
    )
    return item


def _picks(db: Database, order_id: str) -> list[tuple[str, Decimal]]:
    with db.reading() as session:
        return [(p.inventory_item_id, p.quantity_to_pick) for p in pick_suggestions(session, order_id)]


def _clean(db: Database) -> None:
    with db.reading() as session:
        assert find_mismatches(session) == []


def test_a_new_lot_fills_the_backorder_and_the_promise_moves_onto_it(seeded: Database) -> None:
    _reserve(seeded, "BO", 35)
    assert reservations(seeded, "BO") == [
        ("1", FACILITY_ITEM, D(26), D(4), "RES_ACTIVE"),
        ("1", "FG002-INV-002", D(9), D(0), "RES_ACTIVE"),
    ]
    assert totals(seeded, FACILITY_ITEM) == (D(22), D(-4))
    lot = _new_lot(seeded, "PO-LOT", 3)
    assert lot != FACILITY_ITEM
    assert totals(seeded, FACILITY_ITEM) == (D(22), D(-1))  # 3 of its 4 backordered units left it
    assert totals(seeded, lot) == (D(3), D(0))  # received 3, all promised to BO
    assert product_totals(seeded, "FG002") == (D(34), D(-1))  # as without the move: 31 + 3 − 35
    assert reservations(seeded, "BO") == [
        ("1", FACILITY_ITEM, D(23), D(1), "RES_ACTIVE"),
        ("1", "FG002-INV-002", D(9), D(0), "RES_ACTIVE"),
        ("1", lot, D(3), D(0), "RES_ACTIVE"),
    ]
    assert sorted(_picks(seeded, "BO")) == sorted(
        [(FACILITY_ITEM, D(22)), ("FG002-INV-002", D(9)), (lot, D(3))]
    )
    back = details(seeded, FACILITY_ITEM)[-1]
    receipt, down = details(seeded, lot)
    assert (receipt.reason_enum_id, receipt.quantity_on_hand_diff, receipt.available_to_promise_diff) == (
        "RECEIPT",
        D(3),
        D(3),
    )
    for row, diff in ((back, D(3)), (down, D(-3))):
        assert (row.reason_enum_id, row.available_to_promise_diff, row.quantity_on_hand_diff) == (
            "RESERVATION_MOVED",
            diff,
            D(0),
        )
        assert (row.order_id, row.order_item_seq_id, row.shipment_id) == ("BO", "1", "PO-LOT")
        assert row.receipt_id == receipt.receipt_id
    [event] = events(seeded, "InventoryChanged")[-1:]
    assert event["backordersFilled"] == [
        {
            "orderId": "BO",
            "orderItemSeqId": "1",
            "quantity": 3,
            "backorderedInventoryItemId": FACILITY_ITEM,
            "movedToInventoryItemId": lot,
        }
    ]
    _clean(seeded)
    # the same lot again: the received item is found by lot, the last unit moves onto the same row
    assert _new_lot(seeded, "PO-LOT-2", 5) == lot
    assert totals(seeded, FACILITY_ITEM) == (D(22), D(0))
    assert totals(seeded, lot) == (D(8), D(4))
    assert product_totals(seeded, "FG002") == (D(39), D(4))
    assert reservations(seeded, "BO")[0] == ("1", FACILITY_ITEM, D(22), D(0), "RES_ACTIVE")
    assert reservations(seeded, "BO")[2] == ("1", lot, D(4), D(0), "RES_ACTIVE")
    _clean(seeded)


def test_a_fully_backordered_row_moves_whole_and_its_release_returns_atp_on_the_lot(seeded: Database) -> None:
    _reserve(seeded, "ALL", 31, fill="PARTIAL")
    _reserve(seeded, "B2", 2)
    assert reservations(seeded, "B2") == [("1", FACILITY_ITEM, D(2), D(2), "RES_ACTIVE")]
    with seeded.reading() as session:
        assert pick_suggestions(session, "B2") == []  # nothing physically there yet
    lot = _new_lot(seeded, "PO-LOT", 5)
    assert reservations(seeded, "B2") == [
        ("1", FACILITY_ITEM, D(0), D(0), "RES_CANCELLED"),  # every unit moved: the row ends
        ("1", lot, D(2), D(0), "RES_ACTIVE"),
    ]
    assert _picks(seeded, "B2") == [(lot, D(2))]
    assert totals(seeded, FACILITY_ITEM) == (D(22), D(0))
    assert totals(seeded, lot) == (D(5), D(3))
    assert product_totals(seeded, "FG002") == (D(36), D(3))
    with seeded.transaction() as session:
        released = cancel_reservation(session, FACILITY, "B2", "1")
    assert released.quantity_released == 2
    assert totals(seeded, lot) == (D(5), D(5))
    assert product_totals(seeded, "FG002") == (D(36), D(5))
    _clean(seeded)


def test_a_receipt_onto_the_backordered_item_moves_nothing(seeded: Database) -> None:
    _reserve(seeded, "BO", 35)
    receive(seeded, "PO-1", {"shipmentItemSeqId": "1", "productId": "FG002", "quantityAccepted": 3})
    assert totals(seeded, FACILITY_ITEM) == (D(25), D(-1))
    assert reservations(seeded, "BO")[0] == ("1", FACILITY_ITEM, D(26), D(1), "RES_ACTIVE")
    assert [d.reason_enum_id for d in details(seeded, FACILITY_ITEM)][-1] == "RECEIPT"
    assert events(seeded, "InventoryChanged")[-1]["backordersFilled"][0]["movedToInventoryItemId"] is None
    _clean(seeded)


def _promised_elsewhere(db: Database) -> list[tuple[str, Decimal, Decimal]]:
    """Items whose ATP is not QOH − Σ active reservations on them (none when every promise is in place)."""
    with db.reading() as session:
        i, r = InventoryItem, OrderItemInventoryReservation
        reserved = (
            select(r.inventory_item_id, func.sum(r.quantity).label("q"))
            .where(r.facility_id == FACILITY, r.status_id == "RES_ACTIVE")
            .group_by(r.inventory_item_id)
            .subquery()
        )
        rows = session.execute(
            select(i.inventory_item_id, i.quantity_on_hand_total, i.available_to_promise_total, reserved.c.q)
            .outerjoin(reserved, reserved.c.inventory_item_id == i.inventory_item_id)
            .where(i.facility_id == FACILITY, i.product_id == "FG002")
        ).all()
    return [(item, qoh, atp) for item, qoh, atp, q in rows if atp != qoh - (q or 0)]


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_receipts_moving_promises_race_reservations_and_cancels_without_deadlock(seeded: Database) -> None:
    _reserve(seeded, "BASE", 31, fill="PARTIAL")
    for n in range(12):
        _reserve(seeded, f"W{n}", 2)  # 24 units backordered on the facility item
    workers = Database(str(seeded.engine.url.render_as_string(hide_password=False)), pool_size=20)

    def act(n: int) -> str:
        with workers.transaction() as session:
            if n % 3 == 0:
                doc = ReceiptDoc(
                    shipment_id=f"PO-R{n}",
                    facility_id=FACILITY,
                    items=[ReceiptLine.model_validate(_lot_line(n))],
                )
                receive_purchase_shipment(session, doc)
            elif n % 3 == 1:
                cancel_reservation(session, FACILITY, f"W{n // 3}", "1")  # each W once
            else:
                reserve_stock(session, f"N{n}", FACILITY, [ReserveLine("1", "FG002", D(1))], "BACKORDER")
        return "ok"

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(act, range(36)))
    workers.dispose()
    assert outcomes == ["ok"] * 36
    assert _promised_elsewhere(seeded) == []
    _clean(seeded)


def _lot_line(n: int) -> dict[str, object]:
    return {"shipmentItemSeqId": "1", "productId": "FG002", "quantityAccepted": 3, "lotId": f"L-RACE-{n}"}
