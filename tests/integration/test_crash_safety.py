"""A kill -9 in the middle of a 10,000-line reservation applies nothing (both databases).

The child process reserves 10,000 lines in one transaction and is killed after every ATP
posting and ledger row is written, just before the reservation rows: the worst moment, where a
half-applied order would have lowered ATP with nothing reserved. After the kill, nothing of it
is there and `stockledger verify` finds every item's totals equal to its ledger.
"""

import os
import select
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, text
from sqlalchemy import select as sql_select

from stockledger.core.db import Database
from stockledger.events.models import OutboxEvent
from stockledger.ledger.models import (
    InventoryItem,
    InventoryItemDetail,
    OrderItemInventoryReservation,
    Product,
)
from stockledger.reservations.service import ReserveLine, reserve_stock
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory

LINES = 10_000
STOCKLEDGER = Path(sys.executable).parent / "stockledger"
CHILD = """
import sys, time
from decimal import Decimal
from sqlalchemy import event
from stockledger.core.db import Database
from stockledger.reservations.service import ReserveLine, reserve_stock

db = Database(sys.argv[1])

def pause_before_reservation_rows(conn, cursor, statement, *args):
    if statement.lstrip().upper().startswith("INSERT INTO ORDER_ITEM_INVENTORY_RESERVATION"):
        print("MIDWAY", flush=True)
        time.sleep(300)

event.listen(db.engine, "before_cursor_execute", pause_before_reservation_rows)
lines = [ReserveLine(f"{n:05d}", f"P{n:05d}", Decimal(2)) for n in range(int(sys.argv[2]))]
with db.transaction() as session:
    reserve_stock(session, "BIG", "F", lines)
print("COMMITTED", flush=True)
"""


def _stock(db: Database) -> None:
    """Facility F with products P00000… and 5 on hand of each (through an ERP reset)."""
    with db.transaction() as session:
        session.execute(
            text(
                "INSERT INTO facility (facility_id, costing_method_id, created_stamp) "
                "VALUES ('F', 'FIFO', '2026-01-01')"
            )
        )
        session.execute(insert(Product), [{"product_id": f"P{n:05d}"} for n in range(LINES)])
    with db.transaction() as session:
        reset_inventory(session, (RawLine(n + 2, "F", f"P{n:05d}", "5") for n in range(LINES)), "setup")


def _state(db: Database) -> tuple[int, int, int, Decimal]:
    """(ledger rows, reservation rows, events, ATP summed over F)."""
    with db.reading() as session:
        count = func.count()
        return (
            session.scalar(sql_select(count).select_from(InventoryItemDetail)) or 0,
            session.scalar(sql_select(count).select_from(OrderItemInventoryReservation)) or 0,
            session.scalar(sql_select(count).select_from(OutboxEvent)) or 0,
            session.scalar(
                sql_select(func.sum(InventoryItem.available_to_promise_total)).where(
                    InventoryItem.facility_id == "F"
                )
            )
            or Decimal(0),
        )


def _writing(db: Database) -> bool:
    """PostgreSQL: another session holds an open transaction that has written."""
    with db.engine.connect() as conn:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
        )
        return bool(conn.execute(text(query)).scalar())


def test_a_kill_9_midway_through_a_10000_line_reservation_applies_nothing(db: Database, db_url: str) -> None:
    _stock(db)
    before = _state(db)
    assert before[1:] == (0, before[2], Decimal(5 * LINES))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url, str(LINES)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    try:
        ready, _, _ = select.select([child.stdout], [], [], 180)
        assert ready, "the child never reached the reservation rows"
        assert child.stdout.readline().strip() == "MIDWAY", child.stderr.read() if child.stderr else ""
        if db.engine.dialect.name == "postgresql":
            assert _writing(db), "the child's transaction has written its postings"
    finally:
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    assert _state(db) == before
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": db_url}
    verify = subprocess.run(
        [str(STOCKLEDGER), "verify"], env=env, capture_output=True, text=True, timeout=120
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "0 mismatches" in verify.stdout
    # The same order run to the end does apply: the kill interrupted real work.
    lines = [ReserveLine(f"{n:05d}", f"P{n:05d}", Decimal(2)) for n in range(LINES)]
    with db.transaction() as session:
        reserve_stock(session, "BIG", "F", lines)
    ledger, reservations, events, atp = _state(db)
    assert (ledger - before[0], reservations, atp) == (LINES, LINES, Decimal(3 * LINES))
    assert events > before[2]
