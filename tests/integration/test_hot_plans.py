"""Statements run alone (the hot paths) are planned to read by index, whatever the statistics.

They are prepared (psycopg, after 5 runs) and PostgreSQL may keep a generic plan made from the
statistics of that moment. Made while `order_item` was small and analysed, the one-statement
reservation's order-item guard scanned the whole table on every later run: under 8 workers the
reservations ran 2-3x slower (bench/RESULTS.md, session 7). So their plans never take a
sequential scan where an index serves: they run on connections of their own
(Database.alone_engine, the async pool) whose sessions have sequential scans off.
"""

import asyncio
from decimal import Decimal
from typing import Any, cast

import psycopg
import pytest
from psycopg import RawCursor
from sqlalchemy import literal_column, select, text

from stockledger.core.db import Database
from stockledger.core.statements import Statement, numbered
from stockledger.ledger.sole_item_pg import SoleItemReservation, sole_item_statement
from stockledger.reservations.service import ReserveLine
from tests.reserve_support import reserve_line
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
    with seeded.engine.connect() as conn:  # the sessions' connections plan as the planner likes
        assert conn.execute(text("SHOW enable_seqscan")).scalar_one() == "on"


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_statements_run_alone_have_autocommit_connections_of_their_own(db: Database) -> None:
    """One statement a call, no setting sent before it (≈ 40 µs of client CPU a reservation)."""
    assert db.alone_engine is not db.engine
    assert db.run_alone(Statement("SELECT current_setting('enable_seqscan')", {})) == [("off",)]
    assert db.fetch_one(select(literal_column("current_setting('enable_seqscan')")), {}) == ("off",)
    assert db.alone_pool is not None
    assert db.alone_pool.checkedin() == 1  # both ran on the one connection of the pool
    alone = db.alone_pool.checkout()
    try:
        assert alone.conn.autocommit
        assert alone.conn.execute("SHOW enable_seqscan").fetchone() == ("off",)
    finally:
        db.alone_pool.checkin(alone)
    with db.engine.connect() as conn:
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
    assert setting == [("off",)]  # the async pool's connections only (the test above: not the engine's)


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


def _rows_read(node: dict[str, object]) -> int:
    """The most rows any node of a plan produced over all its loops."""
    own = int(node.get("Actual Rows", 0)) * int(node.get("Actual Loops", 1))  # type: ignore[call-overload]
    children = node.get("Plans", [])
    assert isinstance(children, list)
    return max([own, *(_rows_read(child) for child in children)])


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_one_statement_reservation_reads_a_handful_of_rows_without_statistics(db: Database) -> None:
    """Right after a bulk load nothing is analysed: as UPDATE … FROM picked, the plan walked the
    facility's 1,000 items once per item (1,000,000 rows, 124 ms a reservation; found by the
    benchmark that loads with plain SQL)."""
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO facility (facility_id, created_stamp) VALUES ('F1', now())"))
        conn.execute(
            text(
                "INSERT INTO product (product_id, created_stamp) "
                "SELECT 'P' || n, now() FROM generate_series(1, 1000) AS n"
            )
        )
        conn.execute(
            text(
                "INSERT INTO inventory_item (facility_id, inventory_item_id, inventory_item_type_id, "
                "product_id, status_id, quantity_on_hand_total, available_to_promise_total, "
                "accounting_quantity_total, last_detail_seq, created_stamp) SELECT 'F1', 'I' || n, "
                "'NON_SERIAL_INV_ITEM', 'P' || n, 'INV_AVAILABLE', 0, 0, 0, 0, now() "
                "FROM generate_series(1, 1000) AS n"
            )
        )
    reservation = SoleItemReservation(
        "F1", "O-1", "1", "P500", None, Decimal(0), "RESERVATION", "StockReserved", _payload
    )
    sql, values = numbered(sole_item_statement(db.engine.dialect, reservation, "tests"))
    raw = db.alone_engine.raw_connection()  # planned as run_alone plans it
    try:
        driver = cast(psycopg.Connection[Any], raw.dbapi_connection)
        with driver.transaction(force_rollback=True):
            cursor = RawCursor(driver)
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", values)
            (plan,) = cursor.fetchone()[0]  # type: ignore[index]
    finally:
        raw.close()
    assert _rows_read(plan["Plan"]) <= 10


def _payload(item_id: str) -> dict[str, Any]:
    return {"orderId": "O-1", "inventoryItemId": item_id}
