"""ERP resets: diff = given − current to both QOH and ATP, per-line failures, audit and events."""

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockledger.catalog.importer import import_document
from stockledger.core.db import Database
from stockledger.events.models import OutboxEvent
from stockledger.ledger.models import (
    ExternalInventoryReset,
    Facility,
    InventoryItem,
    InventoryItemDetail,
    ProductFacility,
)
from stockledger.ledger.views import availability
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory
from stockledger.resets.sources import csv_lines

F = "FACILITY_1"


def _raw(*lines: tuple[Any, ...]) -> list[RawLine]:
    return [RawLine(n, *line) for n, line in enumerate(lines, start=1)]


def _totals(session: Session, product: str) -> tuple[Decimal, Decimal]:
    a = availability(session, F, product)
    return a.quantity_on_hand_total, a.available_to_promise_total


def _item(session: Session, item_id: str) -> tuple[Decimal, Decimal]:
    item = session.get(InventoryItem, (F, item_id))
    assert item is not None
    return item.quantity_on_hand_total, item.available_to_promise_total


def _reset_rows(session: Session, reset_id: str) -> list[InventoryItemDetail]:
    d = InventoryItemDetail
    return list(
        session.scalars(select(d).where(d.inventory_reset_id == reset_id).order_by(d.inventory_item_id))
    )


def _events(session: Session, event_type: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(OutboxEvent).where(OutboxEvent.event_type == event_type).order_by(OutboxEvent.event_seq)
    )
    return [json.loads(r.payload) | {"_facility": r.facility_id} for r in rows]


def _detail_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(InventoryItemDetail)) or 0


def test_a_reset_moves_qoh_and_atp_of_the_facility_item_by_given_minus_current(seeded: Database) -> None:
    with seeded.transaction() as session:
        # FG001: 13 + 18 = 31 over two items; FG002: ATP 22 + 9 = 31; FG003: 35 + 27 = 62
        outcome = reset_inventory(
            session,
            _raw((F, "FG001", "40", None), (F, "FG002", None, Decimal(25)), (F, "FG003", 62, None)),
            source="ERP nightly",
        )
    assert (outcome.lines_total, outcome.lines_changed, outcome.lines_unchanged, outcome.lines_failed) == (
        3,
        2,
        1,
        0,
    )
    with seeded.reading() as session:
        assert _totals(session, "FG001") == (Decimal(40), Decimal(40))
        assert _item(session, "FG001-INV-001") == (Decimal(22), Decimal(22))  # the facility item took +9
        assert _item(session, "FG001-INV-002") == (Decimal(18), Decimal(18))
        assert _totals(session, "FG002") == (Decimal(25), Decimal(25))
        assert _item(session, "FG002-INV-001") == (Decimal(16), Decimal(16))  # −6 to both
        assert _totals(session, "FG003") == (Decimal(62), Decimal(62))
        rows = _reset_rows(session, outcome.inventory_reset_id)
        assert [
            (r.inventory_item_id, r.quantity_on_hand_diff, r.available_to_promise_diff) for r in rows
        ] == [
            ("FG001-INV-001", Decimal(9), Decimal(9)),
            ("FG002-INV-001", Decimal(-6), Decimal(-6)),
        ]
        assert {r.reason_enum_id for r in rows} == {"VAR_EXT_RESET"}
        assert [r.inventory_item_detail_seq_id for r in rows] == ["00003", "00002"]
        audit = session.get(ExternalInventoryReset, outcome.inventory_reset_id)
        assert audit is not None
        assert (audit.facility_id, audit.source, audit.lines_total, audit.lines_changed) == (
            F,
            "ERP nightly",
            3,
            2,
        )
        assert (audit.lines_unchanged, audit.lines_failed) == (1, 0)
        changed = _events(session, "InventoryChanged")
        assert len(changed) == 1
        assert changed[0]["_facility"] == F
        assert changed[0]["inventoryResetId"] == outcome.inventory_reset_id
        assert [
            (c["productId"], c["inventoryItemId"], c["quantityOnHandDiff"]) for c in changed[0]["changes"]
        ] == [
            ("FG001", "FG001-INV-001", 9),
            ("FG002", "FG002-INV-001", -6),
        ]
        (reset_event,) = _events(session, "InventoryReset")
        assert reset_event == {
            "_facility": F,
            "inventoryResetId": outcome.inventory_reset_id,
            "facilityId": F,
            "facilityIds": [F],
            "source": "ERP nightly",
            "linesTotal": 3,
            "linesChanged": 2,
            "linesUnchanged": 1,
            "linesFailed": 0,
        }


