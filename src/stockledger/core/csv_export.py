"""CSV exports of list reads: `Accept: text/csv` (or `format=csv`, for a link), streamed.

RFC 4180 (comma, CRLF line ends, fields quoted only when they hold a comma, quote or line
break, quotes doubled), a header row of the JSON field names. The rows are read with the list's
own keyset paging, a chunk at a time, each chunk in a short read session of its own: memory
stays flat and no connection is held while the client reads. The first chunk is read before the
answer starts (a lost database is then a 503); one lost later cuts the body short, so the client
sees an incomplete transfer, never a complete-looking file that lacks rows (ResponseCut).
"""

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from stockledger.core.deps import get_database
from stockledger.core.disconnects import LOST, ResponseCut
from stockledger.core.routing import HEAD_ONLY
from stockledger.core.scope import bind_principal

CSV_MEDIA_TYPE = "text/csv"
FLUSH_BYTES = 64 * 1024  # bytes sent per chunk of the body

T = TypeVar("T")
_INSTANT = TypeAdapter(datetime)  # instants written as the JSON answers write them
# `format=csv`: for links, which send no Accept. Not in the contract: one operation has one answer
# type in a generated client (it would parse the CSV as JSON); the `…csv` operations are typed.
Format = Annotated[Literal["json", "csv"] | None, Query(include_in_schema=False)]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}},
        "description": "JSON, or CSV with `Accept: text/csv` (a typed client: the `.csv` operation)",
    }
}
DISPOSITION = {
    "description": "attachment, with a file name",
    "schema": {"type": "string", "pattern": "^attachment; filename="},
}


class CsvResponse(StreamingResponse):
    """The answer of a `.csv` export operation: its contract declares text/csv only."""

    media_type = CSV_MEDIA_TYPE


def csv_export(header: Sequence[str]) -> dict[int | str, dict[str, Any]]:
    """`responses` of an export operation: a text/csv 200 starting with `header`."""
    pattern = "^" + ",".join(header) + "\r\n"
    return {
        200: {
            "description": "Every row, as CSV (RFC 4180: CRLF, a header row of the JSON field names)",
            "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string", "pattern": pattern}}},
            "headers": {"Content-Disposition": DISPOSITION},
        }
    }


# What a chunk reader gets: a read session with the caller bound, the key after which to start
# (None: from the first row), and how many rows to read.
ChunkReader = Callable[[Session, Any, int], list[T]]


def wants_csv(request: Request, format: str | None) -> bool:
    """Whether the caller asked for CSV: `format=csv`, or text/csv among the Accept media ranges
    (before any JSON one: a client that accepts both gets the first it names)."""
    if format is not None:
        return format == "csv"
    for part in request.headers.get("accept", "").split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media == CSV_MEDIA_TYPE:
            return True
        if media in ("application/json", "*/*", "application/*"):
            return False
    return False


def csv_response(
    request: Request,
    header: Sequence[str],
    read_chunk: ChunkReader[T],
    key_of: Callable[[T], Any],
    cells_of: Callable[[T], Sequence[object]],
    filename: str,
) -> StreamingResponse:
    """The rows `read_chunk` gives, page after page by `key_of`, as a streamed CSV body. To a
    HEAD (core.routing.HEAD_ONLY) the same headers, and no row is read."""
    disposition = f'attachment; filename="{filename}"'
    if request.scope.get(HEAD_ONLY):
        return CsvResponse(
            iter(()),
            media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
            headers={"Content-Disposition": disposition},
        )
    db, principal = get_database(request), getattr(request.state, "principal", None)
    chunk_rows: int = request.app.state.settings.csv_export_chunk_rows  # rows read per statement

    def read(after: Any) -> list[T]:
        with db.reading() as session:
            bind_principal(session, principal)
            return read_chunk(session, after, chunk_rows)

    # The first page before the answer starts: a database lost now is the read routes' 503
    # (after their one retry), not a 200 whose body stops short.
    first = read(None)

    def rows() -> Iterator[Sequence[object]]:
        chunk = first
        while True:
            yield from (cells_of(row) for row in chunk)
            if len(chunk) < chunk_rows:
                return
            try:
                chunk = read(key_of(chunk[-1]))
            except LOST as error:  # the 200 has started: cut the body (core.disconnects.ResponseCut)
                raise ResponseCut(f"the CSV export of {request.url.path}", error) from None

    return CsvResponse(
        csv_body(header, rows()),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )


def csv_body(header: Sequence[str], rows: Iterator[Sequence[object]]) -> Iterator[bytes]:
    """RFC 4180 text of the header and the rows, in chunks of about FLUSH_BYTES."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
        if buffer.tell() >= FLUSH_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def csv_cell(value: object) -> str:
    """A field as the JSON answer gives it: quantities as plain decimals (never 1e-06), instants
    in ISO 8601, null empty. Text a spreadsheet would run as a formula (starting with =, +, -,
    @, a tab or a carriage return: a comment such as =HYPERLINK(…)) gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return str(_INSTANT.dump_python(value, mode="json"))
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(_FORMULA_STARTS) else text


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
