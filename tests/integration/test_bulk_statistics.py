"""Plans stay right after bulk work: a reset, a load and an import ANALYZE (PostgreSQL) the tables
they grew substantially, once per run, after the commit; a small change analyses nothing.
(SQLite keeps no statistics unless asked to: nothing is run there.)"""

import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from stockledger.app import create_app
from stockledger.catalog.cli import load_documents
from stockledger.core.db import Database
from stockledger.ledger.rules_check import check_rules
from stockledger.ledger.verify import find_mismatches
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory
from tests.databases import fresh_postgres

F = "FACILITY_BULK"
ITEMS = 2_000
STATS = (
    "SELECT s.relname, s.last_analyze, c.reltuples FROM pg_stat_user_tables s "
    "JOIN pg_class c ON c.oid = s.relid WHERE s.relname = ANY(:names)"
)
GROWN_BY_LOAD = ["product", "product_facility"]
GROWN_BY_RESET = ["inventory_item", "inventory_item_detail"]


@pytest.fixture
def fresh() -> Iterator[Database]:
    with fresh_postgres("stockledger_stats") as url:
        database = Database(url)
        yield database
        with database.reading() as session:  # what the db fixture checks after every test
            assert find_mismatches(session) == []
            assert {name: n for name, n in check_rules(session).items() if n} == {}
        database.dispose()


def _facility(products: int, prefix: str = "P") -> dict[str, Any]:
    return {
        "facilityId": F,
        "facilityName": "Bulk",
        "products": [{"productId": f"{prefix}{n:05d}", "productFacility": {}} for n in range(products)],
    }


def _stats(db: Database, names: list[str]) -> dict[str, tuple[datetime | None, float]]:
    with db.engine.connect() as conn:
        rows = conn.execute(text(STATS), {"names": names}).all()
    return {name: (analysed, float(tuples)) for name, analysed, tuples in rows}


def _reset(db: Database, lines: int, quantity: int) -> None:
    raw = [RawLine(n + 1, F, f"P{n:05d}", quantity, None) for n in range(lines)]
    with db.transaction() as session:
        outcome = reset_inventory(session, raw, "stats test")
    assert outcome.lines_failed == 0


def test_a_load_and_a_reset_into_a_fresh_database_analyse_what_they_grew(fresh: Database) -> None:
    before = _stats(fresh, GROWN_BY_LOAD + GROWN_BY_RESET)
    assert all(analysed is None for analysed, _ in before.values())

    load_documents(fresh, [("products.json", _facility(ITEMS))])
    loaded = _stats(fresh, GROWN_BY_LOAD + GROWN_BY_RESET)
    for name in GROWN_BY_LOAD:
        assert loaded[name][0] is not None, name
        assert loaded[name][1] == ITEMS, name
    assert all(loaded[name][0] is None for name in GROWN_BY_RESET)  # nothing added there yet

    _reset(fresh, ITEMS, 5)
    reset = _stats(fresh, GROWN_BY_LOAD + GROWN_BY_RESET)
    for name in GROWN_BY_RESET:
        assert reset[name][0] is not None, name
        assert reset[name][1] == ITEMS, name
    assert all(reset[name][0] == loaded[name][0] for name in GROWN_BY_LOAD)  # grown by nothing

    # A small change (10 rows on 2,000), right after the big one on the same pooled connection
    # (whose server process may not have reported the big one's inserts yet): no ANALYZE.
    # (last_analyze only: autovacuum may update reltuples.)
    _reset(fresh, 10, 7)
    small = _stats(fresh, GROWN_BY_LOAD + GROWN_BY_RESET)
    assert {name: s[0] for name, s in small.items()} == {name: s[0] for name, s in reset.items()}


