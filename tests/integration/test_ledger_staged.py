"""Postings computed in the database go through the ledger's one door: `post` of a
StagedPostings (typed SELECTs), posted set-based (ledger/staged_pg.py, ledger/staged_sqlite.py),
guarded as any posting, on both databases."""

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import BigInteger, Select, Text, func, literal, select, union_all

from stockledger.core import sums
from stockledger.core.db import Database
from stockledger.core.errors import InsufficientStock, NegativeStock, NotFound, QuantityOverflow
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
    selects = [
        select(
            *(
                literal(value, Text if isinstance(value, str) else BigInteger).label(name)
                for name, value in zip(
                    names,
                    (o, F, i, to_micros(Decimal(q)), to_micros(Decimal(a)), to_micros(Decimal(q))),
                    strict=True,
                )
            )
        )
        for o, (i, q, a) in enumerate(rows)
    ]
    given = union_all(*selects).subquery("given")
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


def test_staged_postings_without_guards_may_take_atp_below_zero(seeded: Database) -> None:
    qoh, atp, details = state(seeded)
    with seeded.transaction() as session:
        posted = post(session, staged((ITEM, 1, -1), (ITEM, -2, int(-atp) - 5)))
        assert posted.count == 2
        rows = posted.rows  # what was posted, read in the same transaction
        read = session.execute(select(rows.c.ord, rows.c.qoh_total).order_by(rows.c.ord)).all()
        assert [total for _, total in read] == [int(qoh + 1) * 1_000_000, int(qoh - 1) * 1_000_000]
    assert state(seeded) == (qoh - 1, Decimal(-6), details + 2)


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


def test_a_staged_posting_of_no_item_or_of_untyped_rows_is_refused(seeded: Database) -> None:
    before = state(seeded)
    with pytest.raises(NotFound), seeded.transaction() as session:
        post(session, staged((ITEM, 1, 1), ("NO-SUCH-ITEM", 1, 1)))
    wrong = ("ord", "facility_id", "inventory_item_id", "qoh", "atp_diff", "acc_diff")
    with pytest.raises(TypeError), seeded.transaction() as session:
        post(session, staged((ITEM, 1, 1), names=wrong))
    assert state(seeded) == before


