"""The rules of a reset line, said twice: in Python (resets/rules.py) and in SQL (resets/line_sql_pg.py,
the PostgreSQL path; resets/line_sql_sqlite.py, SQLite's). Table-driven: every line below is
judged by `check_line`, and a reset of the lines must report exactly those failures (code,
message, ids), on both databases; the lines went through COPY (executemany on SQLite) and the
SQL judged them."""

import csv
import json
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from stockledger.catalog.importer import import_document
from stockledger.core.db import Database
from stockledger.core.quantities import json_number
from stockledger.events.models import OutboxEvent
from stockledger.ledger.models import InventoryItem, InventoryItemDetail, ProductFacility
from stockledger.ledger.views import availability
from stockledger.resets import line_sql_pg
from stockledger.resets.rules import JsonText, LineFailure, RawLine, check_line
from stockledger.resets.service import reset_inventory
from stockledger.resets.sources import csv_lines

F = "FACILITY_1"
P = "FG001"
QUANTITIES: list[Any] = [
    "40",
    " 41 ",
    "\u200342\u3000",  # what str.strip() trims, not only spaces
    "\t\n43\r",
    "-0",
    "+5",
    "1.",
    ".5",
    "1e3",
    "1E+2",
    "0.000001",
    "1000000000",
    "1000000000.000001",
    "1e9",
    "1e10",
    "1e1000",  # an exponent numeric reads, out of range
    "1e99999",  # a long exponent: left to the rules
    "1e-7",
    "0.0000001",
    "-1",
    "-0.0000001",
    "-1e-7",
    "NaN",
    "nan123",
    "sNaN",
    "-Infinity",
    "inf",
    "abc",
    "1,5",
    "1 5",
    "0x10",
    "1_000",  # Decimal reads it: left to the rules
    "\u0663",  # ARABIC-INDIC DIGIT THREE: Decimal reads it
    "\uff11",  # FULLWIDTH DIGIT ONE
    "5\x00",  # no text PostgreSQL can hold: judged by the rules on the way in
    "0001.5",  # SQLite reads the digits as integers: leading zeros, the point, the decimals
    "00000000000001000000000",
    "999999999.999999",
    "1.1234560",
    "-0.000",
    "12.",
    "1..2",
    "--1",
    "-",
    "1" * 300,
    "0." + "0" * 300 + "1",
    Decimal("12.5"),
    Decimal("1E+2"),
    Decimal("NaN"),
    Decimal("-Infinity"),
    Decimal("-3"),
    Decimal("0E-10"),
    Decimal("1.000000000"),
    0.1,
    1e-7,
    7,
    10**30,
    2.5,
    float("nan"),
    True,
    [],
    {"a": 1},
    JsonText("5"),
    JsonText("   "),  # blank: not given
    JsonText("\ud800"),  # a lone surrogate: judged by the rules on the way in
]


def _cases() -> list[RawLine]:
    lines: list[tuple[Any, ...]] = [(F, P, q, None) for q in QUANTITIES]
    lines += [(F, P, None, q) for q in ("45", "-2", "x", JsonText("3"), Decimal("46"))]
    lines += [
        (F, P, "1", "1"),  # both
        (F, P, "1", JsonText("")),  # a blank string is not given
        (F, P, "", None),  # neither
        (F, P, " ", "\u2003"),
        (F, P, None, None),
        (f" {F}\u3000", f"\t{P} ", "47", None),  # ids are compared exactly: not trimmed
        (F, f"{P}\n", "47", None),  # a pattern's `$` matches before a final line break too
        (F, P, "1", None, "has 5 fields, more than the header's 4"),  # misshapen (the page's lines)
        ("FACILITY 1", P, "1", None),
        (F, "FG 001", "1", None),
        (F, "X" * 60, "1", None),  # 60 characters: an id (unknown product)
        (F, "X" * 61, "1", None),  # 61: no id
        ("", P, "1", None),
        (None, P, "1", None),
        (F, None, "1", None),
        (5, P, "1", None),
        (F, 7, "1", None),
        (F, "é", "1", None),
        (F + "\x00", P, "1", None),
        (F, "\ud800", "1", None),
        ("NO_SUCH_FACILITY", P, "1", None),
        (F, "NO_SUCH_PRODUCT", "1", None),
        ("NO_SUCH_FACILITY", "NO_SUCH_PRODUCT", "x", None),  # the line's own failure comes first
        (F, "NO_SUCH_PRODUCT", "0" * 250 + "1", None),  # left to the rules, usable: an unknown product
        ("NO_SUCH_FACILITY", P, Decimal("0E-99999"), None),  # the same, an unknown facility
        (F, P, "48", None),  # the last usable line: the product ends at 48
    ]
    return [RawLine(n, *line) for n, line in enumerate(lines, start=2)]


