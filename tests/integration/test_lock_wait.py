"""core.dialects.lock_wait_at_most: a bounded wait for row locks, the one place that sets it."""

import pytest
from sqlalchemy import text

from stockledger.core.db import Database
from stockledger.core.dialects import LockWaitExceeded, lock_wait_at_most
from tests.conftest import POSTGRES_LIKE

RENAME = text("UPDATE product SET product_name = :n WHERE product_id = 'FG001'")


def test_statements_in_the_block_run_and_the_wait_is_reset_after(seeded: Database) -> None:
    with seeded.transaction() as session:
        with lock_wait_at_most(session, 2.0):
            if seeded.is_postgres:  # bound as whole milliseconds
                assert session.execute(text("SHOW lock_timeout")).scalar_one() == "2s"
            session.execute(RENAME, {"n": "renamed"})
        if seeded.is_postgres:  # back to the server's default for the rest of the transaction
            assert session.execute(text("SHOW lock_timeout")).scalar_one() == "0"
    with seeded.reading() as session:
        name = session.execute(text("SELECT product_name FROM product WHERE product_id = 'FG001'"))
        assert name.scalar_one() == "renamed"


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_a_lock_held_longer_than_the_wait_raises_lock_wait_exceeded(seeded: Database) -> None:
    with seeded.transaction() as holder:
        holder.execute(RENAME, {"n": "held"})  # the row stays locked until this block ends
        with (
            pytest.raises(LockWaitExceeded),
            seeded.transaction() as waiter,
            lock_wait_at_most(waiter, 0.05),
        ):
            waiter.execute(RENAME, {"n": "waited"})
    with seeded.reading() as session:
        name = session.execute(text("SELECT product_name FROM product WHERE product_id = 'FG001'"))
        assert name.scalar_one() == "held"
