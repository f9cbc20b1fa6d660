"""An ERP reset applied by PostgreSQL: the lines streamed in with COPY, the rest set-based SQL.

Python streams the lines (resets/staging_pg.py) and reports; the database judges every line
(the SQL of resets/line_sql_pg.py, which says in SQL what resets/rules.py says in Python, and
hands the rare line it cannot be sure of back to those rules), refuses a scoped caller's run
naming another facility, finds or creates the facility items, computes the diffs, hands them
to the ledger's door as typed SELECTs (ledger.post of a StagedPostings, which posts them
set-based: ledger/staged_pg.py, totals and one detail row per change, in this transaction),
records the InventoryChanged events (resets/set_events_pg.py) and counts.
A few dozen statements, whatever the size of the file. resets/service.py takes this path only
where core.dialects.stages_set_based says the database can (`applies`); the SQL only PostgreSQL
runs is in the *_pg.py modules named above, the driver's side (COPY, the memory settings) in
core/bulk.py.

The same meaning as the line batches of resets/service.py (SQLite): a product named on
several lines sees the lines before it (in input order), each changed line is a posting of
its own, one InventoryChanged per facility per `batch_size` lines of input.
"""

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from stockledger.core.bulk import session_settings
from stockledger.core.config import get_settings
from stockledger.core.dialects import stages_set_based
from stockledger.core.fixed import to_micros
from stockledger.core.model_base import utcnow
from stockledger.core.scope import facilities_in_scope
from stockledger.ledger.post import Links, StagedPostings, post
from stockledger.resets import line_sql_pg, set_outcome
from stockledger.resets.outcome import REASON, ResetOutcome
from stockledger.resets.rules import QOH, RawLine, ResetLine, check_line
from stockledger.resets.set_events_pg import record_changes
from stockledger.resets.set_outcome import record_outcome, refuse_out_of_scope
from stockledger.resets.staging_pg import rebuilt, stage_lines


def applies(session: Session) -> bool:
    """Whether this path serves the session's database (core.dialects.stages_set_based)."""
    return stages_set_based(session)


def reset_in_database(
    session: Session,
    outcome: ResetOutcome,
    lines: Iterable[RawLine],
    batch_size: int,
    keep_failures: int | None,
) -> None:
    """Apply the reset's lines; `outcome` gets its counts, failures, facilities and first changes."""
    scope = facilities_in_scope(session)
    settings = get_settings()  # STOCKLEDGER_RESET_WORK_MEM, STOCKLEDGER_RESET_TEMP_BUFFERS
    # The temporary tables' memory before the first of them; the sorts and hashes of a big file
    # in memory; no JIT (compiling the expressions of these statements cost seconds). No
    # plan_cache_mode = force_custom_plan (the line batches' setting): these statements run
    # once each, and it made every foreign-key check of the rows written plan its query anew
    # (a million-line load: 4× slower inserts).
    session_settings(
        session,
        work_mem=settings.reset_work_mem,
        temp_buffers=settings.reset_temp_buffers,
        jit=False,
        fast_compression=True,  # the events' payloads, up to 64 KB each
    )
    for name in line_sql_pg.TEMPORARY:  # a second reset in the same transaction
        session.connection().execute(text(f"DROP TABLE IF EXISTS {name}"))
    outcome.lines_total = stage_lines(session, lines, scope)
    run = session.connection().execute
    # The staged lines are only scanned (no statistics needed: the planner counts their pages);
    # the judged ones are joined to the ledger's tables: analysed (ANALYZE_CHECKED's columns).
    if scope is not None:
        _refuse_other_facilities(session, scope)
    run(text(line_sql_pg.CHECK), {"ws": line_sql_pg.WHITESPACE})
    _judge_deferred(session)
    run(text(line_sql_pg.ANALYZE_CHECKED))
    now = utcnow().replace(tzinfo=None)
    _find_or_create_items(session)
    # No guard: a reset sets totals, ATP below zero included (SPEC §4, SECURITY.md)
    links = Links(inventory_reset_id=outcome.inventory_reset_id)
    staged = StagedPostings(set_outcome.postings(), set_outcome.new_items(), REASON, links, now)
    posted = post(session, staged)
    for name in ("reset_unstocked", "reset_linked", "reset_new_item"):
        run(text(f"DROP TABLE {name}"))  # done with: their buffers go to the tables still to come
    record_changes(session, posted, outcome.inventory_reset_id, batch_size, now)
    _count(session, outcome, posted.count, keep_failures)