def _expected(lines: list[RawLine]) -> list[LineFailure]:
    """The failures the rules give: the line's own, else an unknown facility or product."""
    failures = []
    for raw in lines:
        judged = check_line(raw)
        if isinstance(judged, LineFailure):
            failures.append(judged)
        elif judged.facility_id != F:
            failures.append(
                LineFailure(raw.line, "unknown_facility", f"Facility {judged.facility_id} not found")
            )
        elif judged.product_id != P:
            failures.append(
                LineFailure(raw.line, "unknown_product", f"Product {judged.product_id} not found")
            )
    return failures


def _ids(failure: LineFailure) -> tuple[int, str, str]:
    return failure.line, failure.code, failure.message


def _staged(session: Session) -> bool:
    """Whether this transaction's reset went through the PostgreSQL path (its COPY table)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    return session.execute(text("SELECT to_regclass('pg_temp.reset_staged_line')")).scalar() is not None


def test_sql_and_the_rules_agree_on_every_line(seeded: Database, backend: str) -> None:
    lines = _cases()
    expected = _expected(lines)
    with seeded.transaction() as session:
        outcome = reset_inventory(session, lines, "table")
        assert _staged(session) == (backend == "postgres")
    assert [_ids(f) for f in outcome.failures] == [_ids(f) for f in expected]
    own = [f for f in expected if not f.code.startswith("unknown_")]
    assert [(f.facility_id, f.product_id) for f in outcome.failures if not f.code.startswith("unknown_")] == [
        (f.facility_id, f.product_id) for f in own
    ]
    assert {f.code for f in expected} == {
        "invalid_line",
        "both_quantities",
        "no_quantity",
        "negative_quantity",
        "invalid_quantity",
        "unknown_facility",
        "unknown_product",
    }  # every code is in the table
    assert outcome.lines_total == len(lines)
    assert outcome.lines_failed == len(expected)
    assert outcome.lines_changed + outcome.lines_unchanged == len(lines) - len(expected)
    with seeded.reading() as session:
        totals = availability(session, F, P)
        assert (totals.quantity_on_hand_total, totals.available_to_promise_total) == (
            Decimal(48),
            Decimal(48),
        )


# On SQLite a CSV line that looks plain is judged as it is staged (line_sql_sqlite.PLAIN_LINE),
# the others by CHECK after it: the lines at the edges of "plain" go into the CSV table too.
PLAIN_EDGES = [
    "0",
    "000000000",
    "999999999",
    "0000000001",
    "1000000000",
    "1000000001",
    "9999999999",
    "5\x00",
    "7 ",
    "\u0663",
]
IDS = ["X" * 60, "X" * 61, "a-b_c.d:e", "FG 001", f"{P}\x00", "é", "", f" {P}"]


def _csv_cases() -> list[tuple[str, str, str, str]]:
    """The table's lines a CSV can hold (text; a quantity given or left empty), as CSV fields."""
    texts = [q for q in QUANTITIES if type(q) is str]  # not JsonText, numbers, lists…
    rows = [(F, P, q, "") for q in [*texts, *PLAIN_EDGES]] + [(F, P, "", q) for q in [*texts, *PLAIN_EDGES]]
    rows += [(f, P, "3", "") for f in IDS] + [(F, p, "", "4") for p in IDS]
    rows += [(F, P, "1", "1"), (F, P, "", ""), (F, P, " ", "2"), (F, P, "2", "\u2003"), (F, P, "48", "")]
    return rows


