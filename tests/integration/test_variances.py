"""The negative-stock guard of logged variances on both databases: refused unless allowed, race-free."""

import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from stockledger.core.db import Database
from stockledger.core.errors import NegativeStock
from stockledger.ledger.post import Posting, post
from stockledger.variances.schemas import VarianceIn, VarianceOut
from stockledger.variances.service import log_variance
from tests.promisable_support import FACILITY, add_item
from tests.shipping_support import events, snapshot, totals

D = Decimal
ITEM = "FG003-INV-002"  # QOH 27 in the seed


def _variance(db: Database, quantity: int, **extra: Any) -> VarianceOut:
    body = {"inventoryItemId": ITEM, "quantity": quantity, "varianceReasonId": "VAR_LOST", **extra}
    with db.transaction() as session:
        return log_variance(session, VarianceIn.model_validate(body))


def test_a_variance_below_zero_is_refused_and_changes_nothing(seeded: Database) -> None:
    before = snapshot(seeded)
    with pytest.raises(NegativeStock, match="would take it below zero") as refused:
        _variance(seeded, -500)
    assert (refused.value.status, refused.value.code) == (409, "negative_stock")
    assert refused.value.extra == {
        "inventoryItemId": ITEM,
        "quantityOnHandTotal": 27,
        "quantityOnHandDiff": -500,
        "retryWith": "allowNegative",
    }
    with pytest.raises(NegativeStock):
        _variance(seeded, -28, allowNegative=False)
    assert snapshot(seeded) == before


def test_allow_negative_logs_it_and_down_to_zero_needs_nothing(seeded: Database) -> None:
    assert _variance(seeded, -27).quantity_on_hand_total == 0
    out = _variance(seeded, -500, allowNegative=True)
    assert (out.quantity_on_hand_total, out.available_to_promise_total) == (-500, -500)
    assert totals(seeded, ITEM) == (-500, -500)
    assert events(seeded, "InventoryChanged")[-1]["quantityOnHandDiff"] == -500
    assert _variance(seeded, 3).quantity_on_hand_total == -497  # raising QOH is never refused


def test_the_guard_sees_a_concurrent_variance_that_committed_first(seeded: Database) -> None:
    """The second variance waits for the first's row lock and then re-checks QOH in its UPDATE:
    a check read before that lock would have seen 27 and let QOH go to −13."""
    outcome: list[object] = []
    first_committed = threading.Event()

    def second() -> None:
        try:
            outcome.append(_variance(seeded, -20))
        except NegativeStock as refused:
            outcome.append(refused)
        outcome.append(first_committed.is_set())

    with seeded.transaction() as session:
        body = {"inventoryItemId": ITEM, "quantity": -20, "varianceReasonId": "VAR_LOST"}
        log_variance(session, VarianceIn.model_validate(body))
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)  # the second is now waiting for the row (PostgreSQL) or the write lock (SQLite)
        assert outcome == []
        first_committed.set()
    thread.join(timeout=30)
    assert isinstance(outcome[0], NegativeStock)
    assert outcome[1] is True  # it finished only after the first committed
    assert totals(seeded, ITEM) == (7, 7)


def test_post_batch_keeps_the_qoh_guard_of_post(seeded: Database) -> None:
    def take(n: int) -> Posting:
        return Posting("FACILITY_1", ITEM, "VAR_LOST", quantity_on_hand_diff=D(-n), require_qoh=True)

    with pytest.raises(NegativeStock), seeded.transaction() as session:
        post(session, [take(20), take(20)])  # the second sees the first's running total
    assert totals(seeded, ITEM) == (27, 27)


def test_two_removals_by_product_at_once_both_come_from_the_sellable_stock(seeded: Database) -> None:
    """Two removals of 4 by productId at once from A (5) and B (5): both go through (10 cover 8),
    the second reading the levels the first left (it waits for the items' locks), 2 left. An
    outside tester: on PostgreSQL the second read the same free units, posted its 4 to A's last 1
    and was refused."""
    add_item(seeded, "RACE1", "RACE1-A", 5, received=datetime(2024, 1, 1, tzinfo=UTC))
    add_item(seeded, "RACE1", "RACE1-B", 5, received=datetime(2024, 2, 1, tzinfo=UTC))
    body = {"facilityId": FACILITY, "productId": "RACE1", "quantity": -4, "varianceReasonId": "VAR_LOST"}
    outcome: list[object] = []

    def second() -> None:
        try:
            with seeded.transaction() as session:
                outcome.append(log_variance(session, VarianceIn.model_validate(body)))
        except NegativeStock as refused:
            outcome.append(refused)

    with seeded.transaction() as session:
        log_variance(session, VarianceIn.model_validate(body))
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)  # the second is now waiting for the items (PostgreSQL) or the write lock (SQLite)
        assert outcome == []
    thread.join(timeout=30)
    assert isinstance(outcome[0], VarianceOut), outcome
    assert totals(seeded, "RACE1-A") == (0, 0)
    assert totals(seeded, "RACE1-B") == (2, 2)
