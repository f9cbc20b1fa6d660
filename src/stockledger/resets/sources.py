"""Reset lines out of a CSV stream or a JSON document, lazily: a file is never read whole."""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import IO, Any

from stockledger.core.errors import AppError, ValidationFailed, clipped
from stockledger.core.guards import NUL_DETAIL, SURROGATE_DETAIL, is_utf8_text
from stockledger.resets.rules import ATP, QOH, JsonText, RawLine

CSV_COLUMNS = ("facilityId", "productId", QOH, ATP)


class MalformedBody(AppError):
    status, code, title = 400, "malformed_json", "Malformed JSON"


def csv_text(binary: IO[bytes]) -> io.TextIOWrapper:
    """A CSV as the API, the page and the CLI read it: UTF-8 (a BOM dropped), split into lines only
    at \n, \r\n or \r (str.splitlines would also split at U+2028, NEL, \x0b to \x1e)."""
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


def csv_lines(rows: Iterable[str]) -> Iterator[RawLine]:
    """Lines of a CSV with a header naming facilityId, productId and a quantity column.

    The line number is the physical line in the file (the header is line 1), so an
    operator can open the file at the reported line.
    """
    reader = csv.reader(rows)
    try:
        header = next(reader, None)
        columns = _column_positions(header)
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            yield RawLine(reader.line_num, *(row[i] if 0 <= i < len(row) else None for i in columns))
    except csv.Error as exc:
        raise ValidationFailed(f"CSV line {reader.line_num}: {exc}", line=reader.line_num) from exc
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"The CSV is not UTF-8 (after line {reader.line_num}): {exc.reason}") from exc


def _column_positions(header: list[str] | None) -> list[int]:
    if header is None:
        raise ValidationFailed("The CSV is empty; expected a header " + ",".join(CSV_COLUMNS))
    names = [h.strip() for h in header]
    missing = [c for c in CSV_COLUMNS[:2] if c not in names]
    if missing or (QOH not in names and ATP not in names):
        raise ValidationFailed(
            f"The CSV header must name facilityId, productId and {QOH} and/or {ATP}; "
            f"got {clipped(','.join(names))}"
        )
    return [names.index(c) if c in names else -1 for c in CSV_COLUMNS]


def parse_json_document(body: bytes) -> dict[str, Any]:
    """The request body as JSON (numbers kept exact as Decimal; NaN and Infinity kept, to refuse per line)."""
    try:
        document = json.loads(body, parse_float=Decimal, parse_constant=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody(f"The request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise MalformedBody("The request body nests arrays or objects too deeply") from exc
    if not isinstance(document, dict) or not isinstance(document.get("lines"), list):
        raise ValidationFailed('Expected a JSON object {"lines": [...], "source"?: "..."}')
    # A line that is no object is a broken document, refused whole before anything is applied (the
    # contract says each line is an object); an object that is no usable line fails alone.
    stray = next((n for n, line in enumerate(document["lines"], start=1) if not isinstance(line, dict)), None)
    if stray is not None:
        raise ValidationFailed(f"lines[{stray - 1}]: a line is a JSON object", line=stray)
    source = document.get("source")
    if source is not None and (not isinstance(source, str) or len(source) > 255):
        raise ValidationFailed("source must be a string of at most 255 characters")
    if isinstance(source, str) and "\x00" in source:
        raise ValidationFailed(f"source: {NUL_DETAIL}")
    if isinstance(source, str) and not is_utf8_text(source):
        raise ValidationFailed(f"source: {SURROGATE_DETAIL}")
    return document


def json_lines(lines: list[Any]) -> Iterator[RawLine]:
    """Lines of a JSON document; the line number is the 1-based position in `lines`."""
    for n, line in enumerate(lines, start=1):
        if not isinstance(line, dict):
            yield RawLine(n, None, None)
            continue
        quantities = (_number_or_text(line.get(QOH)), _number_or_text(line.get(ATP)))
        yield RawLine(n, line.get("facilityId"), line.get("productId"), *quantities)


def _number_or_text(value: Any) -> Any:
    return JsonText(value) if isinstance(value, str) else value
