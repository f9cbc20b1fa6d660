"""core.statements.violates_not_null: which table and column's NOT NULL refused a row, on each database."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from stockledger.core.db import Database
from stockledger.core.statements import violates_not_null

NAMELESS = text("INSERT INTO product (product_id, product_name) VALUES (NULL, 'x')")


def test_a_null_into_a_not_null_column_is_named_by_its_table_and_column(seeded: Database) -> None:
    with pytest.raises(IntegrityError) as raised, seeded.transaction() as session:
        session.execute(NAMELESS)
    assert violates_not_null(raised.value, "product", "product_id")
    assert not violates_not_null(raised.value, "product", "product_name")
    assert not violates_not_null(raised.value, "order_item", "product_id")


def test_another_integrity_error_is_no_not_null_violation(seeded: Database) -> None:
    again = text("INSERT INTO product (product_id, product_name) VALUES ('FG001', 'x')")
    with pytest.raises(IntegrityError) as raised, seeded.transaction() as session:
        session.execute(again)
    assert not violates_not_null(raised.value, "product", "product_id")
