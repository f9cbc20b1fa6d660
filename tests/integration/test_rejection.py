"""rejectOrderItem on both databases: release first, then each mode's own detail row."""

from decimal import Decimal

import pytest

from stockledger.core.db import Database
from stockledger.core.errors import NotFound, ValidationFailed
from stockledger.rejection.service import Rejection, reject_order_item
from stockledger.reservations.service import ReserveLine, reserve_stock
from tests.shipping_support import FACILITY, details, events, snapshot, totals
from tests.stock_support import reservations

D = Decimal
ITEM = "FG002-INV-001"  # 22 on hand: the reservation of 4 lands here (oldest receipt)


def _reserve_and_reject(db: Database, mode: str, quantity: Decimal | None = None) -> None:
    with db.transaction() as session:
        reserve_stock(session, "OR", FACILITY, [ReserveLine("1", "FG002", D(4))])
    with db.transaction() as session:
        reject_order_item(session, Rejection("OR", "1", mode, quantity, "REJ_NOT_IN_STOCK"))


@pytest.mark.parametrize(
    ("mode", "quantity", "qoh", "atp"),
    [
        ("RELEASE", None, 22, 22),
        ("ATP_ONE", None, 22, 21),
        ("ATP_QOH_ONE", None, 21, 21),
        ("ATP_ALL", None, 22, 18),
        ("ATP_QOH_ALL", D(3), 19, 19),
    ],
)
def test_each_mode_after_the_release(
    seeded: Database, mode: str, quantity: Decimal | None, qoh: int, atp: int
) -> None:
    _reserve_and_reject(seeded, mode, quantity)
    assert totals(seeded, ITEM) == (D(qoh), D(atp))
    assert reservations(seeded, "OR")[0][4] == "RES_CANCELLED"
    rows = details(seeded, ITEM)
    release = rows[-1] if mode == "RELEASE" else rows[-2]
    assert (release.available_to_promise_diff, release.order_id, release.order_item_seq_id) == (
        D(4),
        "OR",
        "1",
    )
    assert release.reason_enum_id == "REJ_NOT_IN_STOCK"
    assert "reservation released" in (release.description or "")
    if mode != "RELEASE":
        taken = rows[-1]
        assert (taken.quantity_on_hand_diff, taken.available_to_promise_diff) == (D(qoh - 22), D(atp - 22))
        assert taken.reason_enum_id == "REJ_NOT_IN_STOCK"
        assert mode in (taken.description or "")
        assert (taken.order_id, taken.order_item_seq_id) == ("OR", "1")
        assert events(seeded, "InventoryChanged")[-1]["rejectionMode"] == mode
    assert events(seeded, "ReservationReleased")[-1]["orderId"] == "OR"


def test_without_a_reservation_404_unless_facility_and_product_are_named(seeded: Database) -> None:
    before = snapshot(seeded)
    with pytest.raises(NotFound), seeded.transaction() as session:
        reject_order_item(session, Rejection("NONE", "1", "ATP_QOH_ONE"))
    assert snapshot(seeded) == before
    with seeded.transaction() as session:
        reject_order_item(session, Rejection("NONE", "1", "ATP_QOH_ONE", None, None, FACILITY, "FG002"))
    assert totals(seeded, ITEM) == (D(21), D(21))
    assert details(seeded, ITEM)[-1].reason_enum_id == "REJ_REJECTED"


def test_an_unknown_mode_changes_nothing(seeded: Database) -> None:
    with seeded.transaction() as session:
        reserve_stock(session, "OR", FACILITY, [ReserveLine("1", "FG002", D(4))])
    before = snapshot(seeded)
    with pytest.raises(ValidationFailed), seeded.transaction() as session:
        reject_order_item(session, Rejection("OR", "1", "ATP_HALF"))
    assert snapshot(seeded) == before
