"""What a feature may ask of the database (core.dialects), answered by what each database does."""

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from stockledger.core.db import Database
from stockledger.core.dialects import serialises_writers

NEW_PRODUCT = text("INSERT INTO product (product_id, created_stamp) VALUES (:p, CURRENT_TIMESTAMP)")


def test_serialises_writers_means_a_second_writer_waits_for_the_first(db: Database) -> None:
    """SQLite: a write transaction holds the database from BEGIN, so a second writer cannot
    start its write until the first commits (no row lock needed for a consistent read).
    PostgreSQL: two writers run side by side; a reader that relies on rows locks them."""
    with db.transaction() as first:
        serialised = serialises_writers(first)
        first.execute(
            text("INSERT INTO product (product_id, created_stamp) VALUES ('CAP1', CURRENT_TIMESTAMP)")
        )

        other = Database(db.engine.url.render_as_string(hide_password=False), busy_timeout=0.3)

        def second_writer() -> str:
            try:
                with other.transaction() as second:
                    if db.is_postgres:
                        second.execute(text("SET LOCAL lock_timeout = '2s'"))
                    second.execute(NEW_PRODUCT, {"p": "CAP2"})
                return "wrote"
            except Exception as refused:
                return type(refused).__name__

        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(second_writer).result()
        other.dispose()
    assert serialised == (not db.is_postgres)
    assert (answer == "wrote") == (not serialised)
    with db.transaction() as session:
        session.execute(text("DELETE FROM product WHERE product_id IN ('CAP1', 'CAP2')"))
