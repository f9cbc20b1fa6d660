"""`kill -9` of the CLI in the middle of a large ERP reset, and of the service in the middle of a
10,000-line order: all or nothing, `verify` clean, and the same work run again applies in full.

The reset is STOCKLEDGER_STRESS_RESET_LINES lines (CI: 20,000; `make stress`: 1,000,000) over
10 facilities, run by `stockledger reset FILE.csv` as a subprocess. It is killed when it has
read at least 40% of the file (its file offset in /proc/PID/fdinfo) and its transaction has
written (a transaction id in pg_stat_activity, and the detail table has grown on disk): the
middle of writing, hundreds of thousands of uncommitted rows at full size. Then the reset is
entirely absent: no detail rows, no reset header, no facility items, no events, totals unchanged.

The order is POST /v1/orders/{id}/reserve to `stockledger serve --workers 2`. To kill it at the
worst moment (every posting and reservation row written, nothing committed), the test holds an
EXCLUSIVE lock on outbox_event, which the request needs for its events, the last thing it
writes: it waits there, and the whole process group gets SIGKILL.
"""

import os
import signal
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import func, select, text

from stockledger.core.db import Database
from stockledger.events.models import OutboxEvent
from stockledger.ledger.models import (
    ExternalInventoryReset,
    InventoryItem,
    InventoryItemDetail,
    OrderItemInventoryReservation,
)
from stockledger.ledger.verify import find_mismatches
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory
from tests.stress.support import (
    STOCKLEDGER,
    Server,
    add_facility_and_products,
    cli,
    cli_env,
    create_token,
    env_int,
    fresh_database,
    verify_clean,
)

pytestmark = [pytest.mark.stress, pytest.mark.postgres]

RESET_LINES = env_int("STOCKLEDGER_STRESS_RESET_LINES", 20_000)
FACILITIES = [f"F{n:02d}" for n in range(1, 11)]
HEADER = "facilityId,productId,quantityOnHand,availableToPromise\n"
EARLIER = 1_000  # items of F01 that an earlier reset stocked: the big one would change them
ORDER_LINES = 10_000


def _state(db: Database) -> dict[str, Any]:
    """Everything a reset or an order writes, counted and summed."""
    with db.reading() as session:
        count = func.count()
        i = InventoryItem
        qoh, atp = session.execute(
            select(func.sum(i.quantity_on_hand_total), func.sum(i.available_to_promise_total))
        ).one()
        return {
            "items": session.scalar(select(count).select_from(InventoryItem)),
            "details": session.scalar(select(count).select_from(InventoryItemDetail)),
            "resets": session.scalar(select(count).select_from(ExternalInventoryReset)),
            "reservations": session.scalar(select(count).select_from(OrderItemInventoryReservation)),
            "events": session.scalar(select(count).select_from(OutboxEvent)),
            "qoh": qoh or Decimal(0),
            "atp": atp or Decimal(0),
        }


def _size(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_relation_size(:t)"), {"t": table}).scalar_one())


def _writers(db: Database) -> int:
    """Other sessions of this database in a transaction that has a transaction id (it wrote)."""
    with db.engine.connect() as conn:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
        )
        return int(conn.execute(text(query)).scalar_one())


def _wait_for_no_writers(db: Database, seconds: float = 120) -> None:
    """A killed client's backend ends (and rolls back) when it next reads from the dead socket."""
    deadline = time.monotonic() + seconds
    while _writers(db):
        assert time.monotonic() < deadline, "the killed client's transaction is still open"
        time.sleep(0.1)


def _file_offset(pid: int, path: Path) -> int:
    """How far process `pid` has read `path` (its open file's offset), 0 if not open yet."""
    fds = Path(f"/proc/{pid}/fd")
    for fd in fds.iterdir():
        try:
            if Path(os.readlink(fd)) == path:
                for line in (Path(f"/proc/{pid}/fdinfo") / fd.name).read_text().splitlines():
                    if line.startswith("pos:"):
                        return int(line.split()[1])
        except OSError:
            continue
    return 0


