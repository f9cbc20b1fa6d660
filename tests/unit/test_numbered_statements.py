"""Statements run alone go to PostgreSQL with its own placeholders ($1…), converted once."""

from stockledger.core.statements import Statement, numbered


def test_names_become_numbers_in_order_and_a_repeated_name_is_one_parameter() -> None:
    statement = Statement(
        "UPDATE t SET a = :a, b = :b::text WHERE f = :f AND g = :a AND h = '10:30'",
        {"a": 1, "b": "x", "f": "F", "unused": 9},
    )
    assert numbered(statement) == (
        "UPDATE t SET a = $1, b = $2::text WHERE f = $3 AND g = $1 AND h = '10:30'",
        [1, "x", "F"],
    )


def test_a_percent_sign_is_sent_as_it_is() -> None:
    assert numbered(Statement("SELECT :p LIKE 'a%'", {"p": "ab"})) == ("SELECT $1 LIKE 'a%'", ["ab"])