def test_re_sending_the_same_reset_writes_no_ledger_row(seeded: Database) -> None:
    lines = _raw((F, "FG001", "40", None), (F, "FG002", None, "25"))
    with seeded.transaction() as session:
        first = reset_inventory(session, lines)
    with seeded.reading() as session:
        rows_before, totals_before = _detail_count(session), _totals(session, "FG001")
    with seeded.transaction() as session:
        again = reset_inventory(session, lines)
    assert (again.lines_changed, again.lines_unchanged) == (0, 2)
    with seeded.reading() as session:
        assert _detail_count(session) == rows_before
        assert _totals(session, "FG001") == totals_before
        assert _reset_rows(session, again.inventory_reset_id) == []
        assert len(_events(session, "InventoryChanged")) == 1  # the first run's only
        audits = session.scalars(
            select(ExternalInventoryReset.lines_changed).order_by(ExternalInventoryReset.created_stamp)
        )
        assert list(audits) == [2, 0]
    assert first.inventory_reset_id != again.inventory_reset_id


def test_bad_lines_are_reported_one_by_one_and_the_others_applied(seeded: Database) -> None:
    lines = _raw(
        (F, "FG001", "40", "40"),  # both
        (F, "FG001", None, ""),  # neither
        (F, "FG001", "-1", None),
        (F, "FG001", Decimal("NaN"), None),
        (F, "FG001", None, "Infinity"),
        (F, "FG001", "abc", None),
        (F, "FG001", "0.0000001", None),
        (F, "NO_SUCH_PRODUCT", "1", None),
        ("NO_SUCH_FACILITY", "FG001", "1", None),
        (None, "FG001", "1", None),
        (F, "FG003", "70", None),  # the one good line
    )
    with seeded.transaction() as session:
        outcome = reset_inventory(session, lines)
    assert [(f.line, f.code) for f in outcome.failures] == [
        (1, "both_quantities"),
        (2, "no_quantity"),
        (3, "negative_quantity"),
        (4, "invalid_quantity"),
        (5, "invalid_quantity"),
        (6, "invalid_quantity"),
        (7, "invalid_quantity"),
        (8, "unknown_product"),
        (9, "unknown_facility"),
        (10, "invalid_line"),
    ]
    assert outcome.failures[7].message == "Product NO_SUCH_PRODUCT not found"
    assert (outcome.lines_total, outcome.lines_changed, outcome.lines_failed) == (11, 1, 10)
    with seeded.reading() as session:
        assert _totals(session, "FG001") == (Decimal(31), Decimal(31))  # unchanged
        assert _totals(session, "FG003") == (Decimal(70), Decimal(70))
        assert len(_reset_rows(session, outcome.inventory_reset_id)) == 1
        audit = session.get(ExternalInventoryReset, outcome.inventory_reset_id)
        assert audit is not None
        assert (audit.lines_total, audit.lines_changed, audit.lines_failed) == (11, 1, 10)


def test_a_product_without_an_item_gets_its_facility_item_created(seeded: Database) -> None:
    with seeded.transaction() as session:
        import_document(session, {"productId": "NEW1", "productName": "New product"})
        outcome = reset_inventory(session, _raw((F, "NEW1", "7.5", None), (F, "NEW1", None, "0")))
    assert (outcome.lines_changed, outcome.lines_unchanged) == (2, 0)  # +7.5, then ATP 7.5 → 0
    with seeded.reading() as session:
        link = session.get(ProductFacility, (F, "NEW1"))
        assert link is not None
        assert link.inventory_item_id is not None
        assert _item(session, link.inventory_item_id) == (Decimal(0), Decimal(0))
        rows = _reset_rows(session, outcome.inventory_reset_id)
        assert [(r.quantity_on_hand_diff, r.seq_num) for r in rows] == [
            (Decimal("7.5"), 1),
            (Decimal("-7.5"), 2),
        ]


