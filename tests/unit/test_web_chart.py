"""The item chart's levels and drawing, and form errors in people's words; no database."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from stockledger.counts.schemas import CountDoc
from stockledger.web import chart
from stockledger.web.formstate import field_errors
from stockledger.web.templating import quantity, signed

T0 = datetime(2026, 1, 1, 9, 0)


@dataclass
class Row:
    effective_date: datetime
    quantity_on_hand_diff: Decimal
    available_to_promise_diff: Decimal


def test_levels_walk_back_from_the_current_totals() -> None:
    newest_first = [
        Row(T0 + timedelta(days=2), Decimal(0), Decimal(-4)),  # a reservation
        Row(T0 + timedelta(days=1), Decimal(5), Decimal(5)),  # a receipt
        Row(T0, Decimal(22), Decimal(22)),  # the initial load
    ]
    levels = chart.levels(Decimal(27), Decimal(23), newest_first)
    assert [(lv.qoh, lv.atp) for lv in levels] == [(0, 0), (22, 22), (27, 27), (27, 23)]
    assert [lv.when for lv in levels] == [T0, T0, T0 + timedelta(days=1), T0 + timedelta(days=2)]
    assert chart.levels(Decimal(3), Decimal(3), []) == []


def test_the_drawing_is_steps_on_one_scale_with_zero_in_view() -> None:
    levels = chart.levels(Decimal(10), Decimal(-2), [Row(T0, Decimal(10), Decimal(-2))])
    drawn = chart.draw(levels)
    assert drawn is not None
    assert drawn.qoh_path.startswith("M56.0,")  # one instant: evenly spaced
    assert drawn.qoh_path.endswith(f"H{chart.WIDTH - chart.PAD_RIGHT}")
    assert [t.label for t in drawn.ticks] == [Decimal(-2), Decimal(4), Decimal(10)]
    top, bottom = drawn.ticks[-1].y, drawn.ticks[0].y
    assert (top, bottom) == (chart.PAD_TOP, chart.HEIGHT - chart.PAD_BOTTOM)
    assert chart.draw([]) is None


def test_form_errors_name_the_field_in_plain_words() -> None:
    negative = {
        "physicalInventoryId": "PI",
        "facilityId": "F",
        "counts": [{"productId": "P", "quantityCounted": -1}],
    }
    with pytest.raises(ValidationError) as refused:
        CountDoc.model_validate(negative)
    assert field_errors(refused.value) == {
        "quantityCounted": "Must be zero or more; a negative number makes no sense here."
    }
    with pytest.raises(ValidationError) as missing:
        CountDoc.model_validate(
            {"physicalInventoryId": "PI", "facilityId": "F", "counts": [{"productId": "P"}]}
        )
    assert field_errors(missing.value) == {"quantityCounted": "Required."}


def test_quantities_read_as_people_write_them() -> None:
    assert quantity(Decimal("1234.500000")) == "1,234.5"
    assert quantity(Decimal(10)) == "10"
    assert quantity(None) == "–"
    assert (signed(Decimal(-2)), signed(Decimal("0.5")), signed(Decimal(0))) == ("−2", "+0.5", "0")


def test_the_time_axis_spaces_changes_by_when_they_happened() -> None:
    newest_first = [
        Row(T0 + timedelta(days=10), Decimal(-1), Decimal(-1)),
        Row(T0 + timedelta(days=9), Decimal(2), Decimal(2)),
        Row(T0, Decimal(5), Decimal(5)),
    ]
    drawn = chart.draw(chart.levels(Decimal(6), Decimal(6), newest_first))
    assert drawn is not None
    xs = [x for x, _, _ in drawn.dots]
    left, right = chart.PAD_LEFT, chart.WIDTH - chart.PAD_RIGHT - chart.END_MARGIN
    assert xs[0] == xs[1] == left  # the level before the first change, and the first change
    assert xs[-1] == right
    assert xs[2] == round(left + (right - left) * 9 / 10, 1)  # day 9 of 10: nine tenths across
    assert [label for _, label in drawn.times] == ["2026-01-01 09:00", "2026-01-06 09:00", "2026-01-11 09:00"]


@pytest.mark.parametrize(
    ("offsets", "labels"),
    [
        ([0, 3600], ["2026-01-01 09:00", "09:30", "10:00"]),  # one day: the date once
        ([0, 20, 50], ["2026-01-01 09:00:00", "09:00:25", "09:00:50"]),  # within a minute: seconds
        ([0, 1.2], ["2026-01-01 09:00:00", "09:00:01"]),  # within two seconds: no label repeats
        ([0, 0.3], ["2026-01-01 09:00:00"]),  # within one second: one label
        ([0, 0], ["2026-01-01 09:00"]),  # one instant
    ],
)
def test_the_time_labels_always_differ(offsets: list[float], labels: list[str]) -> None:
    """Changes that all fall in one minute once gave three identical labels (issue 20 L7)."""
    rows = [Row(T0 + timedelta(seconds=s), Decimal(1), Decimal(1)) for s in reversed(offsets)]
    drawn = chart.draw(chart.levels(Decimal(5), Decimal(5), rows))
    assert drawn is not None
    said = [label for _, label in drawn.times]
    assert said == labels
    assert len(set(said)) == len(said)


def test_a_row_effective_before_the_one_ahead_of_it_does_not_step_backwards() -> None:
    newest_first = [
        Row(T0 + timedelta(days=1), Decimal(1), Decimal(1)),  # written last, effective earlier
        Row(T0 + timedelta(days=4), Decimal(1), Decimal(1)),
        Row(T0, Decimal(1), Decimal(1)),
    ]
    drawn = chart.draw(chart.levels(Decimal(3), Decimal(3), newest_first))
    assert drawn is not None
    xs = [x for x, _, _ in drawn.dots]
    assert xs == sorted(xs)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("16200", "16.2k"),
        ("1242.290263", "1.24k"),
        ("12", "12"),
        ("-3", "−3"),
        ("0.5", "0.5"),
        ("0.000001", "0.000001"),
        ("999999", "1M"),
        ("10999999999.99999", "11B"),
        ("-16200", "−16.2k"),
    ],
)
def test_a_y_label_is_short(value: str, text: str) -> None:
    assert chart.tick_text(Decimal(value)) == text


def test_the_plot_starts_right_of_the_widest_y_label() -> None:
    small = chart.draw(chart.levels(Decimal(10), Decimal(10), [Row(T0, Decimal(10), Decimal(10))]))
    wide = chart.draw(
        chart.levels(Decimal(-16200), Decimal(-16200), [Row(T0, Decimal(-16200), Decimal(-16200))])
    )
    assert small is not None
    assert wide is not None
    assert small.left == chart.PAD_LEFT
    assert [t.text for t in wide.ticks] == ["−16.2k", "−8.1k", "0"]
    assert wide.left == round(chart.LABEL_CHAR * 6 + chart.LABEL_GAP) > chart.PAD_LEFT
    assert wide.qoh_path.startswith(f"M{float(wide.left)},")
    assert wide.times[0][0] == wide.left
