"""Rules of an ERP reset line, without a database."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockledger.resets.rules import (
    ATP,
    QOH,
    LineFailure,
    RawLine,
    ResetLine,
    check_line,
    named_facilities,
    parse_quantity,
    reset_diff,
)
from stockledger.resets.sources import csv_lines


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", Decimal(12)),
        (" 0.5 ", Decimal("0.5")),
        (3, Decimal(3)),
        (Decimal("1.000000"), Decimal(1)),
        ("-0", Decimal(0)),
    ],
)
def test_usable_quantities(value: object, expected: Decimal) -> None:
    assert parse_quantity(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("-1", "negative"),
        ("NaN", "not a number"),  # CSV text: a JSON number's grammar (rules.TEXT_NUMBER)
        ("inf", "not a number"),
        ("+4", "not a number"),
        ("1e3", "not a number"),
        ("\u0663", "not a number"),  # ARABIC-INDIC DIGIT THREE
        (".5", "not a number"),
        (Decimal("NaN"), "finite"),
        (float("nan"), "finite"),
        ("10000000000000", "range"),
        (Decimal("1e13"), "range"),
        ("0.0000001", "6 decimals"),
        ("twelve", "not a number"),
        (True, "not a number"),
        ([1], "not a number"),
    ],
)
def test_unusable_quantities_say_why(value: object, reason: str) -> None:
    result = parse_quantity(value)
    assert isinstance(result, str)
    assert reason in result


def test_a_line_gives_exactly_one_quantity() -> None:
    assert check_line(RawLine(7, "F", "P", "3", "")) == ResetLine(7, "F", "P", QOH, Decimal(3))
    assert check_line(RawLine(7, "F", "P", None, 4)) == ResetLine(7, "F", "P", ATP, Decimal(4))
    both = check_line(RawLine(7, "F", "P", "3", "4"))
    assert isinstance(both, LineFailure)
    assert (both.line, both.code) == (7, "both_quantities")
    neither = check_line(RawLine(8, "F", "P", " ", None))
    assert isinstance(neither, LineFailure)
    assert neither.code == "no_quantity"
    bad_id = check_line(RawLine(9, "F F", "P", "1"))
    assert isinstance(bad_id, LineFailure)
    assert bad_id.code == "invalid_line"


@given(
    given_qty=st.decimals(min_value=0, max_value=10**6, places=6),
    qoh=st.decimals(min_value=-(10**6), max_value=10**6, places=6),
    atp=st.decimals(min_value=-(10**6), max_value=10**6, places=6),
    kind=st.sampled_from([QOH, ATP]),
)
def test_after_the_diff_the_given_total_is_exact(
    given_qty: Decimal, qoh: Decimal, atp: Decimal, kind: str
) -> None:
    diff = reset_diff(ResetLine(1, "F", "P", kind, given_qty), qoh, atp)
    assert (qoh + diff if kind == QOH else atp + diff) == given_qty
    assert (qoh + diff) - (atp + diff) == qoh - atp  # the same diff to both keeps their gap


def test_a_csv_header_may_order_and_omit_columns() -> None:
    rows = list(csv_lines(["productId,availableToPromise,facilityId", "P1,5,F1", "P2,,F1"]))
    assert [
        (r.line, r.facility_id, r.product_id, r.quantity_on_hand, r.available_to_promise) for r in rows
    ] == [
        (2, "F1", "P1", None, "5"),
        (3, "F1", "P2", None, ""),
    ]


def test_a_csv_line_is_taken_only_as_it_stands() -> None:
    """As many fields as the header, on one physical line; numbered by the line it starts on."""
    text = [
        "facilityId,productId,quantityOnHand\n",
        "F1,P1,5\n",
        "F1,P2,5,\n",
        "F1,P3\n",
        "\n",
        'F1,"P4\n',
        'P5",6\n',
        "F1,P6,7\n",
    ]
    rows = list(csv_lines(text))
    assert [(r.line, r.product_id, r.misshapen) for r in rows] == [
        (2, "P1", None),
        (3, "P2", "has 4 fields, more than the header's 3: refused, not guessed at"),
        (4, "P3", "has 2 fields, fewer than the header's 3: refused, not guessed at"),
        (
            6,
            "P4\nP5",
            "a quoted field runs on from line 6 to line 7 (a quote left open?): the lines it spans "
            "are not applied; an id or a quantity holds no line break",
        ),
        (8, "P6", None),
    ]
    failures = [check_line(r) for r in rows[1:4]]
    assert [(f.line, f.code, f.product_id) for f in failures if isinstance(f, LineFailure)] == [
        (3, "invalid_line", "P2"),
        (4, "invalid_line", "P3"),
        (6, "invalid_line", None),  # no line break is shown as an id
    ]


def test_an_id_is_compared_exactly() -> None:
    for facility, product in ((" F", "P"), ("F", "P\t"), ("F", "P\n"), ("F", "\u2003P")):
        failure = check_line(RawLine(2, facility, product, "1"))
        assert isinstance(failure, LineFailure)
        assert (failure.code, failure.facility_id) == ("invalid_line", facility)  # shown as given
        assert "has whitespace at its start or end: ids are compared exactly" in failure.message
    # A quantity may have whitespace around it: the number is the same number.
    assert check_line(RawLine(2, "F", "P", " 1 ")) == ResetLine(2, "F", "P", QOH, Decimal(1))


@pytest.mark.parametrize(
    ("facility", "product", "message", "shown"),
    [
        ("FACILITY_1", "FG#1", "productId 'FG#1' is not a valid id", ("FACILITY_1", "FG#1")),
        ("FAC ILITY", "FG001", "facilityId 'FAC ILITY' is not a valid id", ("FAC ILITY", "FG001")),
        ("FACILITY_1", None, "productId is missing or not text", ("FACILITY_1", None)),
        ("F" * 61, "FG001", f"facilityId '{'F' * 61}' is longer than 60", (None, "FG001")),
        ("FACILITY_1", "FG\x0001", "productId 'FG\\x0001' is not a valid id", ("FACILITY_1", None)),
    ],
)
def test_an_invalid_line_shows_what_it_gave(
    facility: str | None, product: str | None, message: str, shown: tuple[str | None, str | None]
) -> None:
    """Found by an outside tester: an `invalid_line` failure said `facilityId: null` where the
    line named a facility. It names both ids as given (where they can be shown) and quotes,
    escaped, the one that is no id."""
    failure = check_line(RawLine(3, facility, product, "1"))
    assert isinstance(failure, LineFailure)
    assert failure.code == "invalid_line"
    assert failure.message.startswith(message)
    assert (failure.facility_id, failure.product_id) == shown
    misshapen = check_line(RawLine(4, "FACILITY_1", "FG001", "1", None, "has 5 fields"))
    assert isinstance(misshapen, LineFailure)
    assert (misshapen.facility_id, misshapen.product_id) == ("FACILITY_1", "FG001")


def test_a_run_names_the_facilities_its_lines_give_as_ids() -> None:
    lines = [
        RawLine(1, "FACILITY_1", "FG#1"),  # a failed line still names its facility
        RawLine(2, " FACILITY_2\u3000", "FG001"),  # whitespace around it aside, as the scope reads it
        RawLine(3, "FAC ILITY", "FG001"),  # no id: no facility
        RawLine(4, 5, "FG001"),
        RawLine(5, "F\x00", "FG001"),
    ]
    assert named_facilities(lines) == {"FACILITY_1", "FACILITY_2"}