@pytest.mark.parametrize("rows_per_item", [0, 10**9])  # SQLite: a search per product / one scan
def test_staged_postings_that_a_product_could_not_add_up_are_refused(
    seeded: Database, backend: str, rows_per_item: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite adds up totals in 64 bits (core.sums): two items of one product, each taking
    5 * 10^12 more, would leave a product whose totals no read could add up: refused (422), nothing
    written, whether the guard searched the product or scanned the whole table first (whose rows
    do not add up either). PostgreSQL adds up as NUMERIC: posted."""
    monkeypatch.setattr(sums, "WHOLE_TABLE_ROWS_PER_ITEM", rows_per_item)
    with seeded.reading() as session:
        items = session.scalars(
            select(InventoryItem.inventory_item_id)
            .where(InventoryItem.facility_id == F, InventoryItem.product_id == "FG001")
            .order_by(InventoryItem.inventory_item_id)
        ).all()
    assert len(items) >= 2
    before = [state(seeded, item) for item in items[:2]]
    big = 5 * 10**12
    if backend == "sqlite":
        with pytest.raises(QuantityOverflow), seeded.transaction() as session:
            post(session, staged((items[0], big, big), (items[1], big, big)))
        assert [state(seeded, item) for item in items[:2]] == before
    else:
        with seeded.transaction() as session:
            assert post(session, staged((items[0], big, big), (items[1], big, big))).count == 2
        assert state(seeded, items[0])[0] == before[0][0] + big


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("rows_per_item", [0, 10**9])  # a search per product / one scan
def test_big_totals_of_two_products_that_each_add_up_are_posted(
    seeded: Database, backend: str, rows_per_item: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two products each taking 5 * 10^12 more: together their items' totals pass 64 bits (the
    scan of the whole table cannot settle it), each product's still add up: posted."""
    monkeypatch.setattr(sums, "WHOLE_TABLE_ROWS_PER_ITEM", rows_per_item)
    with seeded.reading() as session:
        items = [
            session.scalars(
                select(InventoryItem.inventory_item_id)
                .where(InventoryItem.facility_id == F, InventoryItem.product_id == product)
                .order_by(InventoryItem.inventory_item_id)
            ).first()
            for product in ("FG001", "FG002")
        ]
    assert all(items)
    before = [state(seeded, str(item)) for item in items]
    big = 5 * 10**12
    with seeded.transaction() as session:
        assert post(session, staged((str(items[0]), big, big), (str(items[1]), big, big))).count == 2
    assert [state(seeded, str(item))[0] for item in items] == [b[0] + big for b in before]


def test_staged_postings_each_on_its_own_item_are_numbered_on_its_totals(seeded: Database) -> None:
    """Each item posted once (SQLite numbers them as it reads them): an existing item's next
    detail row and totals, a new item's first, created with them."""
    qoh, atp, details = state(seeded)
    with seeded.reading() as session:
        item = session.get(InventoryItem, (F, ITEM))
        assert item is not None
        last_seq = item.last_detail_seq
    new = select(
        literal(F, Text).label("facility_id"),
        literal("NEW-ONCE", Text).label("inventory_item_id"),
        literal("FG001", Text).label("product_id"),
    )
    with seeded.transaction() as session:
        posted = post(session, replace(staged(("NEW-ONCE", 7, 7), (ITEM, 2, -1)), new_items=new))
        assert posted.count == 2
        rows = posted.rows
        read = session.execute(
            select(rows.c.inventory_item_id, rows.c.seq_id, rows.c.qoh_total, rows.c.atp_total).order_by(
                rows.c.ord
            )
        ).all()
    assert read == [
        ("NEW-ONCE", "00001", 7_000_000, 7_000_000),
        (ITEM, f"{last_seq + 1:05d}", int(qoh + 2) * 1_000_000, int(atp - 1) * 1_000_000),
    ]
    assert state(seeded) == (qoh + 2, atp - 1, details + 1)
    assert state(seeded, "NEW-ONCE") == (Decimal(7), Decimal(7), 1)


def test_staged_postings_on_a_new_item_and_twice_on_one_item_are_numbered_in_order(seeded: Database) -> None:
    """A new item is inserted with its postings' totals; two postings on one item are two detail
    rows, consecutive, in `ord` order, with the totals right after each."""
    qoh, _, details = state(seeded)
    new = select(
        literal(F, Text).label("facility_id"),
        literal("NEW-ITEM", Text).label("inventory_item_id"),
        literal("FG001", Text).label("product_id"),
    )
    with seeded.transaction() as session:
        postings = staged((ITEM, 2, 2), ("NEW-ITEM", 7, 7), (ITEM, -1, -1), ("NEW-ITEM", 1, 1))
        posted = post(session, replace(postings, new_items=new))
        assert posted.count == 4
        rows = posted.rows
        read = session.execute(
            select(rows.c.inventory_item_id, rows.c.seq_id, rows.c.qoh_total).order_by(rows.c.ord)
        ).all()
    assert [(item, total) for item, _, total in read] == [
        (ITEM, int(qoh + 2) * 1_000_000),
        ("NEW-ITEM", 7_000_000),
        (ITEM, int(qoh + 1) * 1_000_000),
        ("NEW-ITEM", 8_000_000),
    ]
    assert [seq for item, seq, _ in read if item == "NEW-ITEM"] == ["00001", "00002"]
    assert int(read[2][1]) == int(read[0][1]) + 1
    after = state(seeded)
    assert (after[0], after[2]) == (qoh + 1, details + 2)
    assert state(seeded, "NEW-ITEM") == (Decimal(8), Decimal(8), 2)
