"""A failed reset line shows what it gave (an outside tester: an `invalid_line` said
`facilityId: null` where the line named a facility): both ids as given, in the outcome and in
the failures stored with the run, on both databases and on both ways of applying a reset (the
set-based SQL, and the line batches Citus takes). A line names the facility it gives as an id,
so a run whose failed line gives another facility spans both."""

import io
from collections.abc import Iterable

import pytest

from stockledger.core.db import Database
from stockledger.resets import set_based
from stockledger.resets.failures import reset_failures
from stockledger.resets.rules import LineFailure, RawLine
from stockledger.resets.service import get_reset_run, reset_inventory
from stockledger.resets.sources import csv_lines, csv_text
from tests.scope_support import second_facility

F = "FACILITY_1"
CSV = (
    "facilityId,productId,quantityOnHand\n"  # 1
    "FACILITY_1,FG#1,4\n"  # 2: a character outside the id pattern
    "FAC ILITY,FG001,3\n"  # 3
    "FACILITY_1,FG001,5,9\n"  # 4: a field more than the header
    "FACILITY_1 ,FG002,6\n"  # 5: whitespace after the id
    "FACILITY_1,FG003,7\n"  # 6: applied
)
EXPECTED = [
    (2, "invalid_line", F, "FG#1", "productId 'FG#1' is not a valid id"),
    (3, "invalid_line", "FAC ILITY", "FG001", "facilityId 'FAC ILITY' is not a valid id"),
    (4, "invalid_line", F, "FG001", "has 4 fields, more than the header's 3"),
    (5, "invalid_line", "FACILITY_1 ", "FG002", "facilityId 'FACILITY_1 ' has whitespace"),
]
JSON_LINES = [
    RawLine(1, F, "FG#1", 4),
    RawLine(2, "FAC ILITY", "FG001", 3),
    RawLine(3, F, None, 5),
    RawLine(4, F, "FG003", 7),
]
JSON_EXPECTED = [
    (1, "invalid_line", F, "FG#1", "productId 'FG#1' is not a valid id"),
    (2, "invalid_line", "FAC ILITY", "FG001", "facilityId 'FAC ILITY' is not a valid id"),
    (3, "invalid_line", F, None, "productId is missing or not text"),
]


@pytest.fixture(params=["set_based", "line_batches"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "line_batches":
        monkeypatch.setattr(set_based, "applies", lambda session: False)
    return str(request.param)


def _shown(failures: Iterable[LineFailure]) -> list[tuple[int, str, str | None, str | None, str]]:
    return [(f.line, f.code, f.facility_id, f.product_id, f.message) for f in failures]


def _as_expected(
    failures: Iterable[LineFailure], expected: list[tuple[int, str, str | None, str | None, str]]
) -> None:
    shown = _shown(failures)
    assert [row[:4] for row in shown] == [row[:4] for row in expected]
    for row, want in zip(shown, expected, strict=True):
        assert row[4].startswith(want[4]), row


@pytest.mark.parametrize("given", ["csv", "json"])
def test_a_failed_line_shows_the_ids_it_gave(seeded: Database, path: str, given: str) -> None:
    lines = csv_lines(csv_text(io.BytesIO(CSV.encode()))) if given == "csv" else JSON_LINES
    expected = EXPECTED if given == "csv" else JSON_EXPECTED
    with seeded.transaction() as session:
        outcome = reset_inventory(session, lines, keep_failures=50)
    _as_expected(outcome.failures, expected)
    assert (outcome.lines_changed, outcome.lines_failed) == (1, len(expected))
    assert outcome.facilities == {F}  # text that is no id names no facility; "FACILITY_1 " names F
    with seeded.reading() as session:
        run = get_reset_run(session, outcome.inventory_reset_id)
        assert run.facility_id == F
        _as_expected(reset_failures(session, run, None, 100), expected)


def test_a_failed_line_giving_another_facility_makes_the_run_span_both(seeded: Database, path: str) -> None:
    second_facility(seeded)
    lines = [RawLine(1, F, "FG001", 5), RawLine(2, "FACILITY_2", "FG 001", 1)]
    with seeded.transaction() as session:
        outcome = reset_inventory(session, lines)
    assert _shown(outcome.failures)[0][:4] == (2, "invalid_line", "FACILITY_2", "FG 001")
    assert outcome.facilities == {F, "FACILITY_2"}
    with seeded.reading() as session:
        assert get_reset_run(session, outcome.inventory_reset_id).facility_id is None
