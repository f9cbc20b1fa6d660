"""Cycle counts and logged variances: QOH := counted, ATP := counted − active reservations."""

import json
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from stockledger.core.actor import bind_user
from stockledger.core.db import Database
from stockledger.core.errors import Conflict, NotFound, ValidationFailed
from stockledger.core.model_base import utcnow
from stockledger.counts.schemas import CountDoc
from stockledger.counts.service import record_count
from stockledger.events.models import OutboxEvent
from stockledger.events.outbox import record_event
from stockledger.ledger.models import (
    InventoryItem,
    InventoryItemDetail,
    InventoryItemVariance,
    OrderItemInventoryReservation,
    PhysicalInventory,
)
from stockledger.ledger.post import Links, Posting, post
from stockledger.ledger.views import availability
from stockledger.variances.schemas import VarianceIn
from stockledger.variances.service import log_variance

F = "FACILITY_1"


def _reserve(session: Session, item_id: str, order_id: str, quantity: int, product: str) -> None:
    """What the reservations capability does: ATP − quantity and an active reservation row."""
    post(
        session,
        Posting(
            F,
            item_id,
            "RESERVATION",
            available_to_promise_diff=Decimal(-quantity),
            links=Links(order_id=order_id, order_item_seq_id="00001"),
        ),
    )
    record_event(session, F, "StockReserved", {"orderId": order_id, "inventoryItemId": item_id})
    session.add(
        OrderItemInventoryReservation(
            facility_id=F,
            order_id=order_id,
            order_item_seq_id="00001",
            inventory_item_id=item_id,
            product_id=product,
            quantity=Decimal(quantity),
        )
    )
    session.flush()


def _end_reservation(session: Session, order_id: str, status: str) -> None:
    r = OrderItemInventoryReservation
    reservation = session.scalars(select(r).where(r.order_id == order_id)).one()
    links = Links(order_id=order_id, order_item_seq_id="00001")
    item_id, quantity = reservation.inventory_item_id, reservation.quantity
    if status == "RES_CANCELLED":
        post(
            session,
            Posting(F, item_id, "RESERVATION_RELEASE", available_to_promise_diff=quantity, links=links),
        )
    else:  # fulfilled: shipped, QOH leaves (ATP was taken at reservation)
        post(session, Posting(F, item_id, "ITEM_ISSUANCE", quantity_on_hand_diff=-quantity, links=links))
    record_event(session, F, "InventoryChanged", {"orderId": order_id, "inventoryItemId": item_id})
    session.execute(
        update(r).where(r.order_id == order_id).values(status_id=status, status_datetime=utcnow())
    )


def _item(session: Session, item_id: str) -> tuple[Decimal, Decimal]:
    item = session.get(InventoryItem, (F, item_id))
    assert item is not None
    return item.quantity_on_hand_total, item.available_to_promise_total


def _totals(
    session: Session, product: str, as_of: datetime | None = None
) -> tuple[Decimal, Decimal, Decimal]:
    a = availability(session, F, product, as_of)
    return a.quantity_on_hand_total, a.available_to_promise_total, a.reserved_quantity


def _count(pi: str, *lines: dict[str, Any]) -> CountDoc:
    return CountDoc.model_validate(
        {"physicalInventoryId": pi, "facilityId": F, "partyId": "jdoe", "counts": list(lines)}
    )


def _rows(session: Session, **where: str) -> list[InventoryItemDetail]:
    d = InventoryItemDetail
    stmt = select(d).order_by(d.inventory_item_id, d.seq_num)
    for name, value in where.items():
        stmt = stmt.where(getattr(d, name) == value)
    return list(session.scalars(stmt))


def _events(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.event_type == "InventoryChanged")
        .order_by(OutboxEvent.event_seq)
    )
    return [json.loads(r.payload) for r in rows]


def _state(session: Session) -> tuple[Any, ...]:
    return (
        session.scalar(select(func.count()).select_from(InventoryItemDetail)),
        session.scalar(select(func.count()).select_from(InventoryItemVariance)),
        session.scalar(select(func.sum(InventoryItem.quantity_on_hand_total))),
        session.scalar(select(func.sum(InventoryItem.available_to_promise_total))),
    )


