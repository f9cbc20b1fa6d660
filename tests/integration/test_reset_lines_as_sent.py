"""A reset line is applied as it was sent or not at all (the outside tester's findings, issue 17):
never a quantity rounded to 6 decimals, an extra CSV field dropped, a missing one read as "not
given", an id trimmed into another, nor lines swallowed by a quote left open; a failed line is
numbered by the line it starts on and names its productId where it can. Both databases: on
PostgreSQL the CSV goes through COPY and the SQL judge."""

from decimal import Decimal
from pathlib import Path

from stockledger.core.db import Database
from stockledger.ledger.views import availability
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory
from stockledger.resets.sources import csv_lines

F = "FACILITY_1"
CSV = (
    "facilityId,productId,quantityOnHand,availableToPromise\n"  # 1
    "FACILITY_1,FG001,40,\n"  # 2: applied
    "FACILITY_1,FG002,1.0000001,\n"  # 3: 7 decimals
    "FACILITY_1,FG002,5,,6\n"  # 4: a field more than the header
    "FACILITY_1,FG002,5\n"  # 5: a field fewer
    "FACILITY_1, FG002,5,\n"  # 6: a space after the comma: not FG002
    "FACILITY_1\u3000,FG002,5,\n"  # 7: what str.strip() trims, not only spaces
    "FACILITY_1,FG003,70,\n"  # 8: applied
    'FACILITY_1,"FG002,6,\n'  # 9: a quote left open: it runs to the end
    "FACILITY_1,FG001,99,\n"  # 10
    "FACILITY_1,FG003,99,\n"  # 11
)
EXPECTED = [
    (3, "invalid_quantity", "quantityOnHand has more than 6 decimals", "FG002"),
    (4, "invalid_line", "has 5 fields, more than the header's 4: refused, not guessed at", "FG002"),
    (5, "invalid_line", "has 3 fields, fewer than the header's 4: refused, not guessed at", "FG002"),
    (
        6,
        "invalid_line",
        "productId ' FG002' has whitespace at its start or end: ids are compared exactly",
        " FG002",
    ),
    (
        7,
        "invalid_line",
        "facilityId 'FACILITY_1\\u3000' has whitespace at its start or end: ids are compared exactly",
        "FG002",
    ),
    (
        9,
        "invalid_line",
        "a quoted field runs on from line 9 to line 11 (a quote left open?): the lines it spans are "
        "not applied; an id or a quantity holds no line break",
        None,
    ),
]


def _totals(db: Database, product: str) -> tuple[Decimal, Decimal]:
    with db.reading() as session:
        a = availability(session, F, product)
        return a.quantity_on_hand_total, a.available_to_promise_total


def test_a_csv_line_is_applied_as_sent_or_fails_on_its_own_line(seeded: Database, tmp_path: Path) -> None:
    fg002 = _totals(seeded, "FG002")
    path = tmp_path / "reset.csv"
    path.write_text(CSV, encoding="utf-8")
    with seeded.transaction() as session, path.open(encoding="utf-8-sig", newline="") as rows:
        outcome = reset_inventory(session, csv_lines(rows))
    assert [(f.line, f.code, f.message, f.product_id) for f in outcome.failures] == EXPECTED
    refused = [f.facility_id for f in outcome.failures if f.code == "invalid_line"]
    # A line refused whole shows the facility it gave (line 7's is no printable text: its message
    # quotes it), and the run's scope is kept: FACILITY_1\u3000 names FACILITY_1
    assert refused == [F, F, F, None, F]
    assert outcome.facilities == {F}
    assert (outcome.lines_total, outcome.lines_changed, outcome.lines_failed) == (8, 2, 6)
    assert _totals(seeded, "FG001") == (Decimal(40), Decimal(40))  # not the 99 the open quote swallowed
    assert _totals(seeded, "FG002") == fg002
    assert _totals(seeded, "FG003") == (Decimal(70), Decimal(70))


def test_ids_are_taken_exactly_as_given_in_json_lines_too(seeded: Database) -> None:
    lines = [
        RawLine(1, F, "FG001 ", Decimal(40)),
        RawLine(2, "\tFACILITY_1", "FG001", Decimal(40)),
        RawLine(3, F, "FG001\n", Decimal(40)),  # `$` of a pattern also matches before a final \n
        RawLine(4, F, "FG001", Decimal("40.0000001")),
        RawLine(5, F, "FG001", Decimal("40.0000000000000000001")),
        RawLine(6, F, "FG001", Decimal("40.000000")),
    ]
    with seeded.transaction() as session:
        outcome = reset_inventory(session, lines)
    assert [(f.line, f.code, f.product_id) for f in outcome.failures] == [
        (1, "invalid_line", "FG001 "),
        (2, "invalid_line", "FG001"),
        (3, "invalid_line", None),
        (4, "invalid_quantity", "FG001"),
        (5, "invalid_quantity", "FG001"),
    ]
    assert outcome.lines_changed == 1
    assert _totals(seeded, "FG001") == (Decimal(40), Decimal(40))
