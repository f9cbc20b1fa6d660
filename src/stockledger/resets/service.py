"""createExternalInventoryReset: set products' QOH or ATP to the ERP's numbers.

On plain PostgreSQL the database does it (resets/set_based.py: the lines streamed in with COPY,
set-based SQL for the rest), and on SQLite too, in its own SQL (resets/set_based_sqlite.py: the
lines inserted by executemany; no row lock, its writers being serialised). On Citus the lines
go in batches, as below.

Each batch of lines costs a handful of set-based statements (known facilities and
products, the current totals under row locks, findOrCreate of the facility items, then
`post` of a batch: one UPDATE of totals and one multi-row INSERT of detail rows), so a
million-line file is a few hundred round trips, not millions.

Events: one InventoryChanged per facility per batch, listing every changed line (a
million per-line events would double the writes of a full load for no reader's benefit),
and one InventoryReset per run with its counts.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stockledger.core.config import default
from stockledger.core.dialects import (
    analyze_after_commit,
    inserts_counted,
    one_of,
    plan_each_statement,
    serialises_writers,
)
from stockledger.core.errors import Forbidden, NotFound
from stockledger.core.fixed import ZERO
from stockledger.core.ids import new_id
from stockledger.core.model_base import utcnow
from stockledger.core.quantities import json_number
from stockledger.core.scope import check_owner, facilities_in_scope
from stockledger.core.write_behind import WriteBehind
from stockledger.events.outbox import event_inserts
from stockledger.ledger.models import ExternalInventoryReset, Facility, InventoryItem, Product
from stockledger.ledger.post import Links, LockedItem, Posted, Posting, post
from stockledger.resets import set_based
from stockledger.resets.facility_items import PROMISABLE, Pair, find_or_create_facility_items, lock_links
from stockledger.resets.failures import ALL_FACILITIES, STORED_FAILURES
from stockledger.resets.outcome import REASON, ResetChange, ResetOutcome, record_run
from stockledger.resets.set_based_sqlite import reset_serialised

__all__ = ["LISTED_FAILURES", "ResetChange", "ResetOutcome", "get_reset_run", "reset_inventory"]
from stockledger.resets.rules import LineFailure, RawLine, ResetLine, check_line, named_facilities, reset_diff

BATCH_SIZE: int = default("reset_batch_size")


LISTED_FAILURES = 50  # the failed lines an answer lists (linesFailed and failureCount count them all)


@dataclass
class _Batch:
    """What one batch learnt: the changes to post, in line order."""

    postings: list[Posting] = field(default_factory=list)
    products: list[str] = field(default_factory=list)  # productId of each posting
    locked: dict[tuple[str, str], LockedItem] = field(default_factory=dict)  # items read under lock


def reset_inventory(
    session: Session,
    lines: Iterable[RawLine],
    source: str | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    keep_failures: int | None = None,
    keep_changes: int = 0,
) -> ResetOutcome:
    """Apply an ERP reset: per line, diff = given − current to both QOH and ATP of the facility item.
    The outcome lists the first `keep_failures` failed lines and the first `keep_changes` changes."""
    outcome = ResetOutcome(new_id("IR"), source, keep_changes=keep_changes)
    inserts_before = inserts_counted(session)
    session.flush()  # the reads below are Core statements on the connection: no autoflush
    if set_based.applies(session) and serialises_writers(session):  # SQLite: resets/set_based_sqlite.py
        reset_serialised(session, outcome, lines, batch_size, keep_failures)
    elif set_based.applies(session):  # PostgreSQL: the database does the work (resets/set_based.py)
        set_based.reset_in_database(session, outcome, lines, batch_size, keep_failures)
    else:
        plan_each_statement(session)  # an initial load fills the tables it reads as it goes
        known_facilities: set[str] = set()
        with WriteBehind(session) as writes:
            for batch in _batches(iter(lines), batch_size):
                _apply_batch(session, outcome, batch, known_facilities, keep_failures, writes)
    record_run(session, outcome)
    analyze_after_commit(session, inserts_before)  # an initial load grows the tables plans read
    return outcome


def get_reset_run(session: Session, inventory_reset_id: str) -> ExternalInventoryReset:
    """The run's audit row, or 404; 403 when the caller is scoped and the run is not of one
    facility of its scope."""
    run = session.get(ExternalInventoryReset, inventory_reset_id)
    if run is None:
        raise NotFound(f"Inventory reset {inventory_reset_id} not found", inventoryResetId=inventory_reset_id)
    if facilities_in_scope(session) is not None:
        what = f"inventory reset {inventory_reset_id}"
        check_owner(session, run.facility_id or ALL_FACILITIES, what, inventoryResetId=inventory_reset_id)
    return run


def _batches(lines: Iterator[RawLine], size: int) -> Iterator[list[RawLine]]:
    while batch := list(islice(lines, size)):
        yield batch


def _apply_batch(
    session: Session,
    outcome: ResetOutcome,
    raw: list[RawLine],
    known_facilities: set[str],
    keep_failures: int | None,
    writes: WriteBehind,
) -> None:
    """The batch's lines checked while the server still writes the previous batch (`writes`,
    settled before this batch reads); this batch's writes sent in turn, not waited for."""
    outcome.lines_total += len(raw)
    _refuse_other_facilities(session, raw)
    checked = [check_line(r) for r in raw]
    usable = [c for c in checked if isinstance(c, ResetLine)]
    failures = [c for c in checked if isinstance(c, LineFailure)]
    writes.settle()
    usable, unknown = _known_only(session, usable, known_facilities)
    failures = sorted(failures + unknown, key=lambda f: f.line)
    # A failed line's facility is one the run named too: a run whose failures name another
    # facility (or an unknown one) spans facilities, readable by unscoped tokens only. A line
    # names the facility it gives as an id, whitespace around it aside (as the scope reads it).
    outcome.facilities.update(named_facilities(raw))
    outcome.lines_failed += len(failures)
    if keep_failures is None or len(outcome.failures) < keep_failures:
        room = None if keep_failures is None else keep_failures - len(outcome.failures)
        outcome.failures.extend(failures[:room])
    outcome.stored_failures.extend(failures[: STORED_FAILURES - len(outcome.stored_failures)])
    batch = _plan(session, outcome, usable)
    posted = post(session, batch.postings, held=batch.locked)  # sent through `writes` (its block)
    _record_changes(session, outcome, batch, posted, writes)