def test_a_product_named_again_in_a_later_batch_sees_the_first_line(seeded: Database) -> None:
    lines = _raw(*[(F, "FG003", str(60 + n), None) for n in range(5)], (F, "FG003", "64", None))
    with seeded.transaction() as session:
        outcome = reset_inventory(session, lines, batch_size=2)
    assert (outcome.lines_changed, outcome.lines_unchanged) == (5, 1)
    with seeded.reading() as session:
        assert _totals(session, "FG003") == (Decimal(64), Decimal(64))
        assert len(_events(session, "InventoryChanged")) == 3  # one per batch that changed something


def test_a_reset_spanning_facilities_keys_its_run_event_on_all(seeded: Database) -> None:
    with seeded.transaction() as session:
        import_document(session, {"facilityId": "FACILITY_2", "products": [{"productId": "FG001"}]})
        outcome = reset_inventory(session, _raw((F, "FG001", "31", None), ("FACILITY_2", "FG001", "4", None)))
    with seeded.reading() as session:
        assert _totals(session, "FG001") == (Decimal(31), Decimal(31))
        assert availability(session, "FACILITY_2", "FG001").quantity_on_hand_total == Decimal(4)
        (event,) = _events(session, "InventoryReset")
        assert (event["_facility"], event["facilityId"], event["facilityIds"]) == (
            "_ALL",
            None,
            [F, "FACILITY_2"],
        )
        audit = session.get(ExternalInventoryReset, outcome.inventory_reset_id)
        assert audit is not None
        assert audit.facility_id is None


def test_csv_lines_carry_their_line_numbers(seeded: Database) -> None:
    text = (
        "facilityId,productId,quantityOnHand,availableToPromise\n"
        "FACILITY_1,FG001,35,\n\nFACILITY_1,FG002,1,2\n"
    )
    lines = list(csv_lines(text.splitlines()))
    assert [(r.line, r.product_id, r.quantity_on_hand, r.available_to_promise) for r in lines] == [
        (2, "FG001", "35", ""),
        (4, "FG002", "1", "2"),
    ]
    with seeded.transaction() as session:
        outcome = reset_inventory(session, lines)
    assert [(f.line, f.code) for f in outcome.failures] == [(4, "both_quantities")]


def test_an_unlinked_product_takes_its_oldest_item_as_the_facility_item(seeded: Database) -> None:
    with seeded.transaction() as session:
        import_document(session, {"facilityId": F, "products": [{"productId": "LOTS"}]})  # link without item
        for item_id, year in (("LOTS-B", 2025), ("LOTS-A", 2024)):
            session.add(
                InventoryItem(
                    facility_id=F,
                    inventory_item_id=item_id,
                    product_id="LOTS",
                    created_stamp=datetime(year, 1, 1),
                )
            )
        session.flush()
        reset_inventory(session, _raw((F, "LOTS", "5", None)))
    with seeded.reading() as session:
        link = session.get(ProductFacility, (F, "LOTS"))
        assert link is not None
        assert link.inventory_item_id == "LOTS-A"
        assert _item(session, "LOTS-A") == (Decimal(5), Decimal(5))


def test_a_reset_sees_what_its_own_session_added_before_it(seeded: Database) -> None:
    """The reset reads through Core statements (no autoflush): what the session holds is flushed first."""
    with seeded.transaction() as session:
        session.add(Facility(facility_id="FACILITY_9", facility_name="Opened today"))
        outcome = reset_inventory(session, _raw(("FACILITY_9", "FG001", "5", None)))
    assert (outcome.lines_changed, outcome.lines_failed) == (1, 0)
    with seeded.reading() as session:
        found = availability(session, "FACILITY_9", "FG001")
        assert (found.quantity_on_hand_total, found.available_to_promise_total) == (Decimal(5), Decimal(5))
