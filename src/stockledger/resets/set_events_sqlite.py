"""The InventoryChanged events of a reset applied set-based on SQLite.

As the line batches of resets/service.py record them and PostgreSQL's set-based path does
(resets/set_events_pg.py): one event per facility per `batch_size` lines of input, listing its
changed lines in input order, each with the detail row written and the item's totals right
after it. SQLite writes each change's JSON (in the form json.dumps gives it: no spaces; numbers
as core.quantities.json_number writes them); the outbox signs each event, cuts one over
PAYLOAD_BYTES into parts along its changes (events.outbox.record_encoded_event, as
payload_parts cuts them) and numbers it.

SQL in SQLite's dialect (json_quote, printf): reached only where core.dialects.stages_set_based
and serialises_writers say the database can (resets/set_based_sqlite.py).
"""

from itertools import groupby
from operator import itemgetter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stockledger.core.statements import Statement, run
from stockledger.events.outbox import EventType, record_encoded_event
from stockledger.ledger.post import StagedPosted
from stockledger.resets.outcome import REASON


def _number(micros: str) -> str:
    """A quantity in micro-units as json_number writes it: an integer when whole, else the float's
    shortest text (as repr gives it: its decimal digits, at most 15; 1e-05 below 10^-4)."""
    sign = f"CASE WHEN {micros} < 0 THEN '-' ELSE '' END"
    m = f"abs({micros})"
    return (  # || binds tighter than / and %: every operand of one is parenthesised or CAST
        f"CASE WHEN ({micros} % 1000000) = 0 THEN CAST({micros} / 1000000 AS TEXT) "
        f"WHEN {m} >= 100 THEN {sign} || CAST({m} / 1000000 AS TEXT) || '.' "
        f"|| rtrim(printf('%06d', {m} % 1000000), '0') "
        f"WHEN {m} < 10 THEN CAST({micros} AS TEXT) || 'e-06' "
        f"WHEN ({m} % 10) = 0 THEN CAST({micros} / 10 AS TEXT) || 'e-05' "
        f"ELSE {sign} || CAST({m} / 10 AS TEXT) || '.' || CAST({m} % 10 AS TEXT) || 'e-05' END"
    )


# One printf a change (a concatenation of its fourteen pieces built a string at each ||: 20 % more).
_CHANGE_FORMAT = (
    '{"productId":"%s","inventoryItemId":%s,"inventoryItemDetailSeqId":"%s","quantityOnHandDiff":%s,'
    '"availableToPromiseDiff":%s,"quantityOnHandTotal":%s,"availableToPromiseTotal":%s}'
)
_CHANGE = (
    f"printf('{_CHANGE_FORMAT}', d.p, json_quote(lp.inventory_item_id), lp.seq_id, "
    + ", ".join(_number(f"lp.{c}") for c in ("qoh_diff", "atp_diff", "qoh_total", "atp_total"))
    + ")"
)


def _changes(posted: str) -> str:
    """The changes of the ledger's table `posted` whose lines are in one batch (`ord` from :lo to
    :hi), with their facility, in event order."""
    return (
        f"SELECT lp.facility_id, {_CHANGE} FROM {posted} lp JOIN reset_diff d ON d.ord = lp.ord "
        "WHERE lp.ord BETWEEN :lo AND :hi ORDER BY lp.facility_id, lp.ord"
    )


def record_changes(session: Session, posted: StagedPosted, inventory_reset_id: str, batch_size: int) -> int:
    """Record the InventoryChanged events of what the ledger `posted` (its `ord`: the line's, from
    1); how many were recorded."""
    last = session.connection().execute(select(func.max(posted.rows.c.ord))).scalar()
    changes = _changes(posted.rows.name)
    count = 0
    for lo in range(1, int(last or 0) + 1, batch_size):  # one batch's rows at a time, as driver tuples
        rows = run(session, Statement(changes, {"lo": lo, "hi": lo + batch_size - 1}))
        for facility_id, in_facility in groupby(rows, key=itemgetter(0)):
            payload = {
                "facilityId": facility_id,
                "inventoryResetId": inventory_reset_id,
                "reasonEnumId": REASON,
                "changes": [],
            }
            items = [change for _, change in in_facility]
            record_encoded_event(session, facility_id, EventType.INVENTORY_CHANGED, payload, "changes", items)
            count += 1
    return count