def test_a_csv_is_judged_as_the_rules_judge_it_plain_or_not(
    seeded: Database, backend: str, tmp_path: Any
) -> None:
    """Every line of the table a CSV can hold, each quantity given as quantityOnHand and as
    availableToPromise, and ids at the edges: the failures the reset reports are the rules' own
    (on SQLite, whether the line was judged plain as it was staged or by CHECK)."""
    path = tmp_path / "table.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["facilityId", "productId", "quantityOnHand", "availableToPromise"])
        writer.writerows(_csv_cases())
    with path.open(encoding="utf-8-sig", newline="") as rows:
        expected = _expected(list(csv_lines(rows)))
    with seeded.transaction() as session, path.open(encoding="utf-8-sig", newline="") as rows:
        outcome = reset_inventory(session, csv_lines(rows))
    assert [_ids(f) for f in outcome.failures] == [_ids(f) for f in expected]
    assert outcome.lines_failed == len(expected)
    assert outcome.lines_changed + outcome.lines_unchanged == outcome.lines_total - len(expected)
    with seeded.reading() as session:
        assert availability(session, F, P).quantity_on_hand_total == Decimal(48)


def test_whitespace_is_what_str_strip_trims() -> None:
    assert "".join(c for c in map(chr, range(0x110000)) if c.isspace()) == line_sql_pg.WHITESPACE


def _details(session: Session, reset_id: str) -> list[tuple[str, Decimal, int]]:
    d = InventoryItemDetail
    rows = session.execute(
        select(d.inventory_item_id, d.quantity_on_hand_diff, d.seq_num)
        .where(d.inventory_reset_id == reset_id)
        .order_by(d.inventory_item_id, d.seq_num)
    )
    return [(item, diff, seq) for item, diff, seq in rows]


def test_a_product_named_on_several_lines_sees_the_lines_before_it(seeded: Database) -> None:
    """FG001: QOH 31 over two items (13 + 18), ATP 31. QOH 40 (+9), ATP 10 (−30), QOH 40 (+30),
    ATP 40 (no change): one detail row per changed line, numbered one after the other."""
    lines = [
        RawLine(2, F, P, "40", None),
        RawLine(3, F, "FG002", "0", None),
        RawLine(4, F, P, None, "10"),
        RawLine(5, F, P, "40", None),
        RawLine(6, F, P, None, "40"),
    ]
    with seeded.transaction() as session:
        outcome = reset_inventory(session, lines)
    assert (outcome.lines_changed, outcome.lines_unchanged, outcome.lines_failed) == (4, 1, 0)
    with seeded.reading() as session:
        totals = availability(session, F, P)
        assert (totals.quantity_on_hand_total, totals.available_to_promise_total) == (
            Decimal(40),
            Decimal(40),
        )
        rows = [r for r in _details(session, outcome.inventory_reset_id) if r[0].startswith(P)]
        assert [diff for _, diff, _ in rows] == [Decimal(9), Decimal(-30), Decimal(30)]
        assert [seq for _, _, seq in rows] == [rows[0][2], rows[0][2] + 1, rows[0][2] + 2]
        payloads = [
            json.loads(p)
            for p in session.scalars(
                select(OutboxEvent.payload)
                .where(OutboxEvent.event_type == "InventoryChanged")
                .order_by(OutboxEvent.event_seq)
            )
        ]
        changes = [c for p in payloads for c in p["changes"]]
        assert [c["productId"] for c in changes] == [P, "FG002", P, P]  # in line order
        assert [
            (c["quantityOnHandDiff"], c["quantityOnHandTotal"]) for c in changes if c["productId"] == P
        ] == [
            (9, 22),  # the facility item FG001-INV-001: 13 + 9
            (-30, -8),
            (30, 22),
        ]


