"""`stockledger reset FILE.csv`: one transaction (a kill -9 midway applies nothing), exit codes."""

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.orm import Session, SessionTransaction
from typer.testing import CliRunner

from stockledger.cli import app
from stockledger.core.db import Database
from stockledger.ledger.models import ExternalInventoryReset, InventoryItemDetail, Product
from stockledger.ledger.views import availability
from stockledger.resets import cli as reset_cli

runner = CliRunner()
HEADER = "facilityId,productId,quantityOnHand,availableToPromise\n"
STOCKLEDGER = Path(sys.executable).parent / "stockledger"


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    return db_url


def _qoh(db: Database, product: str) -> Decimal:
    with db.reading() as session:
        return availability(session, "FACILITY_1", product).quantity_on_hand_total


def _reset_rows(db: Database) -> int:
    with db.reading() as session:
        d = InventoryItemDetail
        return session.scalar(select(func.count()).where(d.reason_enum_id == "VAR_EXT_RESET")) or 0


def test_reset_applies_a_csv_and_reports_failed_lines(env: str, seeded: Database, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "FACILITY_1,FG001,50,\nFACILITY_1,FG002,,30\n")
    result = runner.invoke(app, ["reset", str(good)])
    assert result.exit_code == 0, result.output
    assert "2 lines, 2 changed, 0 unchanged, 0 failed" in result.output
    assert (_qoh(seeded, "FG001"), _qoh(seeded, "FG002")) == (Decimal(50), Decimal(30))
    with seeded.reading() as session:
        (source,) = session.scalars(select(ExternalInventoryReset.source)).all()
    assert source == "good.csv"
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(HEADER + "FACILITY_1,FG001,55,\nFACILITY_1,GHOST,1,\n")
    result = runner.invoke(app, ["reset", str(mixed), "--source", "ERP"])
    assert result.exit_code == 1
    assert "unknown_product" in result.output
    assert _qoh(seeded, "FG001") == Decimal(55)


