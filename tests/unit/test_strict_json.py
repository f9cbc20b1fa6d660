"""core.strict_json: what the service reads has each member once per object (an outside tester:
a reset with "lines" twice kept the last, silently), its numbers exact."""

import json
from collections.abc import Callable
from decimal import Decimal

import pytest

from stockledger.core.strict_json import DuplicateMember, loads


@pytest.mark.parametrize(
    ("text", "name", "loc"),
    [
        ('{"lines": [{"productId": "FG001"}], "lines": []}', "lines", ["lines"]),
        ('{"lines": [{"q": 1}, {"p": "A", "q": 2, "q": 3}]}', "q", ["lines", 1, "q"]),
        ('[1, {"b": [{"c": 1, "c": 1}]}]', "c", [1, "b", 0, "c"]),  # the same value twice too
        ('{"a": {"x": 1, "x": 2}, "a": 3}', "a", ["a"]),  # the first in document order
        ('{"a": 1, "b": {"z": 0, "y": 1, "z": 2}}', "z", ["b", "z"]),
    ],
)
def test_an_object_naming_a_member_twice_is_refused_with_where(
    text: str, name: str, loc: list[object]
) -> None:
    assert json.loads(text) is not None  # what json.loads reads: the last of the two, silently
    with pytest.raises(DuplicateMember) as refused:
        loads(text)
    assert (refused.value.name, refused.value.loc) == (name, loc)
    problem = refused.value.refusal(["body"])
    assert (problem.status, problem.code) == (422, "validation_failed")
    assert problem.extra["errors"] == [
        {
            "loc": ["body", *loc],
            "msg": f'"{name}" appears twice in one object: refused, not read as either',
            "type": "duplicate_member",
        }
    ]
    assert problem.detail.startswith(".".join(map(str, ["body", *loc])) + ": ")


def test_a_document_with_each_member_once_reads_as_json_loads_reads_it() -> None:
    text = '{"a": [1, 2.50, {"b": null, "c": "x"}], "d": {}, "e": 1e3}'
    assert loads(text) == {"a": [1, Decimal("2.50"), {"b": None, "c": "x"}], "d": {}, "e": Decimal("1E+3")}
    assert loads(b'{"f": 1.5}', parse_float=float) == {"f": 1.5}
    assert loads("[]") == []
    with pytest.raises(json.JSONDecodeError):
        loads("{not json")
    with pytest.raises(RecursionError):
        loads("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize(
    "text",
    [
        '{"q": 1.25, "n": NaN}'.encode("utf-16"),  # bytes in any of the encodings json.loads detects
        '{"q": 1.25}'.encode("utf-32-le"),
        b'{"s": "\xc3\xa9\\ud800"}',  # a lone surrogate escape, as json.loads passes it
        "\ufeff{}",  # a str with a BOM: json.loads' own refusal
        b"\xef\xbb\xbf{}",  # bytes with one: read (json.loads drops it)
        b"\xff\xfe\x00",  # no text: json.loads' own error
    ],
)
def test_bytes_and_text_are_decoded_as_json_loads_decodes_them(text: str | bytes) -> None:
    """loads keeps its decoders between calls; what it reads, and what it refuses, is json.loads'."""
    assert _outcome(lambda: loads(text)) == _outcome(lambda: json.loads(text, parse_float=Decimal))


def _outcome(read: Callable[[], object]) -> tuple[str, str]:
    """What `read` returned (its repr: NaN is not equal to itself) or the error it raised."""
    try:
        return "read", repr(read())
    except ValueError as error:
        return type(error).__name__, str(error)


def test_the_options_of_one_call_do_not_stay_for_the_next() -> None:
    assert loads("[1.5, Infinity]", parse_constant=Decimal) == [Decimal("1.5"), Decimal("Infinity")]
    assert loads("[1.5]", parse_float=float) == [1.5]
    assert repr(loads("[1.5, Infinity]")) == repr([Decimal("1.5"), float("inf")])
