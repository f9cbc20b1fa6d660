"""An ERP reset applied by SQLite: the lines inserted by one executemany, the rest set-based SQL.

The shape of PostgreSQL's path (resets/set_based.py), in SQLite's SQL: Python stages the lines
(resets/staging_sqlite.py, one plain tuple a line) and reports; the database judges every line
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
from sqlalchemy.orm import Session

from stockledger.core.errors import Forbidden
from stockledger.core.fixed import from_micros, to_micros
from stockledger.core.ids import new_id
from stockledger.core.model_base import utcnow
from stockledger.core.scope import facilities_in_scope
from stockledger.ledger.post import Links, StagedPostings, post
from stockledger.resets import line_sql_sqlite as sql
from stockledger.resets.failures import STORED_FAILURES
from stockledger.resets.line_sql_pg import WHITESPACE
from stockledger.resets.outcome import REASON, ResetChange, ResetOutcome
from stockledger.resets.rules import QOH, LineFailure, RawLine, ResetLine, check_line
from stockledger.resets.set_events_sqlite import record_changes
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
    for name in sql.TEMPORARY:  # a run before on this connection
        run(text(f"DROP TABLE IF EXISTS temp.{name}"))
    outcome.lines_total = stage_lines(session, lines, scope)
    if scope is not None:
        _refuse_other_facilities(session, scope)
    run(text(sql.CREATE_CHECKED))
    run(text(sql.CHECK), {"ws": WHITESPACE})
    _judge_deferred(session)
    run(text(sql.UNKNOWN))
    for statement in sql.DIFFS:
        run(text(statement))
    run(text(sql.NEW_ITEMS[0]))
    run(text(sql.NEW_ITEMS[1]), {"prefix": new_id("II")})
    for statement in sql.FIND_OR_CREATE:
        run(text(statement))
    # No guard: a reset sets totals, ATP below zero included (SPEC §4, SECURITY.md)
    now = utcnow().replace(tzinfo=None)
    links = Links(inventory_reset_id=outcome.inventory_reset_id)
    posted = post(session, StagedPostings(sql.postings(), sql.new_items(), REASON, links, now))
    record_changes(session, posted, outcome.inventory_reset_id, batch_size)
    _count(session, outcome, posted.count, keep_failures)
    for name in (*sql.TEMPORARY, posted.rows.name):  # what the ledger posted: read, done with
        run(text(f"DROP TABLE IF EXISTS {name}"))


def _refuse_other_facilities(session: Session, scope: frozenset[str]) -> None:
    """A scoped caller's run naming another facility is refused whole (403), whatever the line
    holds: refusing only the lines that change stock would tell it the other facility's totals."""
    statement = text(sql.OUT_OF_SCOPE).bindparams(bindparam("scope", expanding=True))
    row = session.connection().execute(statement, {"ws": WHITESPACE, "scope": sorted(scope)}).first()
    if row is not None:
        line, facility_id = row
        raise Forbidden(
            f"Line {line}: this token may not act on facility {facility_id}",
            line=line,
            facilityId=facility_id,
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
    outcome.lines_failed, outcome.lines_changed = int(failed), changed
    outcome.lines_unchanged = int(ok) - changed
    outcome.facilities = set(run(text(sql.FACILITIES)).scalars())
    if failed:
        wanted = STORED_FAILURES if keep_failures is None else max(keep_failures, STORED_FAILURES)
        limit = int(failed) if keep_failures is None else wanted
        failures = [_failure(*row) for row in run(text(sql.FAILURES), {"n": limit})]
        outcome.stored_failures = failures[:STORED_FAILURES]
        outcome.failures = failures if keep_failures is None else failures[:keep_failures]
    if outcome.keep_changes:
        outcome.changes = [
            ResetChange(line, f, p, from_micros(diff), from_micros(q), from_micros(a))
            for line, f, p, diff, q, a in run(text(sql.CHANGES), {"n": outcome.keep_changes})
        ]


def _failure(
    line: int,
    code: str,
    f: str | None,
    p: str | None,
    fac: str | None,
    prod: str | None,
    q: str | None,
    a: str | None,
    qk: str | None,
    ak: str | None,
    pre_message: str | None,
) -> LineFailure:
    """A failed line as reported: the code SQL gave, the message the rules give (resets/rules.py)."""
    if pre_message is not None:
        return LineFailure(line, code, pre_message, fac, prod)
    if code == "unknown_facility":
        return LineFailure(line, code, f"Facility {f} not found", f, p)
    if code == "unknown_product":
        return LineFailure(line, code, f"Product {p} not found", f, p)
    judged = check_line(RawLine(line, fac, prod, rebuilt(q, qk), rebuilt(a, ak)))
    if isinstance(judged, LineFailure):
        return LineFailure(line, code, judged.message, judged.facility_id, judged.product_id)
    return LineFailure(line, code, f"{code} (the rules find the line usable)", f, p)
