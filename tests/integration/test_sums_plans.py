"""core.sums on SQLite: the overflow guard after a bulk write finds the items it is given by their
key, not by a search of the facility's items (which every batch of a big reset would repeat)."""

import pytest
from sqlalchemy import text

from stockledger.core import sums
from stockledger.core.db import Database


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("statement", [sums._ITEM_SUMS, sums._RESERVED_SUMS])
def test_the_guard_searches_items_by_key(db: Database, backend: str, statement: object) -> None:
    with db.reading() as session:
        plan = session.execute(
            text(f"EXPLAIN QUERY PLAN {statement}"), {"f": "F1", "ids": '["I1", "I2"]'}
        ).all()
    details = [row[3] for row in plan]
    searches = [d for d in details if d.startswith("SEARCH")]
    assert len(searches) == 2, details
    assert all("product_id=?" in d or "inventory_item_id=?" in d for d in searches), details
    assert not any(d.startswith("SCAN") and "json_each" not in d and "VIRTUAL" not in d for d in details)
