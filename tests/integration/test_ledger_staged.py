"""Postings computed in the database go through the ledger's one door: `post` of a
StagedPostings (typed SELECTs), posted set-based on PostgreSQL, guarded as any posting."""

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import BigInteger, Select, Text, column, func, select, values

from stockledger.core.db import Database
from stockledger.core.errors import InsufficientStock, NegativeStock, NotFound
from stockledger.core.fixed import to_micros
from stockledger.ledger.models import InventoryItem, InventoryItemDetail
from stockledger.ledger.post import Links, StagedPostings, post

pytestmark = pytest.mark.posts_without_events  # the write path alone: no business event

F = "FACILITY_1"
ITEM = "FG001-INV-001"
WHEN = datetime(2026, 1, 2, 3, 4, 5)
COLUMNS = ("ord", "facility_id", "inventory_item_id", "qoh_diff", "atp_diff", "acc_diff")


def staged(*rows: tuple[str, int, int], names: tuple[str, ...] = COLUMNS) -> StagedPostings:
    """(item, QOH diff, ATP diff) in units, in order: a typed SELECT of postings in micro-units."""
    given = values(
        *(column(n, Text if n in ("facility_id", "inventory_item_id") else BigInteger) for n in names),
        name="given",
    ).data(
        [
            (o, F, i, to_micros(Decimal(q)), to_micros(Decimal(a)), to_micros(Decimal(q)))
            for o, (i, q, a) in enumerate(rows)
        ]
    )
    rows_select: Select[Any] = select(*given.c)
    return StagedPostings(rows_select, None, "VAR_EXT_RESET", Links(description="staged"), WHEN)


def state(db: Database, item: str = ITEM) -> tuple[Decimal, Decimal, int]:
    """The item's QOH, ATP and number of detail rows."""
    with db.reading() as session:
        found = session.get(InventoryItem, (F, item))
        assert found is not None
        d = InventoryItemDetail
        count = session.scalar(select(func.count()).where(d.facility_id == F, d.inventory_item_id == item))
        return found.quantity_on_hand_total, found.available_to_promise_total, int(count or 0)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_staged_postings_without_guards_may_take_atp_below_zero(seeded: Database) -> None:
    qoh, atp, details = state(seeded)
    with seeded.transaction() as session:
        posted = post(session, staged((ITEM, 1, -1), (ITEM, -2, int(-atp) - 5)))
        assert posted.count == 2
        rows = posted.rows  # what was posted, read in the same transaction
        read = session.execute(select(rows.c.ord, rows.c.qoh_total).order_by(rows.c.ord)).all()
        assert [total for _, total in read] == [int(qoh + 1) * 1_000_000, int(qoh - 1) * 1_000_000]
    assert state(seeded) == (qoh - 1, Decimal(-6), details + 2)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.parametrize(
    ("guard", "refusal"), [("require_atp", InsufficientStock), ("require_qoh", NegativeStock)]
)
def test_guarded_staged_postings_are_refused_on_the_running_total(
    seeded: Database, guard: str, refusal: type[Exception]
) -> None:
    qoh, atp, details = state(seeded)
    take = int(atp if guard == "require_atp" else qoh)
    rows = [
        (ITEM, 5, 5),
        (ITEM, -(take + 5), -(take + 5)),
        (ITEM, -1, -1),
    ]  # the second leaves 0, the third -1
    with pytest.raises(refusal) as refused, seeded.transaction() as session:
        post(session, replace(staged(*rows), **{guard: True}))
    assert refused.value.extra["inventoryItemId"] == ITEM  # type: ignore[attr-defined]
    assert state(seeded) == (qoh, atp, details)
    with seeded.transaction() as session:  # what the running total covers passes
        assert post(session, replace(staged(*rows[:2]), **{guard: True})).count == 2
    assert state(seeded) == (qoh - take, atp - take, details + 2)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_staged_posting_of_no_item_or_of_untyped_rows_is_refused(seeded: Database) -> None:
    before = state(seeded)
    with pytest.raises(NotFound), seeded.transaction() as session:
        post(session, staged((ITEM, 1, 1), ("NO-SUCH-ITEM", 1, 1)))
    wrong = ("ord", "facility_id", "inventory_item_id", "qoh", "atp_diff", "acc_diff")
    with pytest.raises(TypeError), seeded.transaction() as session:
        post(session, staged((ITEM, 1, 1), names=wrong))
    assert state(seeded) == before


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_staged_postings_need_a_database_that_stages_set_based(seeded: Database) -> None:
    with pytest.raises(RuntimeError), seeded.transaction() as session:
        post(session, staged((ITEM, 1, 1)))
