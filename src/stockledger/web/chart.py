"""The QOH/ATP chart of an item's history: levels rebuilt from ledger rows, drawn as SVG steps on a
time axis (x is when each change took effect).

Pure functions: the levels come from the current totals walked back through the newest rows
(totals == Σ diffs, so that walk is exact), the drawing is plain coordinates for the template.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

WIDTH, HEIGHT = 640, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 12, 12, 28  # PAD_LEFT: the least; wider labels take more
LABEL_CHAR, LABEL_GAP = 11.5, 12  # one character of a y label at the phone's 20 units, and its margins
UNITS = ((1, ""), (10**3, "k"), (10**6, "M"), (10**9, "B"), (10**12, "T"))
END_MARGIN = 24  # the last level keeps some width after the last change, to be seen
MINUTES, SECONDS = "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"


class DetailLike(Protocol):
    @property
    def effective_date(self) -> datetime: ...
    @property
    def quantity_on_hand_diff(self) -> Decimal: ...
    @property
    def available_to_promise_diff(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class Level:
    when: datetime
    qoh: Decimal
    atp: Decimal


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    label: Decimal
    text: str  # what the axis says: short (16.2k), the exact numbers are in the tooltips and the table


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: int  # where the plot starts: room for the widest y label
    qoh_path: str
    atp_path: str
    ticks: list[Tick]
    first: datetime
    last: datetime
    levels: list[Level]
    dots: list[tuple[float, float, Level]]  # where each change lands on the QOH line, for its tooltip
    times: list[tuple[float, str]]  # the time axis' labels: where, and what each says


def levels(qoh_now: Decimal, atp_now: Decimal, newest_first: Sequence[DetailLike]) -> list[Level]:
    """The totals before the oldest row given, then right after each row; oldest first."""
    out: list[Level] = []
    qoh, atp = qoh_now, atp_now
    for row in newest_first:
        out.append(Level(row.effective_date, qoh, atp))
        qoh -= row.quantity_on_hand_diff
        atp -= row.available_to_promise_diff
    if newest_first:
        out.append(Level(newest_first[-1].effective_date, qoh, atp))
    out.reverse()
    return out


def draw(series: list[Level]) -> Chart | None:
    """Step lines of QOH and ATP on a shared scale; None when there is nothing to draw."""
    if not series:
        return None
    values = [v for lv in series for v in (lv.qoh, lv.atp)]
    low, high = min(min(values), Decimal(0)), max(values)
    if high == low:
        high = low + 1
    marks = sorted({low, high, _nice_middle(low, high)})
    texts = [tick_text(v) for v in marks]
    left = max(PAD_LEFT, round(LABEL_CHAR * max(len(t) for t in texts) + LABEL_GAP))
    xs = _x_positions(series, left)

    def y(value: Decimal) -> float:
        usable = HEIGHT - PAD_TOP - PAD_BOTTOM
        return round(PAD_TOP + usable * float((high - value) / (high - low)), 1)

    ticks = [Tick(y(v), v, text) for v, text in zip(marks, texts, strict=True)]
    dots = [(x, y(lv.qoh), lv) for x, lv in zip(xs, series, strict=True)]
    return Chart(
        WIDTH,
        HEIGHT,
        left,
        _steps(xs, [y(lv.qoh) for lv in series]),
        _steps(xs, [y(lv.atp) for lv in series]),
        ticks,
        series[0].when,
        series[-1].when,
        series,
        dots,
        time_ticks(series[0].when, series[-1].when, left),
    )


def tick_text(value: Decimal) -> str:
    """A y label of at most three significant digits, thousands as k, millions as M (16,200 → 16.2k,
    1,242.290263 → 1.24k, 12 → 12), so the widest fits the chart's left margin."""
    size, sign = abs(value), ("−" if value < 0 else "")
    for unit, suffix in UNITS:
        text = f"{float(size) / unit:.3g}"
        if "e" not in text and float(text) < 1000:
            return f"{sign}{text}{suffix}"
        if unit == 1 and size < 1:  # below 0.001: the few decimals a quantity may have
            return f"{sign}{size.normalize():f}"
    return f"{sign}{float(size):.2e}"


def _x_positions(series: list[Level], left_edge: int = PAD_LEFT) -> list[float]:
    """Each change where its time falls between the first and the last: a quiet month takes a month's
    width. Times out of order (a row effective before the one written ahead of it) stay at the
    earlier one's x, so the steps never run backwards. All at one instant: evenly spaced."""
    left, right = float(left_edge), float(WIDTH - PAD_RIGHT - END_MARGIN)
    start = series[0].when
    span = max((lv.when - start).total_seconds() for lv in series)
    if span <= 0:
        step = (right - left) / max(len(series) - 1, 1)
        return [round(left + i * step, 1) for i in range(len(series))]
    xs: list[float] = []
    for lv in series:
        x = left + (right - left) * max((lv.when - start).total_seconds(), 0.0) / span
        xs.append(round(max(x, xs[-1]) if xs else x, 1))
    return xs


def time_ticks(first: datetime, last: datetime, left_edge: int = PAD_LEFT) -> list[tuple[float, str]]:
    """Where the axis labels its times (first, middle and last) and what each says: to the minute
    when that tells them apart, else to the second, the date said once when all fall on one day;
    a label that would repeat the one before it is left out (changes within a second: one label)."""
    left, right = float(left_edge), float(WIDTH - PAD_RIGHT - END_MARGIN)
    if last <= first:
        return [(left, first.strftime(MINUTES))]
    at = [(left, first), ((left + right) / 2, first + (last - first) / 2), (right, last)]
    for fmt in (MINUTES, SECONDS):
        labels = [(x, t.strftime(fmt)) for x, t in at]
        if len({text for _, text in labels}) == len(labels):
            break
    kept = [labels[0]]
    for x, text in labels[1:]:
        if text != kept[-1][1]:
            kept.append((x, text))
    if first.date() == last.date():  # the date once, on the first label
        kept = kept[:1] + [(x, text[len("2000-01-01 ") :]) for x, text in kept[1:]]
    return kept


def _steps(xs: list[float], ys: list[float]) -> str:
    """An SVG path holding each level until the next change, then to the right edge."""
    parts = [f"M{xs[0]},{ys[0]}"]
    for i in range(1, len(xs)):
        parts.append(f"H{xs[i]}V{ys[i]}")
    parts.append(f"H{WIDTH - PAD_RIGHT}")
    return " ".join(parts)


def _nice_middle(low: Decimal, high: Decimal) -> Decimal:
    return ((low + high) / 2).quantize(Decimal(1))