def _find_or_create_items(session: Session) -> None:
    """The diffs, and the facility item of each changed product without a promisable one
    (resets/line_sql_pg.py): each statement that writes links run only where it has rows to
    write (each reads the product_facility table: an initial load has nothing to lock, insert,
    re-point or clear)."""
    run = session.connection().execute
    linked = {"linked_prefix": line_sql_pg.new_item_prefix()}
    unstocked_sql, insert_sql, lock_sql = line_sql_pg.LOCK_UNSTOCKED
    unstocked = run(text(unstocked_sql)).rowcount
    inserted = run(text(insert_sql), linked).rowcount
    if inserted < unstocked:  # links there already: locked
        run(text(lock_sql))
    run(text(line_sql_pg.DIFFS))
    if not run(text(line_sql_pg.NEEDS_NEW_ITEMS)).scalar_one():  # every changed product stocked
        run(text(line_sql_pg.NO_NEW_ITEMS))
        if inserted:
            run(text(line_sql_pg.UNLINK_UNUSED))
        return
    run(text(line_sql_pg.NEW_ITEMS), {"prefix": line_sql_pg.new_item_prefix(), **linked})
    to_insert, to_repoint, used = run(text(line_sql_pg.NEW_ITEM_COUNTS), linked).one()
    insert_links, repoint_links = line_sql_pg.FIND_OR_CREATE
    if to_insert:
        run(text(insert_links))
    if to_repoint:
        run(text(repoint_links))
    if used < inserted:
        run(text(line_sql_pg.UNLINK_UNUSED))


def _refuse_other_facilities(session: Session, scope: frozenset[str]) -> None:
    """A scoped caller's run naming another facility is refused whole (403), whatever the line
    holds: refusing only the lines that change stock would tell it the other facility's totals."""
    found = session.connection().execute(
        text(line_sql_pg.OUT_OF_SCOPE), {"ws": line_sql_pg.WHITESPACE, "scope": sorted(scope)}
    )
    refuse_out_of_scope(found.first())


def _judge_deferred(session: Session) -> None:
    """The lines SQL leaves to the rules (a quantity with underscores, non-ASCII digits, a long
    exponent: resets/line_sql_pg.py), judged by them."""
    connection = session.connection()
    rows = connection.execute(text(line_sql_pg.DEFERRED)).all()
    if not rows:
        return
    judged: dict[str, list[object]] = {"ords": [], "codes": [], "kinds": [], "micros": []}
    for ord_, line, fac, prod, q, a, qk, ak in rows:
        result = check_line(RawLine(line, fac, prod, rebuilt(q, qk), rebuilt(a, ak)))
        judged["ords"].append(ord_)
        if isinstance(result, ResetLine):
            judged["codes"].append(None)
            judged["kinds"].append("q" if result.kind == QOH else "a")
            judged["micros"].append(to_micros(result.quantity))
        else:
            judged["codes"].append(result.code)
            judged["kinds"].append(None)
            judged["micros"].append(None)
    connection.execute(text(line_sql_pg.JUDGED), judged)


def _count(session: Session, outcome: ResetOutcome, changed: int, keep_failures: int | None) -> None:
    counted = session.connection().execute(text(line_sql_pg.COUNTS), {"ws": line_sql_pg.WHITESPACE}).all()
    failed, ok = sum(row[1] for row in counted), sum(row[2] for row in counted)
    facilities = [f for f, _, _ in counted if f is not None]
    record_outcome(
        session,
        outcome,
        (failed, ok, facilities),
        line_sql_pg.FAILURES,
        line_sql_pg.CHANGES,
        keep_failures,
        changed,
    )