def test_a_reset_rolled_back_analyses_nothing(fresh: Database) -> None:
    load_documents(fresh, [("products.json", _facility(ITEMS))])
    with pytest.raises(RuntimeError), fresh.transaction() as session:
        reset_inventory(session, [RawLine(n + 1, F, f"P{n:05d}", 3, None) for n in range(ITEMS)])
        raise RuntimeError("interrupted before the commit")
    assert all(analysed is None for analysed, _ in _stats(fresh, GROWN_BY_RESET).values())


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_an_import_through_the_api_analyses_the_tables_it_grew(client: TestClient, db: Database) -> None:
    before = _stats(db, GROWN_BY_LOAD)
    answer = client.post("/v1/import", json=_facility(1_200, prefix="API"))
    assert answer.status_code == 200, answer.text
    after = _stats(db, GROWN_BY_LOAD)
    for name in GROWN_BY_LOAD:
        analysed = after[name][0]
        assert analysed is not None, name
        assert before[name][0] is None or analysed > before[name][0], name
        assert after[name][1] == 1_200, name

    small = client.post("/v1/import", json=_facility(3, prefix="SMALL"))
    assert small.status_code == 200, small.text
    assert {n: s[0] for n, s in _stats(db, GROWN_BY_LOAD).items()} == {n: s[0] for n, s in after.items()}


def _analysed(db: Database, names: list[str]) -> dict[str, datetime | None]:
    return {name: analysed for name, (analysed, _) in _stats(db, names).items()}


def test_imports_analyse_a_table_once_it_grew_by_half_since_its_last_analyze(fresh: Database) -> None:
    """Not after every import that added 1,000 rows (≥ STOCKLEDGER_ANALYZE_GROWN_ROWS) and 10 %
    of the rows known, as before: once the table has grown by half (GROWN_SHARE 0.5) since its
    last ANALYZE, the rows of the imports in between counted too."""
    with fresh.engine.begin() as conn:  # autovacuum's ANALYZE or VACUUM would count pages too
        for name in GROWN_BY_LOAD:
            conn.execute(text(f"ALTER TABLE {name} SET (autovacuum_enabled = off)"))
    load_documents(fresh, [("products.json", _facility(4_000))])  # never analysed: analysed
    first = _analysed(fresh, GROWN_BY_LOAD)
    assert all(analysed is not None for analysed in first.values()), first

    load_documents(fresh, [("more.json", _facility(1_500, prefix="M"))])  # 4,000 → 5,500: no
    assert _analysed(fresh, GROWN_BY_LOAD) == first

    load_documents(fresh, [("again.json", _facility(1_500, prefix="N"))])  # → 7,000: grown by 3/4
    again = _analysed(fresh, GROWN_BY_LOAD)
    for name in GROWN_BY_LOAD:
        analysed, before = again[name], first[name]
        assert analysed is not None, name
        assert before is not None, name
        assert analysed > before, name
    rows = {name: s[1] for name, s in _stats(fresh, GROWN_BY_LOAD).items()}
    assert rows == dict.fromkeys(GROWN_BY_LOAD, 7_000)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_an_import_of_3_8_more_through_the_api_analyses_nothing(client: TestClient, db: Database) -> None:
    """4,000 products imported into a fresh table: analysed. 1,500 more (≥ 1,000 rows, ≥ 10 % of
    the rows known: analysed before): the table has grown by 3/8 since, not by half: no
    ANALYZE (before: one; 100,000 products imported 10,000 a request ran one after each)."""
    first = client.post("/v1/import", json=_facility(4_000, prefix="BIG"))
    assert first.status_code == 200, first.text
    analysed = _analysed(db, GROWN_BY_LOAD)
    assert all(at is not None for at in analysed.values()), analysed

    more = client.post("/v1/import", json=_facility(1_500, prefix="MORE"))
    assert more.status_code == 200, more.text
    assert _analysed(db, GROWN_BY_LOAD) == analysed  # (last_analyze: autovacuum's is another column)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_an_import_on_a_pool_of_one_connection_answers_at_once_and_analyses(
    db: Database, db_url: str, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STOCKLEDGER_DB_POOL_SIZE=1 (one connection and an overflow of one): the ANALYZE after the
    commit ran on connections of its own while the request still held its own, waited the pool's
    30 s for a third, and the import, committed, answered 503 database_busy "nothing was
    changed" (an outside tester). Now each table is analysed once the request has handed its
    connection back, as many at once as the pool spares."""
    monkeypatch.setenv("STOCKLEDGER_DB_POOL_SIZE", "1")
    app = create_app(db_url)
    assert app.state.db.engine.pool.size() == 1
    headers = {"Authorization": f"Bearer {admin_token}"}
    with TestClient(app, raise_server_exceptions=False, headers=headers) as client:
        began = time.monotonic()
        answer = client.post("/v1/import", json=_facility(1_500, prefix="ONE"))
        took = time.monotonic() - began
    assert answer.status_code == 200, answer.text
    assert took < 20, took  # the pool's wait is 30 s
    analysed = _analysed(db, GROWN_BY_LOAD)
    assert all(at is not None for at in analysed.values()), analysed
    assert {name: s[1] for name, s in _stats(db, GROWN_BY_LOAD).items()} == dict.fromkeys(
        GROWN_BY_LOAD, 1_500
    )


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_first_imports_of_a_new_server_on_a_small_pool_do_not_wait_for_each_other(
    db: Database, db_url: str, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four imports at once as a new server's first requests, STOCKLEDGER_DB_POOL_SIZE=2 (four
    connections in all): each held its connection, and the first asked whether the database is a
    Citus coordinator on a connection of its own, while holding the facility's row the others
    waited on: 30 s, then 503 database_busy (an outside tester). Now asked on the connection
    the request holds."""
    monkeypatch.setenv("STOCKLEDGER_DB_POOL_SIZE", "2")
    app = create_app(db_url)
    headers = {"Authorization": f"Bearer {admin_token}"}
    with TestClient(app, raise_server_exceptions=False, headers=headers) as client:
        began = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            answers = list(
                pool.map(lambda k: client.post("/v1/import", json=_facility(1_000, prefix=f"C{k}")), range(4))
            )
        took = time.monotonic() - began
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert took < 20, took  # the pool's wait is 30 s
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM product")).scalar_one() == 4_000


