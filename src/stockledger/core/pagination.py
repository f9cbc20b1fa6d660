"""Cursor pagination: `{"items": [...], "next": cursor or null}`; the cursor is opaque."""

import base64
import json
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, WithJsonSchema
from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import QueryableAttribute

from stockledger.core.errors import ValidationFailed
from stockledger.core.guards import is_utf8_text

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size, at most 1000")]
# The cursor's `format` in the contract says which lists issue it: a position (an offset or a
# sequence number), or a key of one, two or three ids (tests/e2e/schemathesis_hooks.py generates
# real ones); its description says what it encodes, and that a string the service did not issue
# is a 422. No `pattern`: one loose enough for every issued cursor also admits strings that are
# not cursors, and a generator would then make those instead of the format's real ones.


def _cursor(fmt: str, holds: str) -> Any:
    description = (
        "The `next` of the previous page, sent back unchanged. It is base64url (no padding) of a JSON "
        f"array of {holds}; a string this service did not issue is 422 `validation_failed`"
    )
    schema = {"type": "string", "maxLength": 500, "format": fmt}
    return Annotated[
        str | None,
        Query(max_length=500, description=description),
        WithJsonSchema({**schema, "description": description}),
    ]


Cursor = _cursor("seq-cursor", "one integer from 0 to 2147483647 (a position in the list)")
KeyCursor = _cursor("key-cursor", "the last row's key: two ids")
IdCursor = _cursor("id-cursor", "the last row's key: one id")  # a key of one id
Key3Cursor = _cursor("key3-cursor", "the last row's key: three ids")  # a key of three ids
MAX_KEY_INT = 2**31 - 1  # an INTEGER: the int keys are detail rows' seq_num and page offsets
MAX_KEY_TEXT = 255


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str | None, *kinds: type[int] | type[str], max_int: int = MAX_KEY_INT
) -> list[Any] | None:
    """The key after which the next page starts, one value of each of `kinds` (an int fits the
    INTEGER column it is compared with, >= 0; a str is short UTF-8 text without NUL); a tampered
    cursor is a 422."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValidationFailed("The cursor is not one this service issued", cursor=cursor) from exc
    if not isinstance(key, list) or len(key) != len(kinds):
        raise ValidationFailed("The cursor is not one this service issued", cursor=cursor)
    if not all(_fits(value, kind, max_int) for value, kind in zip(key, kinds, strict=True)):
        raise ValidationFailed("The cursor is not one this service issued", cursor=cursor)
    return key


def _fits(value: Any, kind: type[int] | type[str], max_int: int) -> bool:
    if kind is int:
        return type(value) is int and 0 <= value <= max_int
    return type(value) is str and len(value) <= MAX_KEY_TEXT and "\x00" not in value and is_utf8_text(value)


def page_of(rows: list[T], limit: int, key_of: Any) -> tuple[list[T], str | None]:
    """Split the `limit + 1` rows a query fetched into a page and the next cursor."""
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, encode_cursor(list(key_of(page[-1])))


def after_key(
    columns: Sequence[QueryableAttribute[Any] | ColumnElement[Any]], key: Sequence[Any]
) -> ColumnElement[bool]:
    """Rows strictly after `key` in the order of `columns` (all ascending): the keyset condition
    of a cursor, spelled out (col1 > k1 OR col1 = k1 AND (col2 > k2 OR …)) for both databases."""
    head, *rest = columns
    later: ColumnElement[bool] = head > key[0]
    if not rest:
        return later
    return or_(later, and_(head == key[0], after_key(rest, key[1:])))