def test_reset_refuses_a_file_it_cannot_read_and_applies_nothing(
    env: str, seeded: Database, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("sku;qty\nFG001;3\n")
    result = runner.invoke(app, ["reset", str(bad)])
    assert result.exit_code == 2
    assert "nothing applied" in result.output
    binary = tmp_path / "binary.csv"
    binary.write_bytes(HEADER.encode() + b"FACILITY_1,FG001,1,\n\xff\xfe\x00\n")
    assert runner.invoke(app, ["reset", str(binary)]).exit_code == 2
    assert _reset_rows(seeded) == 0
    assert _qoh(seeded, "FG001") == Decimal(31)


def _wal_size(db_url: str) -> int:
    wal = Path(db_url.removeprefix("sqlite:///") + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def _in_transaction(db: Database, db_url: str, wal_before: int) -> bool:
    """The CLI has written inside its (uncommitted) transaction."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            query = (
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND backend_xid IS NOT NULL AND datname = current_database()"
            )
            return bool(conn.execute(text(query)).scalar())
    return _wal_size(db_url) > wal_before + 2_000_000  # pages spilled from the open transaction


def _big_file(db: Database, tmp_path: Path, products: int = 30_000) -> Path:
    """A facility F of `products` products, and a reset file stocking each of them."""
    with db.transaction() as session:
        session.execute(
            text(
                "INSERT INTO facility (facility_id, costing_method_id, created_stamp) "
                "VALUES ('F', 'FIFO', '2026-01-01')"
            )
        )
        session.execute(insert(Product), [{"product_id": f"P{n:06d}"} for n in range(products)])
    big = tmp_path / "big.csv"
    with big.open("w") as f:
        f.write(HEADER)
        f.writelines(f"F,P{n:06d},{n % 97 + 1},\n" for n in range(products))
    return big


def _started(db: Database, db_url: str, big: Path) -> "subprocess.Popen[str]":
    """`stockledger reset big` in a child, once its transaction has written."""
    wal_before = _wal_size(db_url)
    child = subprocess.Popen(
        [str(STOCKLEDGER), "reset", str(big), "--batch-size", "200"],
        env={**os.environ, "STOCKLEDGER_DATABASE_URL": db_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not _in_transaction(db, db_url, wal_before):
        assert child.poll() is None, "the reset finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return child


def test_a_kill_9_midway_leaves_nothing_applied(db: Database, db_url: str, tmp_path: Path) -> None:
    child = _started(db, db_url, _big_file(db, tmp_path))
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL
    _nothing_applied(db)


def test_ctrl_c_midway_says_so_on_stderr_and_leaves_nothing_applied(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    """Off a terminal (a cron job's log) Ctrl-C, or the SIGINT of a supervisor, ended the run
    with exit 130 and not a word (outside tester): now one line on stderr says what happened."""
    child = _started(db, db_url, _big_file(db, tmp_path))
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert "big.csv: interrupted; nothing applied (its one transaction rolled back)" in stderr
    assert "Traceback" not in stderr
    _nothing_applied(db)


def _nothing_applied(db: Database) -> None:
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(InventoryItemDetail)) == 0
        assert session.scalar(select(func.count()).select_from(ExternalInventoryReset)) == 0
        assert session.scalar(text("SELECT count(*) FROM inventory_item")) == 0


def test_reset_table_shows_the_ids_a_failed_line_gave(
    env: str, seeded: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by an outside tester: the table had no ids, and the answer's facilityId was null where
    the line named one. An id is shown as given; text that is no id quoted, so its spaces show;
    a line's "[red]" is text, not a style."""
    from stockledger.resets import cli as reset_cli

    monkeypatch.setattr(reset_cli.console, "width", 200)
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER + "FACILITY_1,FG#1,4,\nFACILITY_1 ,FG001,4,\n[red]X,FG001,1,\nFACILITY_1,FG002,5,,9\n"
    )
    result = runner.invoke(app, ["reset", str(path)])
    assert result.exit_code == 1, result.output
    rows = [line.split("│")[1:-1] for line in result.output.splitlines() if line.startswith("│")]
    cells = [[cell.strip() for cell in row[:4]] for row in rows]
    assert cells == [
        ["2", "invalid_line", "FACILITY_1", "'FG#1'"],
        ["3", "invalid_line", "'FACILITY_1 '", "FG001"],
        ["4", "invalid_line", "'[red]X'", "FG001"],
        ["5", "invalid_line", "FACILITY_1", "FG002"],
    ]


def test_a_source_longer_than_the_audit_row_takes_is_refused_before_anything(
    env: str, seeded: Database, tmp_path: Path
) -> None:
    """A 300-character --source ended in the database's "value too long" traceback, exit 1
    (outside tester); the API refuses the same source with a 422."""
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "FACILITY_1,FG001,50,\n")
    result = runner.invoke(app, ["reset", str(good), "--source", "s" * 256])
    assert result.exit_code == 2, result.output
    assert "--source: at most 255 characters (got 256)" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    with seeded.reading() as session:
        assert session.scalar(select(func.count()).select_from(ExternalInventoryReset)) == 0
    kept = runner.invoke(app, ["reset", str(good), "--source", "s" * 255])
    assert kept.exit_code == 0, kept.output
    with seeded.reading() as session:
        assert session.scalars(select(ExternalInventoryReset.source)).all() == ["s" * 255]


def test_a_file_starting_with_a_blank_line_is_told_where_its_header_must_be(
    env: str, seeded: Database, tmp_path: Path
) -> None:
    """It said "…; got ; nothing applied", naming nothing (outside tester)."""
    blank = tmp_path / "blank.csv"
    blank.write_text("\n" + HEADER + "FACILITY_1,FG001,50,\n")
    result = runner.invoke(app, ["reset", str(blank)])
    assert result.exit_code == 2, result.output
    assert "got an empty line (the header must be the first line)" in " ".join(result.output.split())
    commas = tmp_path / "commas.csv"  # fields, all empty: no blank line, and said as it stands
    commas.write_text(",,,\n" + HEADER + "FACILITY_1,FG001,50,\n")
    told = " ".join(runner.invoke(app, ["reset", str(commas)]).output.split())
    assert "; got ,,,; nothing applied" in told
    assert _reset_rows(seeded) == 0


def test_ctrl_c_once_the_commit_started_leaves_the_reset_applied_and_says_so(
    env: str, seeded: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interrupt landing in the COMMIT or the ANALYZE after it ended the command with
    "nothing applied", exit 130, when the reset was committed (outside tester): from the commit
    on it is noted, and the outcome stands."""
    good = tmp_path / "late.csv"
    good.write_text(HEADER + "FACILITY_1,FG001,50,\n")

    applied = reset_cli.reset_inventory

    def marked(session: Session, *args: Any, **kwargs: Any) -> Any:  # the reset's own transaction
        session.info["the reset's"] = True
        return applied(session, *args, **kwargs)

    monkeypatch.setattr(reset_cli, "reset_inventory", marked)

    def interrupt(session: Session, transaction: SessionTransaction) -> None:
        """Once the reset's own transaction (not a savepoint of it) has committed: in the wake of
        its COMMIT, before the ANALYZE after it."""
        if session.info.get("the reset's") and transaction.parent is None and not transaction.nested:
            signal.raise_signal(signal.SIGINT)

    event.listen(Session, "after_transaction_end", interrupt)
    try:
        result = runner.invoke(app, ["reset", str(good)])
    finally:
        event.remove(Session, "after_transaction_end", interrupt)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "1 lines, 1 changed, 0 unchanged, 0 failed" in said
    assert "late.csv: interrupted after the commit: reset IR" in said
    assert "is applied" in said
    assert "nothing applied" not in said
    assert _qoh(seeded, "FG001") == Decimal(50)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back


def test_a_source_or_file_name_that_is_not_utf8_is_no_traceback(
    env: str, seeded: Database, tmp_path: Path
) -> None:
    """A Latin-1 file name (an ERP's drop folder), or such a --source, ended in a
    UnicodeEncodeError traceback, exit 1 (outside tester)."""
    latin1 = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.csv"))
    latin1.write_text(HEADER + "FACILITY_1,FG001,50,\n")
    named = runner.invoke(app, ["reset", str(latin1)])
    assert named.exit_code == 0, named.output
    with seeded.reading() as session:
        assert session.scalars(select(ExternalInventoryReset.source)).all() == ["caf\ufffd.csv"]
    refused = runner.invoke(app, ["reset", str(latin1), "--source", "caf\udce9"])
    assert refused.exit_code == 2, refused.output
    assert "--source: not UTF-8 text" in refused.output
    with seeded.reading() as session:
        assert len(session.scalars(select(ExternalInventoryReset.source)).all()) == 1
