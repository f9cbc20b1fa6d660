"""Statements run alone (the hot paths) are planned to read by index, whatever the statistics.

They are prepared (psycopg, after 5 runs) and PostgreSQL may keep a generic plan made from the
statistics of that moment. Made while `order_item` was small and analysed, the one-statement
reservation's order-item guard scanned the whole table on every later run: under 8 workers the
reservations ran 2-3x slower (bench/RESULTS.md, session 7). So their plans never take a
sequential scan where an index serves.
"""

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import text

from stockledger.core.db import Database, Statement
from stockledger.reservations.service import ReserveLine, reserve_line
from tests.shipping_support import FACILITY
from tests.stock_support import add_sole_item

LOOKUP = "SELECT product_id FROM order_item WHERE order_id = :o AND order_item_seq_id = :s"


def _plan(rows: list[tuple[object, ...]]) -> str:
    return "\n".join(str(row[0]) for row in rows)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_statement_run_alone_reads_by_index_on_a_table_analysed_empty(seeded: Database) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(text("ANALYZE order_item"))  # as autovacuum does while the table is small
        planned = _plan(conn.execute(text(f"EXPLAIN {LOOKUP}"), {"o": "O", "s": "1"}).all())
    assert "Seq Scan on order_item" in planned  # what the planner makes of it on its own
    alone = _plan(seeded.run_alone(Statement(f"EXPLAIN {LOOKUP}", {"o": "O", "s": "1"})))
    assert "Index" in alone, alone
    assert "Seq Scan" not in alone, alone
    with seeded.engine.connect() as conn:  # nothing of it stays on the pooled connection
        assert conn.execute(text("SHOW enable_seqscan")).scalar_one() == "on"


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_event_loop_path_reads_by_index_too(seeded: Database) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(text("ANALYZE order_item"))

    async def plan_and_setting() -> tuple[str, list[tuple[object, ...]]]:
        await seeded.open_async()
        try:
            lookup = await seeded.run_alone_async(Statement(f"EXPLAIN {LOOKUP}", {"o": "O", "s": "1"}))
            setting = await seeded.run_alone_async(Statement("SELECT current_setting('enable_seqscan')", {}))
            return _plan(lookup), setting
        finally:
            await seeded.close_async()

    alone, setting = asyncio.run(plan_and_setting())
    assert "Index" in alone, alone
    assert "Seq Scan" not in alone, alone
    assert setting == [("off",)]  # in the statement's own transaction only


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_failing_statement_run_alone_writes_nothing_and_the_connection_stays_usable(
    seeded: Database,
) -> None:
    item = add_sole_item(seeded, "SOLO-PLAN", 5)
    bad = Statement(
        "WITH w AS (UPDATE inventory_item SET last_detail_seq = last_detail_seq WHERE inventory_item_id = :i "
        "RETURNING 1) SELECT 1 / 0 FROM w",
        {"i": item},
    )
    with pytest.raises(Exception, match="division by zero"):
        seeded.run_alone(bad)
    outcome = reserve_line(seeded, "PLAN-OK", FACILITY, ReserveLine("1", "SOLO-PLAN", Decimal(2)))
    assert outcome.lines[0].quantity_reserved == 2
