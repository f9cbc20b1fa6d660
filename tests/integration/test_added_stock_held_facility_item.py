"""Stock added by productId over a facility item that cannot be promised (held, or an expired lot):
an increase, a receipt and a variance each posted onto that item, so the units never showed in
availability (found by reading, after the reset's fix). They take the reset's rule: the oldest
promisable item, else a new zero one, and the link is re-pointed to it. A variance that removes
stock by productId takes it from the same sellable item (SPEC §11 "Counts": by product means
sellable stock); with none there, the guard refuses it unless allowNegative."""

from decimal import Decimal
from typing import Any

import pytest

from stockledger.core.db import Database
from stockledger.core.errors import NegativeStock
from stockledger.ledger.models import InventoryItem, ProductFacility
from stockledger.ledger.views import availability
from stockledger.returns.increase import increase_inventory
from stockledger.returns.schemas import InventoryIncreaseIn
from stockledger.variances.schemas import VarianceIn
from stockledger.variances.service import log_variance
from tests.promisable_support import EXPIRED, FACILITY, add_item
from tests.stock_support import receive

pytestmark = pytest.mark.posts_without_events  # add_item posts the setup's stock directly

NOT_PROMISABLE: dict[str, dict[str, Any]] = {
    "held": {"status_id": "INV_ON_HOLD"},
    "expired": {"expire_date": EXPIRED},
}


def _totals(db: Database, product_id: str) -> tuple[Decimal, Decimal]:
    with db.reading() as session:
        a = availability(session, FACILITY, product_id)
        return a.quantity_on_hand_total, a.available_to_promise_total


def _facility_item(db: Database, product_id: str) -> tuple[str, str, Decimal, Decimal]:
    """The linked item: its id, status, QOH and ATP."""
    with db.reading() as session:
        link = session.get(ProductFacility, (FACILITY, product_id))
        assert link is not None
        item = session.get(InventoryItem, (FACILITY, link.inventory_item_id))
        assert item is not None
        return (
            item.inventory_item_id,
            item.status_id,
            item.quantity_on_hand_total,
            item.available_to_promise_total,
        )


def _increase(db: Database, quantity: int) -> str:
    body = {"facilityId": FACILITY, "productId": "HOLD1", "quantity": quantity}
    with db.transaction() as session:
        item, _ = increase_inventory(session, InventoryIncreaseIn.model_validate(body))
        return item.inventory_item_id


def _variance(db: Database, quantity: int, **extra: Any) -> str:
    body: dict[str, Any] = {"facilityId": FACILITY, "productId": "HOLD1", "quantity": quantity}
    body["varianceReasonId"] = "VAR_LOST"
    with db.transaction() as session:
        return log_variance(session, VarianceIn.model_validate(body | extra)).inventory_item_id


def _unpromisable_fg001(db: Database, kind: str) -> None:
    """FG001's facility item (FG001-INV-001, 13 on hand) held or an expired lot; FG001-INV-002 (18) stays."""
    with db.transaction() as session:
        item = session.get(InventoryItem, (FACILITY, "FG001-INV-001"))
        assert item is not None
        for name, value in NOT_PROMISABLE[kind].items():
            setattr(item, name, value)


@pytest.mark.parametrize("kind", sorted(NOT_PROMISABLE))
def test_an_increase_by_product_over_an_unpromisable_facility_item_shows(seeded: Database, kind: str) -> None:
    add_item(seeded, "HOLD1", "HOLD1-A", 10, **NOT_PROMISABLE[kind])  # the first item: the facility item
    assert _totals(seeded, "HOLD1") == (10, 0)
    first = _increase(seeded, 4)
    assert _increase(seeded, 1) == first  # the re-pointed link is found again
    assert first != "HOLD1-A"
    assert _totals(seeded, "HOLD1") == (15, 5)
    assert _facility_item(seeded, "HOLD1") == (first, "INV_AVAILABLE", 5, 5)


def test_an_increase_by_product_goes_to_the_oldest_promisable_item(seeded: Database) -> None:
    add_item(seeded, "HOLD1", "HOLD1-A", 10, status_id="INV_ON_HOLD")
    add_item(seeded, "HOLD1", "HOLD1-B", 3)
    add_item(seeded, "HOLD1", "HOLD1-C", 4)
    assert _increase(seeded, 2) == "HOLD1-B"
    assert _facility_item(seeded, "HOLD1") == ("HOLD1-B", "INV_AVAILABLE", 5, 5)


@pytest.mark.parametrize("kind", sorted(NOT_PROMISABLE))
def test_a_receipt_over_an_unpromisable_facility_item_shows(seeded: Database, kind: str) -> None:
    _unpromisable_fg001(seeded, kind)
    line = {"shipmentItemSeqId": "1", "productId": "FG001", "quantityAccepted": 5}
    assert receive(seeded, "PO-A", line) == ["FG001-INV-002"]  # the oldest promisable item
    assert _totals(seeded, "FG001") == (36, 23)  # 13 not promisable stay on hand
    assert _facility_item(seeded, "FG001") == ("FG001-INV-002", "INV_AVAILABLE", 23, 23)


@pytest.mark.parametrize("kind", sorted(NOT_PROMISABLE))
def test_a_variance_by_product_over_an_unpromisable_facility_item_counts_sellable_stock(
    seeded: Database, kind: str
) -> None:
    add_item(seeded, "HOLD1", "HOLD1-A", 10, **NOT_PROMISABLE[kind])
    found = _variance(seeded, 3)
    assert found != "HOLD1-A"
    assert _totals(seeded, "HOLD1") == (13, 3)
    assert _variance(seeded, -2) == found  # a removal by product: from the sellable stock
    assert _facility_item(seeded, "HOLD1") == (found, "INV_AVAILABLE", 1, 1)
    with pytest.raises(NegativeStock):  # 10 held units on hand do not cover lost sellable ones
        _variance(seeded, -2)
    assert _variance(seeded, -2, allowNegative=True) == found
    assert _totals(seeded, "HOLD1") == (9, -1)
    with seeded.reading() as session:
        held = session.get(InventoryItem, (FACILITY, "HOLD1-A"))
        assert held is not None
        assert (held.quantity_on_hand_total, held.available_to_promise_total) == (10, 10)  # untouched