def _write_reset_csv(path: Path, products: int) -> Decimal:
    """Every facility × product, a new QOH each; returns the QOH summed over the file."""
    total = 0
    with path.open("w") as f:
        f.write(HEADER)
        for fac, facility in enumerate(FACILITIES, 1):
            for n in range(products):
                qty = (n * 7 + fac) % 500 + 1
                total += qty
                f.write(f"{facility},P{n:06d},{qty},\n")
    return Decimal(total)


def test_a_kill_9_midway_through_a_large_reset_applies_nothing_and_a_rerun_applies_all(
    tmp_path: Path, record_property: Any
) -> None:
    products = RESET_LINES // len(FACILITIES)
    lines = products * len(FACILITIES)
    with fresh_database() as db_url:
        db = Database(db_url)
        try:
            with psycopg.connect(db_url) as conn:  # set-based: a million products in seconds
                conn.execute(
                    "INSERT INTO facility (facility_id, costing_method_id, created_stamp) "
                    "SELECT f, 'FIFO', now() FROM unnest(%s::text[]) f",
                    (FACILITIES,),
                )
                conn.execute(
                    "INSERT INTO product (product_id, created_stamp) "
                    "SELECT 'P' || lpad(n::text, 6, '0'), now() FROM generate_series(0, %s - 1) n",
                    (products,),
                )
            with db.transaction() as session:  # an earlier reset the big one would change
                reset_inventory(
                    session, (RawLine(n + 2, "F01", f"P{n:06d}", "5") for n in range(EARLIER)), "earlier"
                )
            before = _state(db)
            assert (before["items"], before["qoh"], before["resets"]) == (EARLIER, 5 * EARLIER, 1)
            big = tmp_path / "big.csv"
            file_qoh = _write_reset_csv(big, products)
            size = big.stat().st_size
            detail_size = _size(db, "inventory_item_detail")

            began = time.monotonic()
            child = subprocess.Popen(
                [str(STOCKLEDGER), "reset", str(big)],
                env=cli_env(db_url),
                stdout=subprocess.DEVNULL,
                stderr=(tmp_path / "reset.err").open("w"),
            )
            try:
                while not (
                    _file_offset(child.pid, big) >= 0.4 * size
                    and _writers(db)
                    and _size(db, "inventory_item_detail") > detail_size
                ):
                    assert child.poll() is None, "the reset ended before it could be interrupted"
                    assert time.monotonic() - began < 3_600
                    time.sleep(0.05)
                read = _file_offset(child.pid, big)
                grown = _size(db, "inventory_item_detail") - detail_size
            finally:
                child.send_signal(signal.SIGKILL)
                assert child.wait(timeout=30) == -signal.SIGKILL
            killed_after = time.monotonic() - began
            _wait_for_no_writers(db)
            assert _state(db) == before  # not one row of the reset: no header, details, items, events
            verify_clean(db_url)

            began = time.monotonic()
            rerun = cli(db_url, "reset", str(big), timeout=7_200)
            rerun_seconds = time.monotonic() - began
            assert rerun.returncode == 0, rerun.stdout + rerun.stderr
            same = sum(1 for n in range(EARLIER) if (n * 7 + 1) % 500 + 1 == 5)  # already 5 in F01
            changed = lines - same
            assert f"{lines} lines, {changed} changed, {same} unchanged, 0 failed" in " ".join(
                rerun.stdout.split()
            )
            after = _state(db)
            assert after["items"] == lines
            assert after["qoh"] == after["atp"] == file_qoh
            assert after["resets"] == 2
            assert after["details"] == before["details"] + changed
            with db.reading() as session:
                assert find_mismatches(session) == []
                header = session.scalars(
                    select(ExternalInventoryReset).where(ExternalInventoryReset.source == "big.csv")
                ).one()
                assert (header.lines_total, header.lines_changed, header.lines_failed) == (lines, changed, 0)
            verify_clean(db_url)
        finally:
            db.dispose()
    numbers = {
        "lines": lines,
        "killed_after_s": round(killed_after, 1),
        "file_read_at_kill": f"{read / size:.0%}",
        "uncommitted_detail_bytes_at_kill": grown,
        "rerun_s": round(rerun_seconds, 1),
    }
    print(f"RESET_KILL {numbers}")
    record_property("reset_kill", numbers)


