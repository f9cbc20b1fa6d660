"""A reset run's failed lines are written in the run's own transaction (both databases): stored when
it commits, with the run's facility as their key; gone with it when it rolls back."""

import pytest
from sqlalchemy import func, select

from stockledger.core.db import Database
from stockledger.resets.failures import ALL_FACILITIES, STORED_FAILURES
from stockledger.resets.models import ExternalInventoryResetFailure
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory
from tests.scope_support import second_facility


def _stored(db: Database) -> list[tuple[str, str, int, str]]:
    f = ExternalInventoryResetFailure
    with db.reading() as session:
        rows = session.execute(
            select(f.facility_id, f.inventory_reset_id, f.line_number, f.code).order_by(f.line_number)
        )
        return [tuple(row) for row in rows]


class Abandoned(Exception):
    pass


def test_failures_roll_back_with_their_run(seeded: Database) -> None:
    lines = [RawLine(2, "FACILITY_1", "NO_SUCH", "1"), RawLine(3, "FACILITY_1", "FG001", "4")]
    with pytest.raises(Abandoned), seeded.transaction() as session:
        reset_inventory(session, lines, "abandoned")
        assert session.scalar(select(func.count()).select_from(ExternalInventoryResetFailure)) == 1
        raise Abandoned
    assert _stored(seeded) == []
    with seeded.transaction() as session:
        run = reset_inventory(session, lines, "kept")
    assert _stored(seeded) == [("FACILITY_1", run.inventory_reset_id, 2, "unknown_product")]


def test_a_run_over_facilities_keeps_its_failures_under_all(seeded: Database) -> None:
    second_facility(seeded)
    lines = [RawLine(n, "FACILITY_1", "NO_SUCH", "1") for n in range(STORED_FAILURES + 5)]
    lines += [RawLine(9_000, "FACILITY_1", "FG001", "4"), RawLine(9_001, "FACILITY_2", "FG001", "4")]
    with seeded.transaction() as session:
        run = reset_inventory(session, lines, "two facilities", batch_size=300)
    stored = _stored(seeded)
    assert run.lines_failed == STORED_FAILURES + 5
    assert [row[2] for row in stored] == list(range(STORED_FAILURES))
    assert {(row[0], row[1]) for row in stored} == {(ALL_FACILITIES, run.inventory_reset_id)}