def test_a_reset_that_changes_nothing_writes_no_ledger_row_and_no_change_event(seeded: Database) -> None:
    with seeded.reading() as session:
        totals = availability(session, F, P)
        before = session.scalar(select(func.count()).select_from(InventoryItemDetail))
    lines = [RawLine(2, F, P, str(totals.quantity_on_hand_total), None), RawLine(3, F, P, "-1", None)]
    with seeded.transaction() as session:
        outcome = reset_inventory(session, lines)
    assert (outcome.lines_changed, outcome.lines_unchanged, outcome.lines_failed) == (0, 1, 1)
    with seeded.reading() as session:
        assert session.scalar(select(func.count()).select_from(InventoryItemDetail)) == before
        changed = select(func.count()).where(OutboxEvent.event_type == "InventoryChanged")
        assert session.scalar(changed) == 0


CSV = (
    "\ufeffproductId,facilityId,availableToPromise,quantityOnHand\n"
    f"{P},{F},,40\n"
    "\n"
    f'"{P}",{F},,"4\n1"\n'
    f"{P},{F},1,1\n"
    f"{P},{F}\n"
    f"{P},{F},,5\x00\n"
    f"NOPE,{F},,1\n"
    f"{P},{F},7,\n"
)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_csv_streamed_into_copy_reports_what_its_lines_report(
    seeded: Database, backend: str, newline: str, tmp_path: Any
) -> None:
    """The CSV path (CsvLines.rows straight into COPY on PostgreSQL): physical line numbers, a
    BOM, columns in any order, a blank line, a quoted field over two lines and a short row (each
    refused as misshapen), a NUL."""
    path = tmp_path / "reset.csv"
    path.write_bytes(CSV.replace("\n", newline).encode())
    with path.open(encoding="utf-8-sig", newline="") as rows:
        expected = _expected(list(csv_lines(rows)))
    with seeded.transaction() as session, path.open(encoding="utf-8-sig", newline="") as rows:
        outcome = reset_inventory(session, csv_lines(rows))
        assert _staged(session) == (backend == "postgres")
    assert [_ids(f) for f in outcome.failures] == [_ids(f) for f in expected]
    assert [f.line for f in outcome.failures] == [4, 6, 7, 8, 9]  # a record is numbered by its first line
    assert (outcome.lines_total, outcome.lines_changed) == (7, 2)
    with seeded.reading() as session:
        totals = availability(session, F, P)
        assert totals.available_to_promise_total == Decimal(7)


def test_new_and_existing_items_in_one_run_and_a_second_run_in_the_same_transaction(
    seeded: Database, backend: str
) -> None:
    """The ledger's set-based door creates a new facility item with its first postings' totals
    (two changes: seq 1 and 2) beside updates of existing items; a second reset in the same
    transaction (its temporary tables made again) sees the first one's totals. On PostgreSQL the
    session had a temporary table before: temp_buffers cannot change any more, the run goes on."""
    with seeded.transaction() as session:
        if backend == "postgres":
            session.execute(text("CREATE TEMP TABLE before_the_reset (n integer) ON COMMIT DROP"))
        import_document(session, {"productId": "NEW2", "productName": "New"})
        first = reset_inventory(
            session,
            [
                RawLine(2, F, "NEW2", "5", None),
                RawLine(3, F, P, "50", None),
                RawLine(4, F, "NEW2", None, "2"),
            ],
        )
        second = reset_inventory(session, [RawLine(2, F, "NEW2", "2", None), RawLine(3, F, P, "49", None)])
    assert (first.lines_changed, second.lines_changed, second.lines_unchanged) == (3, 1, 1)
    with seeded.reading() as session:
        link = session.get(ProductFacility, (F, "NEW2"))
        assert link is not None
        assert link.inventory_item_id is not None
        assert link.inventory_item_id.endswith("00000001")  # the run's first new item, set-based
        item = session.get(InventoryItem, (F, link.inventory_item_id))
        assert item is not None
        assert (item.quantity_on_hand_total, item.available_to_promise_total, item.last_detail_seq) == (
            Decimal(2),
            Decimal(2),
            2,
        )
        assert (item.status_id, item.inventory_item_type_id) == ("INV_AVAILABLE", "NON_SERIAL_INV_ITEM")
        rows = _details(session, first.inventory_reset_id)
        assert [(diff, seq) for item_id, diff, seq in rows if item_id == link.inventory_item_id] == [
            (Decimal(5), 1),
            (Decimal(-3), 2),
        ]
        totals = availability(session, F, P)
        assert totals.quantity_on_hand_total == Decimal(49)


