"""The set-based reset on PostgreSQL analyses its judged lines (reset_checked) for the columns the
statements after CHECK plan with, and only those (resets/line_sql_pg.py ANALYZE_CHECKED): the
planner then knows how many lines there are and how many are usable (`code` IS NULL: without
statistics it guesses 0.5 % of them, and joins a million lines as if they were a few thousand)."""

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from stockledger.core.db import Database
from stockledger.ledger.models import Facility, Product
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory

FACILITY = "WH_STATS"


def _statistics(session: Session) -> dict[str, float]:
    """The null fraction of each analysed column of this transaction's reset_checked."""
    rows = session.execute(
        text("SELECT attname, null_frac FROM pg_stats WHERE tablename = 'reset_checked' ORDER BY attname")
    )
    return {name: float(null_frac) for name, null_frac in rows}


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_judged_lines_analysed_for_the_columns_planned_with(db: Database) -> None:
    with db.transaction() as session:
        session.add(Facility(facility_id=FACILITY, facility_name="stats"))
        session.add_all([Product(product_id=f"ST{n:03}", product_name="p") for n in range(30)])
    lines = [RawLine(n + 1, FACILITY, f"ST{n:03}", n + 1, None) for n in range(30)]
    lines += [RawLine(31 + n, FACILITY, f"NO{n:03}", 1, None) for n in range(10)]  # unknown products
    with db.transaction() as session:
        outcome = reset_inventory(session, lines)
        assert (outcome.lines_changed, outcome.lines_failed) == (30, 10)
        reltuples = session.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'reset_checked'"))
        assert reltuples.scalar_one() == 40
        assert _statistics(session) == {"code": 0.75, "f": 0.0, "ord": 0.0, "p": 0.0}
