"""core.strict_json: what the service reads has each member once per object (an outside tester:
a reset with "lines" twice kept the last, silently), its numbers exact."""

import json
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
