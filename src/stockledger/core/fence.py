"""Sequence numbers in commit order (the outbox's): how far a feed read by number is final.

A sequence number is taken when an event is recorded, but transactions commit in another
order: without care a reader paging by `after=` could pass number 7 (committed) while 6
(still running) commits later, and never see 6. So every number is taken by
`stockledger_fenced_nextval` (migration 0008; the one-statement reservation raises the same
fence itself, `fence_sql`, then takes `nextval`), which first raises a FENCE: a shared advisory
lock (held until the transaction ends, visible at once to everyone in pg_locks) whose key is
the sequence's last value before the number is taken, a lower bound of that number; the
transaction's first fence is a lower bound of all its numbers. Being one function call,
fence and number cost no extra round trip. The reader, before its snapshot, reads L = the sequence's last
value, then M = the lowest fence held, and serves only events with number <= min(L, M).

Why that never skips an event: say e is served and f, with a smaller number, is not
visible to the reader's snapshot. f's number came before e's, and e's before L was read
(e <= L), and f's fence came before its number: so f held its fence when M was read
(f had not committed before the snapshot, which comes after). Then M <= fence(f) < f < e,
contradicting e <= M. Writers never wait on each other (the locks are shared and nobody
takes them exclusively). The sequence must not be cached per backend (CACHE 1, the
default). SQLite serialises writers (BEGIN IMMEDIATE): sequence order is commit order.
"""

from sqlalchemy import text
from sqlalchemy.orm import Session

from stockledger.core.dialects import next_value_expression
from stockledger.core.statements import is_postgres

FENCE_BASE = 0x53544B4C << 32  # "STKL": keeps our int8 advisory keys apart from others'
_LAST_VALUE = text("SELECT coalesce(pg_sequence_last_value(:seq), 0)")
_LOWEST_FENCE = text(
    "SELECT min(((classid::bigint << 32) | objid::bigint) - :base) FROM pg_locks "
    "WHERE locktype = 'advisory' AND objsubid = 1 AND classid::bigint >= :base_high "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def fenced_next_value(session: Session, sequence: str) -> tuple[str, dict[str, int]]:
    """SQL for the next number of `sequence`, its fence raised first (see above), to put inside
    a statement; on SQLite the plain counter (core.dialects.next_value_expression)."""
    return next_value_expression(session, sequence, function="stockledger_fenced_nextval")


def fence_sql(sequence: str) -> str:
    """PostgreSQL: the fence of `sequence` (what `stockledger_fenced_nextval` raises before it
    takes the number, the same key) as an SQL expression, for a statement that takes the number
    itself with plain `nextval` once this has been evaluated: the ledger's one-statement
    reservation (ledger/sole_item_pg.py), which so skips a PL/pgSQL call and its PERFORM."""
    return f"pg_advisory_xact_lock_shared({FENCE_BASE} + coalesce(pg_sequence_last_value('{sequence}'), 0))"


def final_up_to(session: Session, sequence: str) -> int | None:
    """The highest number of `sequence` below which no row can still appear (read BEFORE the
    snapshot), or None when every committed number is final (SQLite: writers are serialised)."""
    if not is_postgres(session):
        return None
    last = int(session.execute(_LAST_VALUE, {"seq": sequence}).scalar_one())
    lowest = session.execute(_LOWEST_FENCE, {"base": FENCE_BASE, "base_high": FENCE_BASE >> 32}).scalar()
    return last if lowest is None else min(last, int(lowest))
