"""The one write path: totals and detail rows move together, guarded changes are atomic."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from stockledger.catalog.inventory_items import find_or_create_facility_inventory_item
from stockledger.core.db import Database
from stockledger.core.errors import InsufficientStock, NotFound
from stockledger.ledger.models import InventoryItem, InventoryItemDetail
from stockledger.ledger.post import Links, Posting, post
from stockledger.ledger.postings import format_seq
from stockledger.ledger.postings_pg import format_seq_sql
from tests.conftest import POSTGRES_LIKE

pytestmark = pytest.mark.posts_without_events  # the write path alone: no business event


def _item(db: Database, product: str = "FG001") -> str:
    with db.transaction() as session:
        return find_or_create_facility_inventory_item(session, "FACILITY_1", product).inventory_item_id


def _totals(db: Database, item_id: str) -> tuple[Decimal, Decimal, Decimal]:
    with db.reading() as session:
        item = session.get(InventoryItem, ("FACILITY_1", item_id))
        assert item is not None
        return item.quantity_on_hand_total, item.available_to_promise_total, item.accounting_quantity_total


def _details(db: Database, item_id: str) -> list[InventoryItemDetail]:
    with db.reading() as session:
        return list(
            session.scalars(
                select(InventoryItemDetail)
                .where(InventoryItemDetail.inventory_item_id == item_id)
                .order_by(InventoryItemDetail.seq_num)
            )
        )


def test_a_posting_writes_its_detail_row_with_the_new_totals(seeded: Database) -> None:
    item_id = "FG001-INV-001"  # seed: 12 / 12, then PI_20240715 found one: 13 / 13
    with seeded.transaction() as session:
        posted = post(
            session,
            Posting(
                "FACILITY_1",
                item_id,
                "VAR_DAMAGED",
                quantity_on_hand_diff=Decimal("-1.5"),
                available_to_promise_diff=Decimal("-1.5"),
                links=Links(order_id="O1", order_item_seq_id="00001", change_by_user_login_id="jdoe"),
            ),
        )
    assert (posted.quantity_on_hand_total, posted.available_to_promise_total) == (
        Decimal("11.5"),
        Decimal("11.5"),
    )
    assert _totals(seeded, item_id) == (Decimal("11.5"), Decimal("11.5"), Decimal("11.5"))
    last = _details(seeded, item_id)[-1]
    assert last.inventory_item_detail_seq_id == posted.inventory_item_detail_seq_id == "00003"
    assert (last.quantity_on_hand_diff, last.available_to_promise_diff) == (Decimal("-1.5"), Decimal("-1.5"))
    assert (last.order_id, last.order_item_seq_id, last.change_by_user_login_id) == ("O1", "00001", "jdoe")
    assert last.reason_enum_id == "VAR_DAMAGED"


def test_a_rolled_back_transaction_leaves_neither_totals_nor_detail(seeded: Database) -> None:
    before = (_totals(seeded, "FG001-INV-001"), len(_details(seeded, "FG001-INV-001")))
    with pytest.raises(RuntimeError), seeded.transaction() as session:
        post(session, Posting("FACILITY_1", "FG001-INV-001", "X", quantity_on_hand_diff=Decimal(7)))
        raise RuntimeError("the caller fails after posting")
    assert (_totals(seeded, "FG001-INV-001"), len(_details(seeded, "FG001-INV-001"))) == before


def test_a_guarded_decrement_beyond_atp_is_refused_and_changes_nothing(seeded: Database) -> None:
    before = _totals(seeded, "FG001-INV-001")
    with pytest.raises(InsufficientStock) as refused, seeded.transaction() as session:
        post(
            session,
            Posting(
                "FACILITY_1",
                "FG001-INV-001",
                "RESERVE",
                available_to_promise_diff=Decimal(-14),
                require_atp=True,
            ),
        )
    assert refused.value.extra["available"] == Decimal(13)
    assert _totals(seeded, "FG001-INV-001") == before
    with seeded.transaction() as session:  # exactly all of it is allowed
        post(
            session,
            Posting(
                "FACILITY_1",
                "FG001-INV-001",
                "RESERVE",
                available_to_promise_diff=Decimal(-13),
                require_atp=True,
            ),
        )
    assert _totals(seeded, "FG001-INV-001")[1] == Decimal(0)


def test_an_unguarded_change_may_take_atp_below_zero(seeded: Database) -> None:
    with seeded.transaction() as session:
        posted = post(
            session,
            Posting("FACILITY_1", "FG001-INV-001", "BACKORDER", available_to_promise_diff=Decimal(-20)),
        )
    assert posted.available_to_promise_total == Decimal(-7)


def test_posting_to_an_unknown_item_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound), db.transaction() as session:
        post(session, Posting("FACILITY_1", "NOPE", "X", quantity_on_hand_diff=Decimal(1)))


def test_a_loaded_item_sees_the_new_totals(seeded: Database) -> None:
    with seeded.transaction() as session:
        item = session.get(InventoryItem, ("FACILITY_1", "FG003-INV-001"))
        assert item is not None
        assert item.quantity_on_hand_total == Decimal(35)
        post(session, Posting("FACILITY_1", "FG003-INV-001", "X", quantity_on_hand_diff=Decimal(5)))
        assert item.quantity_on_hand_total == Decimal(40)


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_concurrent_guarded_decrements_never_oversell(seeded: Database) -> None:
    """32 threads each take 1 unit of an item holding 13: exactly 13 succeed."""
    item_id = "FG001-INV-001"

    def take_one(_: int) -> bool:
        try:
            with seeded.transaction() as session:
                post(
                    session,
                    Posting(
                        "FACILITY_1",
                        item_id,
                        "RESERVE",
                        available_to_promise_diff=Decimal(-1),
                        require_atp=True,
                    ),
                )
            return True
        except InsufficientStock:
            return False

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(take_one, range(32)))
    assert outcomes.count(True) == 13
    assert _totals(seeded, item_id)[1] == Decimal(0)
    with seeded.reading() as session:
        seqs = session.scalars(
            select(func.count(func.distinct(InventoryItemDetail.inventory_item_detail_seq_id))).where(
                InventoryItemDetail.inventory_item_id == item_id
            )
        ).one()
    assert seqs == 2 + 13  # seed receipt + PI variance + 13 reservations, all distinct seq ids


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_sql_form_of_the_detail_seq_id_is_format_seq(db: Database) -> None:
    numbers = [1, 42, 99_999, 100_000, 1_234_567]
    rows = ", ".join(f"({n})" for n in numbers)
    with db.reading() as session:
        found = session.execute(text(f"SELECT {format_seq_sql('n')} FROM (VALUES {rows}) AS v (n)")).scalars()
        assert list(found) == [format_seq(n) for n in numbers]