def test_a_count_by_item_sets_qoh_to_counted_and_atp_to_counted_minus_its_reservations(
    seeded: Database,
) -> None:
    with seeded.transaction() as session:
        _reserve(session, "FG002-INV-001", "O1", 5, "FG002")  # 22 / 17
        result = record_count(
            session, _count("PI_A", {"inventoryItemId": "FG002-INV-001", "quantityCounted": 20})
        )
    (variance,) = result.variances
    assert (
        variance.quantity_on_hand_var,
        variance.available_to_promise_var,
        variance.variance_reason_id,
    ) == (
        Decimal(-2),
        Decimal(-2),
        "VAR_LOST",
    )
    with seeded.reading() as session:
        assert _item(session, "FG002-INV-001") == (Decimal(20), Decimal(15))
        (row,) = _rows(session, physical_inventory_id="PI_A")
        assert (row.inventory_item_id, row.reason_enum_id, row.change_by_user_login_id) == (
            "FG002-INV-001",
            "VAR_LOST",
            "jdoe",
        )
        assert (row.quantity_on_hand_diff, row.available_to_promise_diff) == (Decimal(-2), Decimal(-2))
        assert row.inventory_item_detail_seq_id == variance.inventory_item_detail_seq_id
        stored = session.get(InventoryItemVariance, (F, "FG002-INV-001", "PI_A"))
        assert stored is not None
        assert (stored.quantity_counted, stored.quantity_on_hand_var, stored.available_to_promise_var) == (
            Decimal(20),
            Decimal(-2),
            Decimal(-2),
        )
        event = _events(session)[-1]
        assert (event["physicalInventoryId"], event["inventoryItemId"], event["quantityOnHandTotal"]) == (
            "PI_A",
            "FG002-INV-001",
            20,
        )
        assert event["availableToPromiseTotal"] == 15


def test_a_count_by_product_compares_all_its_items_and_writes_to_the_facility_item(seeded: Database) -> None:
    with seeded.transaction() as session:
        _reserve(session, "FG001-INV-002", "O2", 4, "FG001")  # FG001: QOH 13 + 18 = 31, ATP 27
        result = record_count(
            session,
            _count(
                "PI_B",
                {"productId": "FG001", "quantityCounted": 35, "comments": "back room"},
                {"productId": "FG003", "quantityCounted": 62},  # as the books say
                {"inventoryItemId": "FG002-INV-002", "quantityCounted": 9, "varianceReasonId": "VAR_DAMAGED"},
            ),
        )
    assert [
        (v.inventory_item_id, v.quantity_on_hand_var, v.available_to_promise_var, v.variance_reason_id)
        for v in result.variances
    ] == [
        ("FG001-INV-001", Decimal(4), Decimal(4), "VAR_FOUND"),
        ("FG003-INV-001", Decimal(0), Decimal(0), None),
        ("FG002-INV-002", Decimal(0), Decimal(0), "VAR_DAMAGED"),
    ]
    with seeded.reading() as session:
        assert _totals(session, "FG001") == (Decimal(35), Decimal(31), Decimal(4))
        assert _item(session, "FG001-INV-001") == (Decimal(17), Decimal(17))
        (row,) = _rows(session, physical_inventory_id="PI_B")  # nothing moved on the other two lines
        assert (row.inventory_item_id, row.description) == ("FG001-INV-001", "back room")
        assert (
            session.scalar(select(func.count()).where(InventoryItemVariance.physical_inventory_id == "PI_B"))
            == 3
        )


def test_a_count_sent_again_changes_nothing_and_other_counts_under_its_id_conflict(seeded: Database) -> None:
    doc = _count("PI_C", {"productId": "FG001", "quantityCounted": 30})
    with seeded.transaction() as session:
        first = record_count(session, doc)
    with seeded.reading() as session:
        before = _state(session)
    with seeded.transaction() as session:
        again = record_count(session, doc)
    assert again.already_recorded
    assert not first.already_recorded
    assert [v.quantity_on_hand_var for v in again.variances] == [Decimal(-1)]
    with pytest.raises(Conflict), seeded.transaction() as session:
        record_count(session, _count("PI_C", {"productId": "FG001", "quantityCounted": 29}))
    with seeded.reading() as session:
        assert _state(session) == before
        assert _totals(session, "FG001")[0] == Decimal(30)


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ({"productId": "FG001", "quantityCounted": 1, "varianceReasonId": "VAR_NOPE"}, ValidationFailed),
        ({"inventoryItemId": "NOPE", "quantityCounted": 1}, NotFound),
        ({"productId": "NOPE", "quantityCounted": 1}, NotFound),
        ({"inventoryItemId": "FG001-INV-002", "quantityCounted": 1}, ValidationFailed),  # FG001 counted whole
    ],
)
def test_a_bad_count_line_refuses_the_whole_count(
    seeded: Database, line: dict[str, Any], error: type[Exception]
) -> None:
    with seeded.reading() as session:
        before = _state(session)
    with pytest.raises(error), seeded.transaction() as session:
        record_count(session, _count("PI_BAD", {"productId": "FG001", "quantityCounted": 3}, line))
    with seeded.reading() as session:
        assert _state(session) == before


def test_a_negative_or_unusable_count_is_refused_by_the_schema() -> None:
    for counted in (-1, "NaN", "Infinity", "1.0000001"):
        with pytest.raises(ValueError, match=r"quantityCounted|quantity_counted"):
            _count("PI_X", {"productId": "FG001", "quantityCounted": counted})
    with pytest.raises(ValueError, match="exactly one"):
        _count("PI_X", {"productId": "FG001", "inventoryItemId": "I", "quantityCounted": 1})


