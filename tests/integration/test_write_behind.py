"""core.write_behind.WriteBehind: writes sent without waiting, settled before the caller reads or commits."""

from decimal import Decimal

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event, exc, func, select, text

from stockledger.core.db import Database
from stockledger.core.statements import Statement, run
from stockledger.core.write_behind import WriteBehind, writes_behind
from stockledger.ledger.models import InventoryItem, InventoryItemDetail
from stockledger.ledger.post import Posting, post
from stockledger.metrics.ledger_rows import count_ledger_rows
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory
from tests.conftest import POSTGRES_LIKE

F = "FACILITY_1"
NOTE = "INSERT INTO product (product_id, product_name, created_stamp) VALUES (:id, :d, CURRENT_TIMESTAMP)"


def _products(db: Database) -> list[str]:
    with db.reading() as session:
        rows = session.execute(text("SELECT product_id FROM product WHERE product_id LIKE 'WB_%' ORDER BY 1"))
        return [r[0] for r in rows]


def test_writes_sent_are_in_the_transaction_once_settled(db: Database) -> None:
    seen: list[list[tuple[object, ...]]] = []
    with db.transaction() as session, WriteBehind(session) as writes:
        writes.send(Statement(NOTE, {"id": "WB_1", "d": "one"}))
        renamed = "UPDATE product SET product_name = 'x' WHERE product_id = 'WB_1' RETURNING product_id"
        writes.send(Statement(renamed, {}), seen.append)
        writes.settle()
        assert seen == [[("WB_1",)]]  # the check had the rows, and this read sees the writes
        assert run(session, Statement("SELECT product_name FROM product WHERE product_id = 'WB_1'", {})) == [
            ("x",)
        ]
        writes.send(Statement(NOTE, {"id": "WB_2", "d": "two"}))
    assert _products(db) == ["WB_1", "WB_2"]  # leaving the block settled the last one


def test_a_failing_write_raises_at_settle_as_sqlalchemy_does_and_nothing_is_kept(db: Database) -> None:
    with pytest.raises(exc.IntegrityError), db.transaction() as session, WriteBehind(session) as writes:
        writes.send(Statement(NOTE, {"id": "WB_3", "d": "first"}))
        writes.send(Statement(NOTE, {"id": "WB_3", "d": "again"}))  # duplicate key
        writes.settle()
    assert _products(db) == []
    with db.transaction() as session:  # the connection went back to its pool usable
        run(session, Statement(NOTE, {"id": "WB_4", "d": "after"}))
    assert _products(db) == ["WB_4"]


def test_a_failing_check_stops_the_caller_and_nothing_is_kept(db: Database) -> None:
    def wants_two(rows: list[tuple[object, ...]]) -> None:
        if len(rows) != 2:
            raise RuntimeError(f"{len(rows)} rows")

    with (
        pytest.raises(RuntimeError, match="1 rows"),
        db.transaction() as session,
        WriteBehind(session) as writes,
    ):
        writes.send(Statement(NOTE + " RETURNING product_id", {"id": "WB_5", "d": "x"}), wants_two)
    assert _products(db) == []


def test_an_error_in_the_block_leaves_pipeline_mode_and_rolls_back(db: Database) -> None:
    with pytest.raises(ZeroDivisionError), db.transaction() as session, WriteBehind(session) as writes:
        writes.send(Statement(NOTE, {"id": "WB_6", "d": "x"}))
        _ = 1 / 0
    assert _products(db) == []
    with db.transaction() as session:
        assert run(session, Statement("SELECT 1", {})) == [(1,)]


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_on_postgresql_send_does_not_wait_for_the_answer(db: Database) -> None:
    """The answer of a sent statement is read at settle, not before (its cursor events fire then).
    (SQLite runs each write at once: there is no server to overlap with.)"""
    executed: list[str] = []

    def answered(conn: object, cursor: object, sql: str, *_: object) -> None:
        executed.append(sql)

    event.listen(db.engine, "after_cursor_execute", answered)
    try:
        with db.transaction() as session, WriteBehind(session) as writes:
            writes.send(Statement("SELECT pg_sleep(0.3)", {}))
            assert executed == []  # no answer yet: the cursor events wait for settle
            writes.settle()
            assert executed == ["SELECT pg_sleep(0.3)"]
    finally:
        event.remove(db.engine, "after_cursor_execute", answered)


def test_post_batch_through_writes_counts_its_ledger_rows_at_commit(seeded: Database) -> None:
    count_ledger_rows(seeded)
    before = REGISTRY.get_sample_value("stockledger_ledger_rows_posted_total") or 0.0
    lines = [RawLine(n, F, p, str(40 + n), None) for n, p in enumerate(("FG001", "FG002", "FG003"), start=1)]
    with seeded.transaction() as session:
        outcome = reset_inventory(session, lines, batch_size=2)  # two batches, each written behind
    after = REGISTRY.get_sample_value("stockledger_ledger_rows_posted_total") or 0.0
    assert after - before == outcome.lines_changed == 3
    with seeded.reading() as session:
        d = InventoryItemDetail
        assert (
            session.scalar(select(func.count()).where(d.inventory_reset_id == outcome.inventory_reset_id))
            == 3
        )


def test_post_batch_through_writes_refuses_a_stale_read_at_settle(seeded: Database) -> None:
    with seeded.reading() as session:
        item = session.scalars(select(InventoryItem).where(InventoryItem.facility_id == F).limit(1)).one()
        item_id, seq = item.inventory_item_id, item.last_detail_seq
        totals = (
            item.quantity_on_hand_total,
            item.available_to_promise_total,
            item.accounting_quantity_total,
        )
    stale = {(F, item_id): (*totals, seq - 1)}
    with (
        pytest.raises(RuntimeError, match="changed while locked"),
        seeded.transaction() as session,
        WriteBehind(session),
    ):
        post(session, [Posting(F, item_id, "VAR_EXT_RESET", Decimal(1), Decimal(1))], held=stale)
    with seeded.reading() as session:
        d = InventoryItemDetail
        assert session.scalar(select(func.max(d.seq_num)).where(d.inventory_item_id == item_id)) == seq


def test_a_with_block_binds_it_to_the_transaction_for_the_writers_that_find_it(db: Database) -> None:
    """ledger.post and core.bulk.upsert_copied find the block's WriteBehind on the session
    (core.write_behind.writes_behind): nobody passes it; a nested block's ends with it."""
    with db.transaction() as session:
        assert writes_behind(session) is None
        with WriteBehind(session) as outer:
            assert writes_behind(session) is outer
            with WriteBehind(session) as inner:
                assert writes_behind(session) is inner
            assert writes_behind(session) is outer
        assert writes_behind(session) is None
