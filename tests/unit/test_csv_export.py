"""core.csv_export without a database: which requests want CSV, and RFC 4180 text in chunks."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi import Request

from stockledger.core.csv_export import csv_body, csv_cell, wants_csv


def _request(accept: str | None) -> Request:
    headers = [] if accept is None else [(b"accept", accept.encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})


@pytest.mark.parametrize(
    ("accept", "format", "expected"),
    [
        ("text/csv", None, True),
        ("TEXT/CSV; charset=utf-8", None, True),
        ("text/html, text/csv", None, True),
        ("application/json, text/csv", None, False),
        ("*/*, text/csv", None, False),
        (None, None, False),
        (None, "csv", True),
        ("text/csv", "json", False),
    ],
)
def test_csv_is_chosen_by_format_then_by_the_first_known_accept(
    accept: str | None, format: str | None, expected: bool
) -> None:
    assert wants_csv(_request(accept), format) is expected


def test_cells_read_as_the_json_answer_reads() -> None:
    assert [csv_cell(v) for v in (None, Decimal("2.500000"), Decimal(-3), "x", 7)] == [
        "",
        "2.5",
        "-3",
        "x",
        "7",
    ]
    assert csv_cell(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"


def test_the_body_is_rfc_4180_in_several_chunks() -> None:
    rows = iter([["a,b", 'say "hi"'], ["line\nbreak", None]] * 2000)
    chunks = list(csv_body(["first", "second"], rows))
    assert len(chunks) > 1
    text = b"".join(chunks).decode()
    assert text.startswith('first,second\r\n"a,b","say ""hi"""\r\n"line\nbreak",\r\n')
    assert text.count("\r\n") == 1 + 4000


def test_a_millionth_is_a_plain_decimal_as_a_person_reads_it() -> None:
    """Found by an outside tester: 0.000001 came out as 1e-06."""
    assert [csv_cell(Decimal(v)) for v in ("0.000001", "1E+3", "-12.500000")] == ["0.000001", "1000", "-12.5"]


def test_text_a_spreadsheet_would_run_gets_a_leading_apostrophe() -> None:
    """Found by an outside tester: a variance comment =HYPERLINK(…) went out as a live formula."""
    cells = ['=HYPERLINK("http://evil.example","x")', "+1", "-cmd", "@SUM(A1)", "\tx", "plain", "a=b"]
    assert [csv_cell(c) for c in cells] == [
        '\'=HYPERLINK("http://evil.example","x")',
        "'+1",
        "'-cmd",
        "'@SUM(A1)",
        "'\tx",
        "plain",
        "a=b",
    ]
    assert csv_cell(Decimal(-3)) == "-3"  # a number is not text: no apostrophe
