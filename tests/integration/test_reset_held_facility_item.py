"""An ERP reset whose facility item is not promisable (held, or an expired lot): found by an
outside tester. Each run posted its diff onto that item, so the ATP sent never showed (ATP 0
while QOH went 10 → 15 → 20). The diff goes to a promisable item (the oldest one, else a new
one) and the link is re-pointed to it: availability then shows the value sent, a second run
changes nothing. Both reset paths: the set-based one and the line batches (Citus's)."""

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from stockledger.core.db import Database
from stockledger.ledger.models import InventoryItem, ProductFacility
from stockledger.ledger.views import availability
from stockledger.resets import set_based
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory
from tests.promisable_support import EXPIRED, FACILITY, add_item

pytestmark = pytest.mark.posts_without_events  # add_item posts the setup's stock directly

NOT_PROMISABLE = {
    "held": {"status_id": "INV_ON_HOLD"},
    "expired": {"expire_date": EXPIRED},
}


@pytest.fixture(params=["set_based", "batches"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "batches":  # the line batches, as on Citus
        monkeypatch.setattr(set_based, "applies", lambda session: False)
    return str(request.param)


def _reset(db: Database, qoh: int | None = None, atp: int | None = None) -> int:
    """One line for HOLD1; the lines it changed."""
    with db.transaction() as session:
        return reset_inventory(session, [RawLine(1, FACILITY, "HOLD1", qoh, atp)]).lines_changed


def _totals(db: Database) -> tuple[Decimal, Decimal]:
    with db.reading() as session:
        a = availability(session, FACILITY, "HOLD1")
        return a.quantity_on_hand_total, a.available_to_promise_total


def _item(session: Session, item_id: str | None) -> InventoryItem:
    item = session.get(InventoryItem, (FACILITY, item_id))
    assert item is not None
    return item


def _facility_item(db: Database) -> tuple[str, str, Decimal, Decimal]:
    """The linked item: its id, status, QOH and ATP."""
    with db.reading() as session:
        link = session.get(ProductFacility, (FACILITY, "HOLD1"))
        assert link is not None
        item = _item(session, link.inventory_item_id)
        return (
            item.inventory_item_id,
            item.status_id,
            item.quantity_on_hand_total,
            item.available_to_promise_total,
        )


@pytest.mark.parametrize("kind", sorted(NOT_PROMISABLE))
def test_an_atp_reset_over_a_facility_item_not_promisable_sets_the_atp_once(
    seeded: Database, path: str, kind: str
) -> None:
    add_item(seeded, "HOLD1", "HOLD1-A", 10, **NOT_PROMISABLE[kind])  # the first item: the facility item
    assert _totals(seeded) == (10, 0)
    assert [_reset(seeded, atp=5) for _ in range(3)] == [1, 0, 0]
    assert _totals(seeded) == (15, 5)
    item_id, status, qoh, atp = _facility_item(seeded)
    assert item_id != "HOLD1-A"
    assert (status, qoh, atp) == ("INV_AVAILABLE", 5, 5)
    with seeded.reading() as session:
        held = _item(session, "HOLD1-A")
        assert (held.quantity_on_hand_total, held.available_to_promise_total) == (10, 10)  # untouched


@pytest.mark.parametrize("kind", sorted(NOT_PROMISABLE))
def test_a_qoh_reset_over_a_facility_item_not_promisable_posts_to_a_promisable_one(
    seeded: Database, path: str, kind: str
) -> None:
    add_item(seeded, "HOLD1", "HOLD1-A", 10, **NOT_PROMISABLE[kind])
    assert [_reset(seeded, qoh=12) for _ in range(2)] == [1, 0]
    assert _totals(seeded) == (12, 2)  # QOH over all items; the held 10 stays on hand
    first, status, qoh, atp = _facility_item(seeded)
    assert (first != "HOLD1-A", status, qoh, atp) == (True, "INV_AVAILABLE", 2, 2)
    assert [_reset(seeded, atp=5), _reset(seeded, atp=5)] == [1, 0]
    assert _totals(seeded) == (15, 5)
    assert _facility_item(seeded) == (first, "INV_AVAILABLE", 5, 5)  # the same item, no other made


def test_a_held_facility_item_gives_way_to_the_oldest_promisable_item(seeded: Database, path: str) -> None:
    add_item(seeded, "HOLD1", "HOLD1-A", 10, status_id="INV_ON_HOLD")
    add_item(seeded, "HOLD1", "HOLD1-B", 3)
    add_item(seeded, "HOLD1", "HOLD1-C", 4)
    assert [_reset(seeded, atp=5), _reset(seeded, atp=5)] == [1, 0]
    assert _totals(seeded) == (15, 5)  # 17 on hand, 7 promisable: −2 to HOLD1-B
    assert _facility_item(seeded) == ("HOLD1-B", "INV_AVAILABLE", 1, 1)


def test_a_qoh_reset_below_the_held_stock_takes_the_promisable_item_below_zero(
    seeded: Database, path: str
) -> None:
    """The held units stay on hand (a reset does not release or consume them): QOH 4 sent over 10
    held leaves the promisable item at −6, as the run reports (QOH − ATP stays what it was)."""
    add_item(seeded, "HOLD1", "HOLD1-A", 10, status_id="INV_ON_HOLD")
    assert [_reset(seeded, qoh=4), _reset(seeded, qoh=4)] == [1, 0]
    assert _totals(seeded) == (4, -6)
    assert _facility_item(seeded)[1:] == ("INV_AVAILABLE", -6, -6)