def test_a_new_product_whose_first_line_changes_nothing_gets_its_item_from_a_later_line(
    seeded: Database,
) -> None:
    """A product with no item: its first line sets 0 (no change), a later one 5: the run creates
    its item and posts the later line; a product named only by a line setting 0 gets its link
    row and no item."""
    with seeded.transaction() as session:
        for product in ("LATE1", "ZERO1"):
            import_document(session, {"productId": product, "productName": product})
        outcome = reset_inventory(
            session,
            [
                RawLine(2, F, P, "40", None),
                RawLine(3, F, "LATE1", "0", None),
                RawLine(4, F, "ZERO1", None, "0"),
                RawLine(5, F, "LATE1", "5", None),
            ],
        )
    assert (outcome.lines_changed, outcome.lines_unchanged) == (2, 2)
    with seeded.reading() as session:
        late = session.get(ProductFacility, (F, "LATE1"))
        zero = session.get(ProductFacility, (F, "ZERO1"))
        assert late is not None
        assert late.inventory_item_id is not None
        item = session.get(InventoryItem, (F, late.inventory_item_id))
        assert item is not None
        assert (item.quantity_on_hand_total, item.last_detail_seq) == (Decimal(5), 1)
        assert zero is not None
        assert zero.inventory_item_id is None
        assert availability(session, F, "ZERO1").quantity_on_hand_total == 0


def test_the_changes_numbers_are_written_as_json_number_writes_them(seeded: Database) -> None:
    """The database writes each change's JSON (resets/set_events_pg.py, set_events_sqlite.py): a
    quantity that is not whole is the float's shortest text, as json.dumps gives it (1e-05, 5e-06,
    12.49999), byte for byte."""
    given = ["0.00001", "12.5", "12.499995", "12.49999", "0.0001", "7"]
    with seeded.transaction() as session:
        import_document(session, {"productId": "NUM1", "productName": "Numbers"})
        reset_inventory(session, [RawLine(n, F, "NUM1", q, None) for n, q in enumerate(given, start=2)])
    with seeded.reading() as session:
        payloads = session.scalars(
            select(OutboxEvent.payload)
            .where(OutboxEvent.event_type == "InventoryChanged")
            .order_by(OutboxEvent.event_seq)
        ).all()
    totals = [Decimal(q) for q in given]
    diffs = [totals[0], *(after - before for before, after in pairwise(totals))]
    texts = [
        f'"quantityOnHandDiff":{json.dumps(json_number(d))},"availableToPromiseDiff":{json.dumps(json_number(d))},'
        f'"quantityOnHandTotal":{json.dumps(json_number(t))}'
        for d, t in zip(diffs, totals, strict=True)
    ]
    assert "1e-05" in texts[0]
    assert "5e-06" in texts[2]
    assert "-5e-06" in texts[3]
    written = "".join(payloads)
    assert all(text in written for text in texts), (texts, written)