def _refuse_other_facilities(session: Session, raw: list[RawLine]) -> None:
    """A scoped caller's run naming another facility is refused whole (403), whatever the line
    holds: refusing only the lines that change stock would tell it the other facility's totals."""
    scope = facilities_in_scope(session)
    if scope is None:
        return
    for line in raw:
        facility_id = line.facility_id.strip() if isinstance(line.facility_id, str) else ""
        if facility_id and facility_id not in scope:
            raise Forbidden(
                f"Line {line.line}: this token may not act on facility {facility_id}",
                line=line.line,
                facilityId=facility_id,
            )


def _known_only(
    session: Session, lines: list[ResetLine], known_facilities: set[str]
) -> tuple[list[ResetLine], list[LineFailure]]:
    """Lines whose facility and product exist; the others as failures."""
    asked = {line.facility_id for line in lines} - known_facilities
    if asked:
        found = select(Facility.facility_id).where(one_of(session, Facility.facility_id, sorted(asked)))
        known_facilities |= set(session.connection().scalars(found).all())
    products = {line.product_id for line in lines}
    known = select(Product.product_id).where(one_of(session, Product.product_id, sorted(products)))
    known_products = set(session.connection().scalars(known).all())
    kept, failed = [], []
    for line in lines:
        if line.facility_id not in known_facilities:
            failed.append(_unknown(line, "unknown_facility", f"Facility {line.facility_id} not found"))
        elif line.product_id not in known_products:
            failed.append(_unknown(line, "unknown_product", f"Product {line.product_id} not found"))
        else:
            kept.append(line)
    return kept, failed


def _unknown(line: ResetLine, code: str, message: str) -> LineFailure:
    return LineFailure(line.line, code, message, line.facility_id, line.product_id)


def _plan(session: Session, outcome: ResetOutcome, lines: list[ResetLine]) -> _Batch:
    """Diffs against the current totals, line by line (a product named twice sees its first line)."""
    batch = _Batch()
    current = _current_totals(session, {(line.facility_id, line.product_id) for line in lines}, batch.locked)
    changes: list[tuple[ResetLine, Decimal]] = []
    for line in lines:
        pair = (line.facility_id, line.product_id)
        qoh, atp = current.get(pair, (ZERO, ZERO))
        diff = reset_diff(line, qoh, atp)
        outcome.facilities.add(line.facility_id)
        if diff == 0:
            outcome.lines_unchanged += 1
            continue
        current[pair] = (qoh + diff, atp + diff)
        changes.append((line, diff))
        if len(outcome.changes) < outcome.keep_changes:
            change = ResetChange(line.line, line.facility_id, line.product_id, diff, qoh + diff, atp + diff)
            outcome.changes.append(change)
    outcome.lines_changed += len(changes)
    created: set[Pair] = set()
    pairs = {(c.facility_id, c.product_id) for c, _ in changes}
    items = find_or_create_facility_items(session, pairs, created)
    for facility_id, product_id in created:  # zero items just inserted: `post` need not read them
        batch.locked[(facility_id, items[(facility_id, product_id)])] = (ZERO, ZERO, ZERO, 0)
    now = utcnow()
    links = Links(inventory_reset_id=outcome.inventory_reset_id)
    for line, diff in changes:
        item_id = items[(line.facility_id, line.product_id)]
        batch.postings.append(
            Posting(line.facility_id, item_id, REASON, diff, diff, effective_date=now, links=links)
        )
        batch.products.append(line.product_id)
    return batch


