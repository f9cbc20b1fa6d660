"""core/bulk.py on both databases: rows streamed into a table (COPY on PostgreSQL, executemany on
SQLite) and a bulk transaction's memory settings (PostgreSQL only), as the ERP reset uses them."""

from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from stockledger.core.bulk import copy_rows, insert_computed, session_settings
from stockledger.core.config import get_settings, settings_problem
from stockledger.core.db import Database
from stockledger.ledger.views import availability
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory

ROWS = [(1, "plain", None), (2, 'quote " and \\ backslash', "é"), (3, "tab\tand\nnewline", "x")]


def _setting(db: Database, name: str) -> str:
    with db.reading() as session:
        return str(session.execute(text(f"SELECT current_setting('{name}')")).scalar_one())


def test_copy_rows_appends_every_row_as_given(db: Database) -> None:
    with db.transaction() as session:
        session.execute(text('CREATE TEMP TABLE "bulk Rows" (n integer, "the text" text, other text)'))
        copied = copy_rows(session, "bulk Rows", ["n", "the text", "other"], iter(ROWS))
        assert copied == 3
        stored = session.execute(text('SELECT n, "the text", other FROM "bulk Rows" ORDER BY n')).all()
        assert [tuple(row) for row in stored] == ROWS
        session.execute(text('DROP TABLE "bulk Rows"'))


@pytest.mark.parametrize("backend", ["sqlite"])
def test_insert_computed_stores_each_row_with_what_the_database_computes_of_it(
    db: Database, backend: str
) -> None:
    """SQLite: the rows streamed (a generator, never a list) into one executemany whose VALUES
    compute a column from the row's own values; every row comes, in order."""
    with db.transaction() as session:
        session.execute(
            text("CREATE TEMP TABLE bulk_computed (ord INTEGER PRIMARY KEY, n integer, twice integer)")
        )
        rows = ((n,) for n in range(20_001))
        assert insert_computed(session, "bulk_computed", ["n", "twice"], "?1, ?1 * 2", rows) == 20_001
        stored = session.execute(
            text("SELECT count(*), sum(twice), min(ord), max(n) FROM bulk_computed")
        ).one()
        assert tuple(stored) == (20_001, 20_000 * 20_001, 1, 20_000)
        session.execute(text("DROP TABLE bulk_computed"))


def test_copy_rows_of_nothing_copies_nothing_and_long_streams_come_whole(db: Database) -> None:
    with db.transaction() as session:
        session.execute(text("CREATE TEMP TABLE bulk_many (n integer)"))
        assert copy_rows(session, "bulk_many", ["n"], []) == 0
        assert copy_rows(session, "bulk_many", ["n"], ((n,) for n in range(25_001))) == 25_001
        assert tuple(session.execute(text("SELECT count(*), sum(n) FROM bulk_many")).one()) == (
            25_001,
            312_512_500,
        )
        session.execute(text("DROP TABLE bulk_many"))


def test_session_settings_hold_for_the_transaction_only(db: Database) -> None:
    postgres = db.engine.dialect.name == "postgresql"
    with db.transaction() as session:
        session_settings(session, work_mem="3MB", jit=False, fast_compression=True)
        if postgres:
            shown = session.execute(
                text(
                    "SELECT current_setting('work_mem'), current_setting('jit'), "
                    "current_setting('default_toast_compression')"
                )
            ).one()
            assert tuple(shown) == ("3MB", "off", "lz4")  # this server has lz4 (Debian's PostgreSQL 15)
    if postgres:
        assert _setting(db, "work_mem") != "3MB"
        assert _setting(db, "default_toast_compression") == "pglz"


def test_the_reset_takes_its_memory_from_the_settings(
    seeded: Database, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the set-based reset's transaction runs with STOCKLEDGER_RESET_WORK_MEM and its
    connection with STOCKLEDGER_RESET_TEMP_BUFFERS; elsewhere they change nothing (SQLite has
    no such settings, Citus takes the line batches)."""
    seeded.engine.dispose()  # a fresh connection: temp_buffers is set before its first temporary table
    monkeypatch.setenv("STOCKLEDGER_RESET_WORK_MEM", "7MB")
    monkeypatch.setenv("STOCKLEDGER_RESET_TEMP_BUFFERS", "9MB")
    with seeded.transaction() as session:
        outcome = reset_inventory(session, [RawLine(1, "FACILITY_1", "FG001", "42", None)])
        assert (outcome.lines_total, outcome.lines_failed) == (1, 0)
        assert availability(session, "FACILITY_1", "FG001").quantity_on_hand_total == Decimal("42")
        if backend == "postgres":
            shown = session.execute(
                text("SELECT current_setting('work_mem'), current_setting('temp_buffers')")
            )
            assert tuple(shown.one()) == ("7MB", "9MB")


@pytest.mark.parametrize("value", ["lots", "128", "0MB", "1MB; SELECT 1", "-5MB"])
def test_an_unusable_reset_memory_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("STOCKLEDGER_RESET_TEMP_BUFFERS", value)
    with pytest.raises(ValidationError) as refused:
        get_settings()
    assert settings_problem(refused.value).startswith(
        "STOCKLEDGER_RESET_TEMP_BUFFERS String should match pattern"
    )
