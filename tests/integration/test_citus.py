"""`stockledger migrate` on a Citus cluster: every table placed, foreign keys kept, writes routed.

The tests of the cluster run where STOCKLEDGER_TEST_CITUS_URL names its coordinator
(`scripts/citus.sh start` prints it); the classification check runs on plain PostgreSQL too.
"""

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, event, inspect, text

from stockledger.core import citus, migrate
from stockledger.core.db import Database
from stockledger.ledger.views import product_facility_inventory_item
from stockledger.reservations.service import ReserveLine
from tests.databases import CITUS_TEST_SHARDS
from tests.reserve_support import reserve_line
from tests.stock_support import FACILITY, add_sole_item, receive

on_citus = pytest.mark.parametrize("backend", ["citus"], indirect=True)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_every_migrated_table_is_declared_for_citus(db: Database) -> None:
    """A new table must be placed on purpose: distributed by facility, reference or coordinator."""
    declared = {*citus.REFERENCE_TABLES, *citus.DISTRIBUTED_TABLES, *citus.COORDINATOR_TABLES}
    assert set(inspect(db.engine).get_table_names()) == declared


def test_the_lists_do_not_overlap() -> None:
    lists = [citus.REFERENCE_TABLES, citus.DISTRIBUTED_TABLES, citus.COORDINATOR_TABLES]
    assert sum(len(set(names)) for names in lists) == len(set().union(*lists))


@on_citus
def test_every_table_is_distributed_by_facility_or_replicated(db: Database) -> None:
    with db.engine.connect() as conn:
        placed = conn.execute(
            text(
                "SELECT table_name::text, citus_table_type, distribution_column, colocation_id "
                "FROM citus_tables"
            )
        ).all()
    kinds = {name: kind for name, kind, _column, _colocation in placed}
    assert kinds == {
        **dict.fromkeys(citus.REFERENCE_TABLES, "reference"),
        **dict.fromkeys(citus.DISTRIBUTED_TABLES, "distributed"),
    }
    distributed = {
        (column, colocation) for _name, kind, column, colocation in placed if kind == "distributed"
    }
    assert len(distributed) == 1  # one co-location group, one column
    assert next(iter(distributed))[0] == "facility_id"


@on_citus
def test_every_foreign_key_of_plain_postgresql_is_kept(db: Database, postgres_url: str) -> None:
    plain = Database(postgres_url)
    try:
        with plain.engine.connect() as conn:
            expected = {(fk.table, fk.name, fk.definition) for fk in citus.foreign_keys(conn)}
    finally:
        plain.dispose()
    with db.engine.connect() as conn:
        kept = {(fk.table, fk.name, fk.definition) for fk in citus.foreign_keys(conn)}
    assert len(expected) > 25
    assert kept == expected


@on_citus
def test_migrate_again_places_nothing_and_the_view_still_answers(seeded: Database) -> None:
    migrate.upgrade(seeded.engine)
    assert citus.distribute(seeded.engine) == []
    with seeded.reading() as session:
        rows = session.execute(product_facility_inventory_item.select()).all()
    assert len(rows) >= 3