def _current_totals(
    session: Session, pairs: set[Pair], locked: dict[tuple[str, str], LockedItem]
) -> dict[Pair, tuple[Decimal, Decimal]]:
    """QOH of each product over all its items in the facility and its promisable ATP (SPEC §11:
    INV_AVAILABLE, lot not expired by the database's clock, as availability reports it), the
    items locked (id order) and each kept in `locked` as read, so `post` does not read them again.
    A product with no promisable item may get one from this reset (facility_items): a concurrent
    reset creating it would not be seen by the read that waited on the lock of the other items,
    so its ProductFacility row is locked (facility_items.lock_links) and its items read again in
    a new statement, so that reset is waited for and its totals seen (not diffed against none)."""
    totals: dict[Pair, tuple[Decimal, Decimal]] = {}
    stocked: set[Pair] = set()
    _read_locked(session, pairs, locked, totals, stocked)
    unstocked = pairs - stocked
    if unstocked:
        lock_links(session, unstocked)
        for pair in unstocked:
            totals.pop(pair, None)
        _read_locked(session, unstocked, locked, totals, stocked)
    return totals


def _read_locked(
    session: Session,
    pairs: set[Pair],
    locked: dict[tuple[str, str], LockedItem],
    totals: dict[Pair, tuple[Decimal, Decimal]],
    stocked: set[Pair],
) -> None:
    """The items of `pairs`, locked in id order, added to `locked` and summed into `totals`; the
    pairs with a promisable item added to `stocked`."""
    by_facility: dict[str, list[str]] = defaultdict(list)
    for facility_id, product_id in sorted(pairs):
        by_facility[facility_id].append(product_id)
    i = InventoryItem
    for facility_id, products in by_facility.items():
        # Core rows, not ORM loading (with the other reads of a reset: 0.8 s of a 200,000-line sync)
        rows = (
            session.connection()
            .execute(
                select(
                    i.inventory_item_id,
                    i.product_id,
                    i.quantity_on_hand_total,
                    i.available_to_promise_total,
                    i.accounting_quantity_total,
                    i.last_detail_seq,
                    PROMISABLE,
                )
                .where(i.facility_id == facility_id, one_of(session, i.product_id, products))
                .order_by(i.inventory_item_id)
                .with_for_update()
            )
            .all()
        )  # one fetchall, not a fetchone per row
        for item_id, product_id, qoh, atp, accounting, last_seq, promisable in rows:
            locked[(facility_id, item_id)] = (qoh, atp, accounting, last_seq)
            pair = (facility_id, product_id)
            before = totals.get(pair, (ZERO, ZERO))
            totals[pair] = (before[0] + qoh, before[1] + (atp if promisable else ZERO))
            if promisable:
                stocked.add(pair)


def _record_changes(
    session: Session, outcome: ResetOutcome, batch: _Batch, posted: list[Posted], writes: WriteBehind
) -> None:
    """One InventoryChanged per facility of the batch, listing its changed lines."""
    changes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for posting, product_id, result in zip(batch.postings, batch.products, posted, strict=True):
        changes[posting.facility_id].append(
            {
                "productId": product_id,
                "inventoryItemId": posting.inventory_item_id,
                "inventoryItemDetailSeqId": result.inventory_item_detail_seq_id,
                # JSON numbers now: json.dumps calling back for 4 Decimals a line cost more
                "quantityOnHandDiff": json_number(posting.quantity_on_hand_diff),
                "availableToPromiseDiff": json_number(posting.available_to_promise_diff),
                "quantityOnHandTotal": json_number(result.quantity_on_hand_total),
                "availableToPromiseTotal": json_number(result.available_to_promise_total),
            }
        )
    for facility_id, lines in sorted(changes.items()):
        payload = {
            "facilityId": facility_id,
            "inventoryResetId": outcome.inventory_reset_id,
            "reasonEnumId": REASON,
            "changes": lines,
        }
        for statement in event_inserts(session, facility_id, "InventoryChanged", payload):
            writes.send(statement)
