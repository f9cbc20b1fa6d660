"""Reset lines out of a CSV stream or a JSON document, lazily: a file is never read whole."""

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import IO, Any

from stockledger.core import strict_json
from stockledger.core.errors import AppError, ValidationFailed, clipped, listed_errors
from stockledger.core.guards import NUL_DETAIL, SURROGATE_DETAIL, is_utf8_text
from stockledger.resets.rules import ATP, QOH, JsonText, RawLine

CSV_COLUMNS = ("facilityId", "productId", QOH, ATP)
LINE_BREAK = re.compile(rb"\r\n|\r|\n")
SAVE_AS_UTF8 = "Save the file as UTF-8 (in a spreadsheet: “CSV UTF-8”) and send it again."


class MalformedBody(AppError):
    status, code, title = 400, "malformed_json", "Malformed JSON"


def csv_text(binary: IO[bytes]) -> io.TextIOWrapper:
    """A CSV as the API, the page and the CLI read it: UTF-8 (a BOM dropped), split into lines only
    at \n, \r\n or \r (str.splitlines would also split at U+2028, NEL, \x0b to \x1e)."""
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


Row = tuple[int, str | None, str | None, str | None, str | None, str | None]


class CsvLines:
    """The lines of a CSV (with a header naming facilityId, productId and a quantity column),
    read lazily and once: iterated, RawLines; `rows()` gives the same lines as plain tuples
    (line number, facilityId, productId, quantityOnHand, availableToPromise, misshapen), which
    the PostgreSQL path streams into COPY without building a RawLine per line.

    The line number is the physical line in the file where the line starts (the header is
    line 1), so an operator can open the file at the reported line. A line is taken only as
    it stands: with as many fields as the header names, on one physical line. Another is
    `misshapen` (why), and fails whole: an extra field is not dropped, a missing one not
    taken for "not given", and a quote left open does not quietly swallow the lines after it.
    """

    def __init__(self, text_rows: Iterable[str]) -> None:
        self.text_rows = text_rows

    def __iter__(self) -> Iterator[RawLine]:
        return (RawLine(*row) for row in self.rows())

    def rows(self) -> Iterator[Row]:
        reader = csv.reader(self.text_rows)
        last = 0  # the last physical line of the record before
        try:
            header = next(reader, None)
            f, p, q, a = _column_positions(header)
            width, last = len(header or ()), reader.line_num
            for row in reader:
                line = reader.line_num
                if len(row) == width and line == last + 1:  # the usual line: one physical line
                    last = line
                    yield (line, row[f], row[p], row[q] if q >= 0 else None, row[a] if a >= 0 else None, None)
                    continue
                first, last = last + 1, line
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                cells = _cell(row, f), _cell(row, p), _cell(row, q), _cell(row, a)
                yield first, *cells, _misshapen(len(row), width, first, last)
        except csv.Error as exc:
            hint = " (a quote left open?)" if "field limit" in str(exc) else ""
            raise ValidationFailed(f"CSV line {last + 1}: {exc}{hint}", line=last + 1) from exc
        except UnicodeDecodeError as exc:
            raise NotUtf8(_where_not_utf8(self.text_rows, reader.line_num + 1)) from exc


def _misshapen(fields: int, width: int, first: int, last: int) -> str:
    """Why a CSV line cannot be taken as it stands."""
    if first != last:
        return (
            f"a quoted field runs on from line {first} to line {last} (a quote left open?): "
            "the lines it spans are not applied; an id or a quantity holds no line break"
        )
    more = "more" if fields > width else "fewer"
    return f"has {fields} fields, {more} than the header's {width}: refused, not guessed at"


class NotUtf8(ValidationFailed):
    """A CSV that is not UTF-8 text, with the line and byte where it stops being readable."""


def _where_not_utf8(rows: Iterable[str], next_line: int) -> str:
    """The first byte that is not UTF-8, located by reading the file again when it can be (a file,
    an upload); else the line the reader had come to (the decoder reads ahead, so at or after it)."""
    binary = rows.buffer if isinstance(rows, io.TextIOWrapper) else None
    found = first_bad_byte(binary) if binary is not None and binary.seekable() else None
    if found is None:
        return f"The CSV is not UTF-8 text at or after line {next_line}. {SAVE_AS_UTF8}"
    line, column, value = found
    where = f"line {line}, byte {column} (0x{value:02X})"
    return f"The CSV is not UTF-8 text: {where} cannot be read. {SAVE_AS_UTF8}"


