"""The one-statement reservation writes the rows the generic builders make (ledger/postings.py
`detail_values`, ledger/reservation_rows.py `ReservationRow`), column by column: its SQL names
each value once (`DETAIL_EXPRESSIONS`, `RESERVATION_EXPRESSIONS`) instead of binding their rows."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from stockledger.core.statements import bound, numbered
from stockledger.ledger.postings import DETAIL, Links, Posting, detail_values
from stockledger.ledger.reservation_rows import RES, RES_ACTIVE, ReservationRow
from stockledger.ledger.sole_item_pg import (
    DETAIL_EXPRESSIONS,
    RESERVATION_EXPRESSIONS,
    SoleItemReservation,
    sole_item_statement,
)

DIALECT = PGDialect_psycopg()
QUANTITY = Decimal("2.5")


def _statement_values(expressions: dict[str, str], user: str | None) -> dict[str, Any]:
    reservation = SoleItemReservation(
        "F1", "O1", "3", "P1", None, QUANTITY, "RESERVATION", "StockReserved", lambda i: {"itemId": i}
    )
    params = sole_item_statement(DIALECT, reservation, user).params
    constants: dict[str, Any] = {"NULL": None, "0": 0, f"'{RES_ACTIVE}'": RES_ACTIVE}
    return {column: params[e[1:]] if e.startswith(":") else constants[e] for column, e in expressions.items()}


def _now(values: dict[str, Any]) -> datetime:
    stamp = values["created_stamp" if "created_stamp" in values else "reserved_datetime"]
    assert isinstance(stamp, datetime)
    assert stamp.tzinfo is None  # the driver's form: naive UTC
    return stamp.replace(tzinfo=UTC)


@pytest.mark.parametrize("user", ["someone", None])
def test_the_detail_row_is_the_postings(user: str | None) -> None:
    values = _statement_values(DETAIL_EXPRESSIONS, user)
    links = Links(order_id="O1", order_item_seq_id="3", change_by_user_login_id=user)
    posting = Posting("F1", "I1", "RESERVATION", available_to_promise_diff=-QUANTITY, links=links)
    expected = bound(DIALECT, DETAIL, detail_values(posting, 7, "00007", _now(values)))
    del expected["inventory_item_id"], expected["inventory_item_detail_seq_id"], expected["seq_num"]
    assert values == expected


def test_the_reservation_row_is_the_generic_one() -> None:
    values = _statement_values(RESERVATION_EXPRESSIONS, "someone")
    row = ReservationRow("F1", "O1", "3", "I1", "P1", QUANTITY, Decimal(0), _now(values))
    expected = bound(DIALECT, RES, row.values())
    del expected["inventory_item_id"]
    assert values == expected


def test_the_statement_sends_each_value_once() -> None:
    reservation = SoleItemReservation(
        "F1", "O1", "3", "P1", "LOT-1", QUANTITY, "RESERVATION", "StockReserved", lambda i: {"itemId": i}
    )
    sql, values = numbered(sole_item_statement(DIALECT, reservation, "someone"))
    assert len(values) == 13  # 12, and the lot
    assert "$14" not in sql
