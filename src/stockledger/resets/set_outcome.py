"""What both set-based resets (resets/set_based.py on PostgreSQL, set_based_sqlite.py on SQLite)
share once their database has judged and posted the lines: the postings and new items handed to
the ledger (typed SELECTs of the run's temporary tables, which both databases name and shape
alike), a scoped caller's refusal, and the outcome's counts, failures and first changes read back
from those tables."""

from collections.abc import Callable, Iterable
from typing import Any, cast

from sqlalchemy import BigInteger, Boolean, Select, Table, Text, and_, column, select, table, text
from sqlalchemy.orm import Session

from stockledger.core.errors import Forbidden
from stockledger.core.fixed import from_micros
from stockledger.ledger.models import ProductFacility
from stockledger.resets.failures import STORED_FAILURES
from stockledger.resets.outcome import ResetChange, ResetOutcome
from stockledger.resets.rules import LineFailure, RawLine, check_line
from stockledger.resets.staging_pg import rebuilt

_DIFF = table(
    "reset_diff", column("ord", BigInteger), column("f", Text), column("p", Text), column("diff", BigInteger)
)
_NEW = table(
    "reset_new_item", column("f", Text), column("p", Text), column("item", Text), column("fresh", Boolean)
)
_LINK = cast(Table, ProductFacility.__table__)


def postings() -> Select[Any]:
    """One posting per changed line, on the facility item its product's link names."""
    d, link = _DIFF.c, _LINK.c
    return (
        select(
            d.ord,
            d.f.label("facility_id"),
            link.inventory_item_id,
            d.diff.label("qoh_diff"),
            d.diff.label("atp_diff"),
            d.diff.label("acc_diff"),
        )
        .join_from(_DIFF, _LINK, and_(link.facility_id == d.f, link.product_id == d.p))
        .where(d.diff != 0)
    )


def new_items(raced: bool = True) -> Select[Any]:
    """The new items the run's links name (the loser of a race names the winner's, not its own).
    `raced=False` where no other run can have raced it (a database that serialises writers): the
    new items as the run numbered them, no search of their links (100,000 items: 0.03 s)."""
    n, link = _NEW.c, _LINK.c
    items = select(n.f.label("facility_id"), n.item.label("inventory_item_id"), n.p.label("product_id"))
    if not raced:
        return items.where(n.fresh)
    return items.join_from(
        _NEW,
        _LINK,
        and_(link.facility_id == n.f, link.product_id == n.p, link.inventory_item_id == n.item),
    ).where(n.fresh)


def refuse_out_of_scope(found: Any) -> None:
    """403 for the first line (line number, facility id) of OUT_OF_SCOPE's result, if any: a scoped
    caller's run naming another facility is refused whole."""
    if found is not None:
        line, facility_id = found
        raise Forbidden(
            f"Line {line}: this token may not act on facility {facility_id}",
            line=line,
            facilityId=facility_id,
        )


def record_outcome(
    session: Session,
    outcome: ResetOutcome,
    counted: tuple[int, int, Iterable[str]],
    failures_sql: str,
    changes_sql: str,
    keep_failures: int | None,
    changed: int,
) -> None:
    """`outcome`'s counts from `counted` (lines failed, lines usable, facilities named), its
    failures (FAILURES: the first `n` failed lines' rows) and first changes (CHANGES)."""
    run: Callable[..., Any] = session.connection().execute
    failed, ok, facilities = counted
    outcome.lines_failed, outcome.lines_changed = int(failed), changed
    outcome.lines_unchanged = int(ok) - changed
    outcome.facilities = set(facilities)
    if failed:
        wanted = STORED_FAILURES if keep_failures is None else max(keep_failures, STORED_FAILURES)
        limit = int(failed) if keep_failures is None else wanted
        failures = [_failure(*row) for row in run(text(failures_sql), {"n": limit})]
        outcome.stored_failures = failures[:STORED_FAILURES]
        outcome.failures = failures if keep_failures is None else failures[:keep_failures]
    if outcome.keep_changes:
        outcome.changes = [
            ResetChange(line, f, p, from_micros(diff), from_micros(q), from_micros(a))
            for line, f, p, diff, q, a in run(text(changes_sql), {"n": outcome.keep_changes})
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