def first_bad_byte(binary: IO[bytes]) -> tuple[int, int, int] | None:
    """(line, byte within the line counted from 1, its value) of the first byte that is not UTF-8;
    None when there is none. Lines end at \n, \r\n or \r, as the reader splits them."""
    binary.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, line_start, start, carry = 1, 0, 0, b""  # start: the file offset of `scan`
    while True:
        chunk = binary.read(1 << 16)
        data = carry + chunk
        carry = b"\r" if chunk and data.endswith(b"\r") else b""  # a \r\n split over two reads
        scan = data[: len(data) - len(carry)]
        try:
            decoder.decode(scan, final=not chunk)
            bad = None
        except UnicodeDecodeError as exc:  # exc.object: the decoder's held-back bytes, then scan
            bad = start - (len(exc.object) - len(scan)) + exc.start, exc.object[exc.start]
        breaks = list(LINE_BREAK.finditer(scan, 0, len(scan) if bad is None else max(bad[0] - start, 0)))
        line += len(breaks)
        line_start = start + breaks[-1].end() if breaks else line_start
        if bad is not None:
            return line, bad[0] - line_start + 1, bad[1]
        if not chunk:
            return None
        start += len(scan)


def _cell(row: list[str], i: int) -> str | None:
    return row[i] if 0 <= i < len(row) else None


def csv_lines(rows: Iterable[str]) -> CsvLines:
    """The lines of a CSV (CsvLines)."""
    return CsvLines(rows)


def _column_positions(header: list[str] | None) -> list[int]:
    if header is None:
        raise ValidationFailed("The CSV is empty; expected a header " + ",".join(CSV_COLUMNS))
    names = [h.strip() for h in header]
    missing = [c for c in CSV_COLUMNS[:2] if c not in names]
    if missing or (QOH not in names and ATP not in names):
        blank = len(names) <= 1 and not any(names)  # no field but an empty one: `,,,` is no blank line
        given = "an empty line (the header must be the first line)" if blank else clipped(",".join(names))
        raise ValidationFailed(
            f"The CSV header must name facilityId, productId and {QOH} and/or {ATP}; got {given}"
        )
    _refuse_loose_header(names)
    return [names.index(c) if c in names else -1 for c in CSV_COLUMNS]


def _refuse_loose_header(names: list[str]) -> None:
    """A header naming a column twice or one the reset does not know (`QuantityOnHand`, a
    typo) is refused whole, as a JSON member the contract does not list is: nothing applied."""
    twice = next((name for name, n in Counter(names).items() if n > 1), None)
    if twice is not None:
        raise ValidationFailed(f'The CSV header names the column "{clipped(twice)}" twice')
    unknown = [name for name in names if name not in CSV_COLUMNS]
    if unknown:
        raise ValidationFailed(
            f'The CSV header names "{clipped(unknown[0])}", not a column of a reset; '
            f"the columns are {','.join(CSV_COLUMNS)}"
        )


def parse_json_document(body: bytes) -> dict[str, Any]:
    """The request body as JSON (numbers kept exact as Decimal; NaN and Infinity kept, to refuse per
    line); an object naming a member twice is 422, the whole reset refused (core.strict_json)."""
    try:
        document = strict_json.loads(body, parse_constant=Decimal)
    except strict_json.DuplicateMember as twice:  # {"lines": [...], "lines": []}: neither is taken
        raise twice.refusal(["body"]) from None
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
    _refuse_unknown_members(document)
    _refuse_nul(document["lines"])
    source = document.get("source")
    if source is not None and (not isinstance(source, str) or len(source) > 255):
        raise ValidationFailed("source must be a string of at most 255 characters")
    if isinstance(source, str) and "\x00" in source:
        raise ValidationFailed(f"source: {NUL_DETAIL}")
    if isinstance(source, str) and not is_utf8_text(source):
        raise ValidationFailed(f"source: {SURROGATE_DETAIL}")
    return document


def _refuse_nul(lines: list[dict[str, Any]]) -> None:
    """Text with a NUL or a lone surrogate anywhere in the body is 422 (docs/api.md, the error
    table), the reset's lines included: the whole reset refused, nothing applied."""
    for n, line in enumerate(lines):
        for name, value in line.items():
            if isinstance(value, str) and "\x00" in value:
                raise ValidationFailed(f"lines[{n}].{name}: {NUL_DETAIL}", line=n + 1)
            if isinstance(value, str) and not is_utf8_text(value):
                raise ValidationFailed(f"lines[{n}].{name}: {SURROGATE_DETAIL}", line=n + 1)


DOCUMENT_MEMBERS = frozenset(("lines", "source"))
LINE_MEMBERS = frozenset(CSV_COLUMNS)


def _refuse_unknown_members(document: dict[str, Any]) -> None:
    """A member the contract does not list (`additionalProperties: false`), at the top or in a
    line, refuses the whole reset before anything is applied: a misspelt `quantityOnHnad` is
    named, not taken for a line without a quantity."""
    unknown: list[list[str | int]] = [["body", name] for name in document if name not in DOCUMENT_MEMBERS]
    for n, line in enumerate(document["lines"]):
        if not line.keys() <= LINE_MEMBERS:
            unknown += [["body", "lines", n, name] for name in line if name not in LINE_MEMBERS]
    if unknown:
        errors = [
            {"loc": loc, "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
            for loc in unknown
        ]
        where = ".".join(str(part) for part in unknown[0])
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise ValidationFailed(f"{where}: not a member of a reset{more}", **listed_errors(errors))


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