def test_an_interrupted_load_analyses_what_committed_before_the_interrupt(fresh: Database) -> None:
    """Ctrl-C while a later document waits: the documents committed on the load's threads before
    it count too, and the tables they grew are analysed before the load stops."""
    load_documents(fresh, [("0.json", _named("A1"))])
    main = threading.main_thread().ident
    assert main is not None

    def interrupt_once_committed() -> None:  # the big document committed, the last one waiting
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with fresh.engine.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM product")).scalar_one() > ITEMS:
                    break
            time.sleep(0.05)
        signal.pthread_kill(main, signal.SIGINT)

    committed: list[Any] = []
    with fresh.engine.connect() as other:
        other.execute(text("SELECT product_id FROM product WHERE product_id = 'A1' FOR UPDATE"))
        watcher = threading.Thread(target=interrupt_once_committed, daemon=True)
        watcher.start()
        documents = [
            ("1.json", _named("Z1")),
            ("2.json", _facility(ITEMS)),  # written on a thread of the load's
            ("3.json", {**_facility(0), "products": [{"productId": "A1", "productName": "Renamed"}]}),
        ]
        with pytest.raises(KeyboardInterrupt):  # 3.json waits to rename A1, which `other` holds
            load_documents(fresh, documents, None, committed)
        watcher.join(timeout=30)
        other.rollback()
    assert [name for name, _ in committed] == ["1.json", "2.json"]
    stats = _stats(fresh, GROWN_BY_LOAD)
    for name in GROWN_BY_LOAD:
        assert stats[name][0] is not None, name  # analysed: before the fix, only 1.json's row counted
        assert stats[name][1] == ITEMS + 2, name  # A1, Z1 and the 2,000


def _named(*products: str) -> dict[str, Any]:
    return {**_facility(0), "products": [{"productId": p, "productFacility": {}} for p in products]}
