"""The postings' values as PostgreSQL expressions, for the ledger's statements that PostgreSQL
alone runs: the one-statement reservation (ledger/sole_item_pg.py, where
core.dialects.writes_through_ctes) and the set-based door (ledger/staged_pg.py, where
core.dialects.stages_set_based)."""

from stockledger.ledger.postings import SEQ_DIGITS


def format_seq_sql(number: str) -> str:
    """`format_seq` as a PostgreSQL expression of the integer expression `number`."""
    return (
        f"CASE WHEN {number} < {10**SEQ_DIGITS} THEN lpad({number}::text, {SEQ_DIGITS}, '0') "
        f"ELSE {number}::text END"
    )
