"""Plans stay right after bulk work: a reset, a load and an import ANALYZE (PostgreSQL) the tables
they grew substantially, once per run, after the commit; a small change analyses nothing.
(SQLite keeps no statistics unless asked to: nothing is run there.)"""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

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
