"""JSON as this service reads what it is sent: numbers exact (Decimal), and no object naming a
member twice.

json.loads keeps the last of two members of one name ({"lines": [...], "lines": []} is an empty
reset); another reader may keep the first, so a check made on one reading (a proxy's, the token's
scope) and the work done on the other would disagree: a way to smuggle a value past the check.
No honest client sends one; every body, file and message this service reads is refused whole
when an object in it names a member twice (DuplicateMember, with where). The check costs about
0.3 µs a reservation body and 0.23 µs a line of a JSON reset (bench/RESULTS.md, "Duplicate
members"). No web framework here: the API (core.exact_json, the ERP reset, the fast reservation
path, the Idempotency-Key's fingerprint), the `load` command and the inbound OMS messages read
with it.
"""

import functools
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from stockledger.core.errors import ValidationFailed, clipped, listed_errors

Loc = list[str | int]


class DuplicateMember(ValueError):
    """An object of the document names the member `name` twice; `loc` is where that object is
    (its path from the top, as a validation error's loc), the member last."""

    def __init__(self, name: str, loc: Loc) -> None:
        where = ".".join(str(part) for part in loc) or name
        super().__init__(f'{where}: the member "{name}" appears twice in one object')
        self.name = name
        self.loc = loc

    def refusal(self, prefix: Loc) -> ValidationFailed:
        """The 422 of a request body (or document) holding it, its loc under `prefix` (["body"])."""
        msg = f'"{self.name}" appears twice in one object: refused, not read as either'
        loc = [*prefix, *self.loc]
        error = {"loc": loc, "msg": msg, "type": "duplicate_member"}
        where = ".".join(str(part) for part in loc)
        return ValidationFailed(f"{clipped(where)}: {msg}", **listed_errors([error]))


def loads(
    text: str | bytes,
    parse_constant: Callable[[str], Any] | None = None,
    parse_float: Callable[[str], Any] = Decimal,
) -> Any:
    """The document (numbers with a fraction or exponent as Decimal, unless told otherwise);
    DuplicateMember when an object names a member twice, json.JSONDecodeError (a ValueError too)
    when it is no JSON, RecursionError when nested past the interpreter's limit."""
    if isinstance(text, str):
        if text.startswith("\ufeff"):  # as json.loads refuses it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        decoded = text
    else:
        decoded = text.decode(json.detect_encoding(text), "surrogatepass")  # as json.loads does
    try:
        return _decoder(parse_constant, parse_float).decode(decoded)
    except _Twice:
        raise DuplicateMember(*_where_twice(text)) from None


@functools.lru_cache(maxsize=8)  # a handful of combinations exist (loads' callers)
def _decoder(
    parse_constant: Callable[[str], Any] | None, parse_float: Callable[[str], Any]
) -> json.JSONDecoder:
    """json.loads' decoder, made once: json.loads with any option builds a decoder and its scanner
    each call (≈ 1.5 % of a worker's samples on POST /v1/reservations, py-spy)."""
    return json.JSONDecoder(parse_float=parse_float, parse_constant=parse_constant, object_pairs_hook=_object)


class _Twice(Exception):
    """Raised inside json.loads, to stop at the first object naming a member twice."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _Twice
    return document


def _first_twice(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            return name
        seen.add(name)
    raise AssertionError("no member named twice")


class _Marked(dict[str, Any]):
    """An object that named `twice` twice (read again, only to say where)."""

    twice: str


def _marking(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) == len(pairs):
        return document
    marked = _Marked(document)
    marked.twice = _first_twice(pairs)
    return marked


def _where_twice(text: str | bytes) -> tuple[str, Loc]:
    """The first member (in document order) an object names twice, and its path, the member last:
    the document read again with such objects marked, then walked (iteratively: depth is the
    sender's to choose). Only a refused document pays for it."""
    document = json.loads(text, object_pairs_hook=_marking)
    pending: list[tuple[Any, Loc]] = [(document, [])]
    while pending:
        node, loc = pending.pop()
        if isinstance(node, _Marked):
            return node.twice, [*loc, node.twice]
        if isinstance(node, dict):
            pending.extend((value, [*loc, key]) for key, value in reversed(node.items()))
        elif isinstance(node, list):
            pending.extend((value, [*loc, i]) for i, value in reversed(list(enumerate(node))))
    raise AssertionError("read again, the document names no member twice")