def test_a_logged_variance_moves_qoh_and_atp_with_its_reason_and_user(seeded: Database) -> None:
    with seeded.transaction() as session:
        bind_user(session, "bob")  # who the session acts for wins over changeByUserLoginId in the body
        by_item = log_variance(
            session,
            VarianceIn.model_validate(
                {
                    "inventoryItemId": "FG003-INV-002",
                    "quantity": -3,
                    "varianceReasonId": "VAR_DAMAGED",
                    "comments": "forklift",
                }
            ),
        )
        by_product = log_variance(
            session,
            VarianceIn.model_validate(
                {
                    "facilityId": F,
                    "productId": "FG001",
                    "quantity": 2.5,
                    "varianceReasonId": "VAR_FOUND",
                    "changeByUserLoginId": "ann",
                }
            ),
        )
    assert (by_item.quantity_on_hand_total, by_item.change_by_user_login_id) == (Decimal(24), "bob")
    assert (by_product.inventory_item_id, by_product.available_to_promise_total) == (
        "FG001-INV-001",
        Decimal("15.5"),
    )
    with seeded.reading() as session:
        assert _item(session, "FG003-INV-002") == (Decimal(24), Decimal(24))
        row = _rows(session, inventory_item_id="FG003-INV-002")[-1]
        assert (row.reason_enum_id, row.change_by_user_login_id, row.description) == (
            "VAR_DAMAGED",
            "bob",
            "forklift",
        )
        assert (row.quantity_on_hand_diff, row.available_to_promise_diff) == (Decimal(-3), Decimal(-3))
        row = _rows(session, inventory_item_id="FG001-INV-001")[-1]
        assert (row.reason_enum_id, row.change_by_user_login_id) == ("VAR_FOUND", "bob")
        assert [(e["inventoryItemId"], e["quantityOnHandDiff"]) for e in _events(session)] == [
            ("FG003-INV-002", -3),
            ("FG001-INV-001", 2.5),
        ]


def test_a_variance_with_an_unknown_reason_or_item_changes_nothing(seeded: Database) -> None:
    with seeded.reading() as session:
        before = _state(session)
    bad = [
        (
            {"inventoryItemId": "FG003-INV-002", "quantity": -3, "varianceReasonId": "VAR_MADE_UP"},
            NotFound,
        ),
        ({"inventoryItemId": "NOPE", "quantity": 1, "varianceReasonId": "VAR_FOUND"}, NotFound),
        (
            {"facilityId": "NOWHERE", "productId": "FG001", "quantity": 1, "varianceReasonId": "VAR_FOUND"},
            NotFound,
        ),
    ]
    for body, error in bad:
        with pytest.raises(error), seeded.transaction() as session:
            log_variance(session, VarianceIn.model_validate(body))
    with seeded.reading() as session:
        assert _state(session) == before


def test_a_disputed_count_the_mornings_numbers_and_now(seeded: Database) -> None:
    """Availability as of the morning shows the morning's count and reservations; now shows the correction."""
    with seeded.transaction() as session:
        _reserve(session, "FG001-INV-001", "O-EARLY", 4, "FG001")
        _reserve(session, "FG001-INV-002", "O-SHIPS", 2, "FG001")
        record_count(session, _count("PI_MORNING", {"productId": "FG001", "quantityCounted": 30}))
    time.sleep(0.01)
    morning = utcnow()
    time.sleep(0.01)
    with seeded.transaction() as session:
        _end_reservation(session, "O-EARLY", "RES_CANCELLED")
        _end_reservation(session, "O-SHIPS", "RES_FULFILLED")  # QOH 30 → 28
        _reserve(session, "FG001-INV-001", "O-LATE", 3, "FG001")
        # the count is disputed: a recount finds 33 where the books now say 28
        record_count(session, _count("PI_RECOUNT", {"productId": "FG001", "quantityCounted": 33}))
    with seeded.reading() as session:
        assert _totals(session, "FG001", morning) == (Decimal(30), Decimal(24), Decimal(6))
        assert _totals(session, "FG001") == (Decimal(33), Decimal(30), Decimal(3))
        before_anything = datetime(2024, 7, 14)  # after the seed receipts, before PI_20240715
        assert _totals(session, "FG001", before_anything) == (Decimal(30), Decimal(30), Decimal(0))


def test_a_count_without_a_user_is_recorded_by_its_party_on_every_row(seeded: Database) -> None:
    with seeded.transaction() as session:  # a service called directly: no user bound
        record_count(session, _count("PI_WHO", {"productId": "FG001", "quantityCounted": 20}))
    with seeded.reading() as session:
        header = session.get(PhysicalInventory, (F, "PI_WHO"))
        assert header is not None
        variances = session.scalars(
            select(InventoryItemVariance).where(InventoryItemVariance.physical_inventory_id == "PI_WHO")
        ).all()
        rows = _rows(session, physical_inventory_id="PI_WHO")
        users = {header.change_by_user_login_id} | {v.change_by_user_login_id for v in variances}
        assert users | {r.change_by_user_login_id for r in rows} == {"jdoe"}
