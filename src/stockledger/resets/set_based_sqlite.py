"""An ERP reset applied by SQLite: the lines inserted by one executemany, the rest set-based SQL.

The shape of PostgreSQL's path (resets/set_based.py), in SQLite's SQL: Python streams the lines
to the driver (resets/staging_sqlite.py: a CSV's rows as the reader gives them) and reports; the
database judges every line (a plain CSV line as it stores it)
(resets/line_sql_sqlite.py, which says in SQL what resets/rules.py says in Python and hands the
rare JSON number it cannot be sure of back to those rules), refuses a scoped caller's run
naming another facility, computes the diffs, finds or creates the facility items, hands its
postings to the ledger's door as typed SELECTs (ledger.post of a StagedPostings: posted by
ledger/staged_sqlite.py, totals and one detail row per change, in this transaction, the
overflow guard of core.sums included), records the InventoryChanged events
(resets/set_events_sqlite.py) and counts. No row lock: SQLite lets one writer run at a time
(core.dialects.serialises_writers), so what the run reads stays as read until it commits.

resets/service.py takes this path where core.dialects.stages_set_based and serialises_writers
say the database can. The temporary tables live on the connection past the transaction: made
anew by each run, dropped when it is done.
"""

from collections.abc import Iterable

from sqlalchemy import bindparam, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stockledger.core.fixed import to_micros
from stockledger.core.ids import new_id
from stockledger.core.model_base import utcnow
from stockledger.core.scope import facilities_in_scope
from stockledger.core.transactions import savepoint
from stockledger.ledger.post import Links, StagedPostings, post
from stockledger.resets import line_sql_sqlite as sql
from stockledger.resets import set_outcome
from stockledger.resets.line_sql_pg import WHITESPACE
from stockledger.resets.outcome import REASON, ResetOutcome
from stockledger.resets.rules import QOH, RawLine, ResetLine, check_line
from stockledger.resets.set_events_sqlite import record_changes
from stockledger.resets.set_outcome import record_outcome, refuse_out_of_scope
from stockledger.resets.staging_pg import rebuilt
from stockledger.resets.staging_sqlite import stage_lines


def reset_serialised(
    session: Session,
    outcome: ResetOutcome,
    lines: Iterable[RawLine],
    batch_size: int,
    keep_failures: int | None,
) -> None:
    """Apply the reset's lines; `outcome` gets its counts, failures, facilities and first changes."""
    scope = facilities_in_scope(session)
    run = session.connection().execute
    run(text(sql.TEMPORARY_NOT_ZEROED))
    for name in sql.TEMPORARY:  # a run before on this connection
        run(text(f"DROP TABLE IF EXISTS temp.{name}"))
    outcome.lines_total = stage_lines(session, lines, scope)
    if scope is not None:
        _refuse_other_facilities(session, scope)
    run(text(sql.CHECK), {"ws": WHITESPACE})
    _judge_deferred(session)
    run(text(sql.UNKNOWN))
    each_once = _index_lines_by_product(session)
    for statement in sql.CURRENT:
        run(text(statement))
    run(text(sql.DIFF_EACH_ONCE if each_once else sql.DIFF_IN_ORDER))
    run(text(sql.NEW_ITEMS[0]))
    run(text(sql.NEW_ITEMS[1]), {"prefix": new_id("II")})
    for statement in sql.FIND_OR_CREATE:
        run(text(statement))
    # No guard: a reset sets totals, ATP below zero included (SPEC §4, SECURITY.md)
    now = utcnow().replace(tzinfo=None)
    links = Links(inventory_reset_id=outcome.inventory_reset_id)
    posted = post(
        session,
        StagedPostings(set_outcome.postings(), set_outcome.new_items(raced=False), REASON, links, now),
    )
    record_changes(session, posted, outcome.inventory_reset_id, batch_size)
    _count(session, outcome, posted.count, keep_failures)
    for name in (*sql.TEMPORARY, posted.rows.name):  # what the ledger posted: read, done with
        run(text(f"DROP TABLE IF EXISTS {name}"))


def _index_lines_by_product(session: Session) -> bool:
    """The usable lines indexed by product (line_sql_sqlite.LINES_BY_PRODUCT); whether each
    product is named once (the index unique)."""
    run = session.connection().execute
    try:
        with savepoint(session):
            run(text(sql.LINES_BY_PRODUCT.format(unique="UNIQUE ")))
        return True
    except IntegrityError:  # a product named on two lines
        run(text(sql.LINES_BY_PRODUCT.format(unique="")))
        return False


def _refuse_other_facilities(session: Session, scope: frozenset[str]) -> None:
    """A scoped caller's run naming another facility is refused whole (403), whatever the line
    holds: refusing only the lines that change stock would tell it the other facility's totals."""
    statement = text(sql.OUT_OF_SCOPE).bindparams(bindparam("scope", expanding=True))
    refuse_out_of_scope(
        session.connection().execute(statement, {"ws": WHITESPACE, "scope": sorted(scope)}).first()
    )


def _judge_deferred(session: Session) -> None:
    """The lines SQL leaves to the rules (a JSON number with an exponent, NaN, Infinity), judged
    by them."""
    connection = session.connection()
    judged = []
    for ord_, line, fac, prod, q, a, qk, ak in connection.execute(text(sql.DEFERRED)).all():
        result = check_line(RawLine(line, fac, prod, rebuilt(q, qk), rebuilt(a, ak)))
        if isinstance(result, ResetLine):
            kind = "q" if result.kind == QOH else "a"
            judged.append({"ord": ord_, "code": None, "kind": kind, "micros": to_micros(result.quantity)})
        else:
            judged.append({"ord": ord_, "code": result.code, "kind": None, "micros": None})
    if judged:
        connection.execute(text(sql.JUDGED), judged)


def _count(session: Session, outcome: ResetOutcome, changed: int, keep_failures: int | None) -> None:
    run = session.connection().execute
    failed, ok = run(text(sql.COUNTS)).one()
    facilities = run(text(sql.FACILITIES), {"ws": WHITESPACE}).scalars().all()
    record_outcome(
        session, outcome, (failed, ok, facilities), sql.FAILURES, sql.CHANGES, keep_failures, changed
    )
