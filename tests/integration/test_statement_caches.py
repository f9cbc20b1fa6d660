"""core.statements' caches stay bounded however many statement shapes the application sends."""

from sqlalchemy import bindparam, literal_column, select

from stockledger.core.db import Database
from stockledger.core.dialects import from_arrays
from stockledger.core.statements import CACHES, STATEMENT_CACHE_SIZE, Statement, run, run_together
from stockledger.ledger.models import Product

MORE = STATEMENT_CACHE_SIZE + 40  # distinct shapes: more than a cache holds


def _sizes() -> dict[str, int]:
    return {cache.__name__: cache.cache_info().currsize for cache in CACHES}


def test_distinct_sql_texts_do_not_grow_the_caches_past_their_size(db: Database) -> None:
    with db.transaction() as session:
        for n in range(MORE):
            assert run(session, Statement(f"SELECT {n} + :k", {"k": 1})) == [(n + 1,)]
            pair = [Statement(f"SELECT {n} + :k AS v", {"k": 2}), Statement(f"SELECT {n} AS w", {})]
            if db.is_postgres:  # one statement of two CTEs; SQLite runs them in turn
                assert run_together(session, pair) == [(n + 2,)]
    sizes = _sizes()
    assert all(size <= STATEMENT_CACHE_SIZE for size in sizes.values()), sizes
    assert sizes["_returns_rows"] == STATEMENT_CACHE_SIZE  # full: it did cache, and evicted
    with db.transaction() as session:  # evicted shapes still run
        assert run(session, Statement("SELECT 0 + :k", {"k": 5})) == [(5,)]


def test_distinct_selects_and_batch_shapes_do_not_grow_the_caches_past_their_size(db: Database) -> None:
    for n in range(MORE):
        statement = select(literal_column(str(n)), Product.product_id).where(
            Product.product_id == bindparam("p")
        )
        assert db.fetch_one(statement, {"p": "none"}) is None
    if db.is_postgres:  # a batch's SQL differs with its row count (generate_series(1, N))
        with db.transaction() as session:
            for n in range(1, MORE):
                sql, params = from_arrays(session, Product.__table__, [{"product_id": "P"}] * n)
                assert len(run(session, Statement(sql, params))) == n
    sizes = _sizes()
    assert all(size <= STATEMENT_CACHE_SIZE for size in sizes.values()), sizes
    assert sizes["lean_select"] == STATEMENT_CACHE_SIZE