def _order(n_lines: int) -> dict[str, Any]:
    items = [{"orderItemSeqId": f"{n:05d}", "productId": f"P{n:05d}", "quantity": 2} for n in range(n_lines)]
    return {"facilityId": "F", "items": items}


def test_a_kill_9_of_the_service_midway_through_a_10000_line_order_applies_nothing(tmp_path: Path) -> None:
    products = [f"P{n:05d}" for n in range(ORDER_LINES)]
    with fresh_database() as db_url:
        db = Database(db_url)
        try:
            add_facility_and_products(db, "F", products)
            with db.transaction() as session:
                reset_inventory(
                    session, (RawLine(n + 2, "F", p, "5") for n, p in enumerate(products)), "setup"
                )
            before = _state(db)
            assert (before["reservations"], before["atp"]) == (0, 5 * ORDER_LINES)
            token = create_token(db_url, "oms", "F")
            headers = {"Authorization": f"Bearer {token}"}
            server = Server(db_url, workers=2, log=tmp_path / "serve.log")
            answers: list[object] = []
            detail_size = _size(db, "inventory_item_detail")
            try:
                with psycopg.connect(db_url) as blocker:
                    # the order's last write (its StockReserved events) waits behind this lock
                    blocker.execute("LOCK TABLE outbox_event IN EXCLUSIVE MODE")

                    def send() -> None:
                        try:
                            answers.append(
                                httpx.post(
                                    f"{server.base_url}/v1/orders/BIG/reserve",
                                    json=_order(ORDER_LINES),
                                    headers=headers,
                                    timeout=300,
                                )
                            )
                        except httpx.TransportError as exc:
                            answers.append(exc)

                    sender = threading.Thread(target=send, daemon=True)
                    sender.start()
                    deadline = time.monotonic() + 300
                    while not _waiting_writer(db):
                        assert time.monotonic() < deadline, "the order never reached its events"
                        assert not answers, answers
                        time.sleep(0.05)
                    # written, not committed: 10,000 ledger rows and reservation rows in the tables' pages
                    assert _size(db, "inventory_item_detail") > detail_size
                    assert _size(db, "order_item_inventory_reservation") > 0
                    server.kill_9()
                    blocker.rollback()  # the lock goes; the orphaned backend finds its client gone
                sender.join(timeout=60)
                assert len(answers) == 1
                assert isinstance(answers[0], httpx.TransportError), answers  # no answer, ever
                _wait_for_no_writers(db)
                assert _state(db) == before
                verify_clean(db_url)
            finally:
                server.stop()
            # restarted, the same order applies in full: the kill interrupted real work
            server = Server(db_url, workers=1, log=tmp_path / "serve.log")
            try:
                answer = httpx.post(
                    f"{server.base_url}/v1/orders/BIG/reserve",
                    json=_order(ORDER_LINES),
                    headers=headers,
                    timeout=300,
                )
            finally:
                server.stop()
            assert answer.status_code == 200, answer.text
            assert Decimal(str(answer.json()["quantityReserved"])) == 2 * ORDER_LINES
            after = _state(db)
            assert after["reservations"] == ORDER_LINES
            assert after["details"] == before["details"] + ORDER_LINES
            assert (after["qoh"], after["atp"]) == (before["qoh"], before["atp"] - 2 * ORDER_LINES)
            assert after["events"] > before["events"]
            with db.reading() as session:
                assert find_mismatches(session) == []
            verify_clean(db_url)
        finally:
            db.dispose()


def _waiting_writer(db: Database) -> bool:
    """A session of this database that has written and now waits for a lock (ours)."""
    with db.engine.connect() as conn:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL AND wait_event_type = 'Lock'"
        )
        return bool(conn.execute(text(query)).scalar_one())
