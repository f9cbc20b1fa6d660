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


def new_items(*ids: str) -> Select[Any]:
    """A typed SELECT of new items of product FG001 in facility F."""
    rows = [
        select(
            literal(F, Text).label("facility_id"),
            literal(item, Text).label("inventory_item_id"),
            literal("FG001", Text).label("product_id"),
        )
        for item in ids
    ]
    given = union_all(*rows).subquery("new")
    return select(*given.c)


def test_items_posted_once_and_several_times_old_and_new_each_get_their_totals(seeded: Database) -> None:
    """Each kind an item can be in one post: existing or new, one posting or several (ledger/
    staged_pg.py takes a posting alone on its item from the UPDATE's or the INSERT's row and
    numbers the others by a window)."""
    with seeded.reading() as session:
        other = session.scalars(
            select(InventoryItem.inventory_item_id).where(
                InventoryItem.facility_id == F, InventoryItem.inventory_item_id != ITEM
            )
        ).first()
    assert other is not None
    qoh, _, details = state(seeded)
    other_qoh, _, other_details = state(seeded, other)
    postings = staged(
        ("NEW-TWICE", 3, 3),
        (ITEM, 2, 2),
        (other, -1, -1),
        ("NEW-ONCE", 4, 4),
        ("NEW-TWICE", 1, 1),
        (other, 5, 5),
    )
    with seeded.transaction() as session:
        posted = post(session, replace(postings, new_items=new_items("NEW-ONCE", "NEW-TWICE")))
        rows = posted.rows
        read = session.execute(
            select(rows.c.inventory_item_id, rows.c.seq_id, rows.c.qoh_diff, rows.c.qoh_total).order_by(
                rows.c.ord
            )
        ).all()
    assert posted.count == 6
    last = f"{details + 1:05d}"
    assert [(item, seq, diff // 10**6, total // 10**6) for item, seq, diff, total in read] == [
        ("NEW-TWICE", "00001", 3, 3),
        (ITEM, last, 2, int(qoh) + 2),
        (other, f"{other_details + 1:05d}", -1, int(other_qoh) - 1),
        ("NEW-ONCE", "00001", 4, 4),
        ("NEW-TWICE", "00002", 1, 4),
        (other, f"{other_details + 2:05d}", 5, int(other_qoh) + 4),
    ]
    assert state(seeded) == (qoh + 2, state(seeded)[1], details + 1)
    assert state(seeded, other)[::2] == (other_qoh + 4, other_details + 2)
    assert state(seeded, "NEW-ONCE") == (Decimal(4), Decimal(4), 1)
    assert state(seeded, "NEW-TWICE") == (Decimal(4), Decimal(4), 2)


class _Undone(Exception):
    """Raised to roll a transaction back once it has been looked at."""


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_staged_postings_update_their_items_in_key_order(seeded: Database) -> None:
    """Whatever order the postings come in, the items' rows are updated in (facility, item) order,
    so their new versions and index entries are written one page after another (in a hash
    aggregate's order a 100,000-line reset's UPDATE cost a third more: ledger/staged_pg.py).
    Seen by a row trigger, in a transaction rolled back."""
    ids = [f"ORDERED-{n:03d}" for n in range(60)]
    with seeded.transaction() as session:
        post(session, replace(staged(*((item, 1, 1) for item in ids)), new_items=new_items(*ids)))
    shuffled = list(dict.fromkeys(ids[7::2] + ids[::-3] + ids))  # each once, far from key order
    updated: list[str] = []
    with pytest.raises(_Undone), seeded.transaction() as session:
        run = session.connection().exec_driver_sql
        run("CREATE TEMP TABLE updated_item (n serial, item text)")
        run(
            "CREATE FUNCTION test_note_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO updated_item (item) VALUES (NEW.inventory_item_id); RETURN NEW; END $$"
        )
        run(
            "CREATE TRIGGER test_note_update BEFORE UPDATE ON inventory_item "
            "FOR EACH ROW EXECUTE FUNCTION test_note_update()"
        )
        post(session, staged(*((item, 1, 1) for item in shuffled)))
        updated += run("SELECT item FROM updated_item ORDER BY n").scalars().all()
        raise _Undone
    assert shuffled != ids
    assert updated == ids
