"""Statements run alone go to PostgreSQL with its own placeholders ($1…), converted once (from
`:name` or, for a lean SELECT, from psycopg's `%(name)s`)."""

from stockledger.core.statements import Statement, numbered, positional


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


def test_a_pyformat_select_gets_numbers_in_order_and_its_escaped_percent_back() -> None:
    sql = "SELECT %(f)s::VARCHAR, x LIKE 'a%%' FROM t WHERE f = %(f)s AND p = %(p)s"
    assert positional(sql, {"p": "P", "f": "F", "unused": 9}) == (
        "SELECT $1::VARCHAR, x LIKE 'a%' FROM t WHERE f = $1 AND p = $2",
        ["F", "P"],
    )