@on_citus
def test_a_table_in_no_list_stops_the_step(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE stray_table (facility_id varchar(60) PRIMARY KEY)"))
    try:
        with pytest.raises(citus.UnclassifiedTable, match="stray_table"):
            citus.distribute(db.engine)
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE stray_table"))


def _plan(conn: Connection, sql: str, params: Any) -> str:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(f"EXPLAIN {sql}", params)
    return "\n".join(row[0] for row in cursor.fetchall())


def _assert_router(plan: str, sql: str) -> None:
    """One task on one shard, and no part of the statement planned apart: a statement whose
    CTEs Citus cannot send as a whole runs them as "Distributed Subplan"s (each with tasks of
    its own) before the final task, which alone may say Task Count: 1."""
    assert "Custom Scan (Citus" in plan, f"not a distributed plan:\n{sql}\n{plan}"
    counts = re.findall(r"Task Count: (\d+)", plan)
    assert counts == ["1"], f"more than one task:\n{sql}\n{plan}"
    assert "Distributed Subplan" not in plan, f"planned in parts:\n{sql}\n{plan}"


@on_citus
def test_every_write_of_the_sole_item_reservation_is_a_single_shard_plan(
    seeded: Database, writes: list[tuple[str, Any]], reads: list[tuple[str, Any]]
) -> None:
    """On Citus the one statement of ledger/sole_item_pg.py is written in steps that each stay on
    the facility's shard (ledger/sole_item_steps_pg.py); the one read of the order item's claims in
    the other facilities goes to every shard and writes nothing."""
    item = add_sole_item(seeded, "SOLO-1", 10)
    assert citus.shards_by_facility(seeded.engine)  # asked before the recording: not in it
    writes.clear()
    reads.clear()
    outcome = reserve_line(seeded, "O-PLAN", FACILITY, ReserveLine("1", "SOLO-1", Decimal(3)))
    assert [(r.inventory_item_id, r.quantity) for r in outcome.lines[0].reservations] == [(item, 3)]
    assert [_written(sql) for sql, _ in writes] == [
        "inventory_item",  # the guarded post: WITH picked …, posted AS (UPDATE …) SELECT
        "inventory_item_detail",
        "order_item_inventory_reservation",
        "outbox_event",
        "order_item",
    ]
    with seeded.engine.connect() as conn:
        for sql, params in writes:
            _assert_router(_plan(conn, sql, params), sql)
        [(read, params)] = reads
        assert re.findall(r"Task Count: (\d+)", _plan(conn, read, params)) == [str(CITUS_TEST_SHARDS)]
    assert read.startswith("SELECT 1 FROM order_item WHERE")


def _written(sql: str) -> str:
    """The table a statement writes: its INSERT's, or its writing CTE's UPDATE's."""
    found = re.search(r"(?:INSERT INTO|UPDATE) (\w+)", sql)
    assert found is not None, sql
    return found.group(1)


@on_citus
def test_the_router_check_sees_a_statement_over_every_shard(seeded: Database) -> None:
    sql = "UPDATE inventory_item SET status_id = status_id WHERE inventory_item_id = %(i)s"
    with seeded.engine.connect() as conn, pytest.raises(AssertionError, match="more than one task"):
        _assert_router(_plan(conn, sql, {"i": "FG001-INV-001"}), sql)


@pytest.fixture
def writes(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """Every statement that writes, as the driver received it, while the test runs."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, many: bool) -> None:
        if sql.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE", "WITH"}:
            seen.append((sql, params[0] if many else params))

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def reads(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """Every SELECT, as the driver received it, while the test runs."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, many: bool) -> None:
        if sql.lstrip().split(None, 1)[0].upper() == "SELECT":
            seen.append((sql, params))

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


@on_citus
def test_every_write_of_a_receipt_is_a_single_shard_plan(
    seeded: Database, writes: list[tuple[str, Any]]
) -> None:
    receive(seeded, "PO-PLAN", {"shipmentItemSeqId": "1", "productId": "FG001", "quantityAccepted": 5})
    assert len(writes) >= 3  # the post, its detail row, the receipt, the cost layer, the event
    with seeded.engine.connect() as conn:
        for sql, params in writes:
            _assert_router(_plan(conn, sql, params), sql)


@on_citus
def test_no_rows_stay_behind_in_the_coordinators_copy_of_a_table(db: Database) -> None:
    """Rows written before a table was placed (migration 0001's reference rows, a moved
    database) are copied to the shards; the coordinator's own copy is emptied."""
    with db.engine.connect() as conn:
        sizes = {
            table: conn.execute(text("SELECT pg_relation_size(:t)"), {"t": table}).scalar_one()
            for table in (*citus.REFERENCE_TABLES, *citus.DISTRIBUTED_TABLES)
        }
    assert {table: size for table, size in sizes.items() if size} == {}


@on_citus
def test_a_table_a_later_migration_adds_is_placed_with_its_keys(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a database distributed already (an upgrade): the new table's key to a reference table
    (which makes Citus manage it as a local table at once) and to a distributed one are kept."""
    monkeypatch.setattr(citus, "DISTRIBUTED_TABLES", (*citus.DISTRIBUTED_TABLES, "later_table"))
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE later_table (facility_id varchar(60) REFERENCES facility, "
                "later_id varchar(60), PRIMARY KEY (facility_id, later_id))"
            )
        )
    try:
        assert citus.distribute(db.engine) == ["later_table"]
        with db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE later_table ADD COLUMN inventory_item_id varchar(60)"))
            conn.execute(
                text(
                    "ALTER TABLE later_table "
                    "ADD FOREIGN KEY (facility_id, inventory_item_id) REFERENCES inventory_item"
                )
            )
            keys = {fk.referred for fk in citus.foreign_keys(conn) if fk.table == "later_table"}
            assert "later_table" in citus.placed_tables(conn)
        assert keys == {"facility", "inventory_item"}
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE later_table"))
