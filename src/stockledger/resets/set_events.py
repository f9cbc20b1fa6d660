"""The InventoryChanged events of a reset applied by PostgreSQL, written by one INSERT … SELECT.

As the line batches of resets/service.py record them: one event per facility per `batch_size`
lines of input, listing its changed lines in input order, each with the detail row written
and the item's totals right after it; a payload over PAYLOAD_BYTES comes in parts cut along
its changes (events/outbox.payload_parts: the same keys, `partOf`, `part`, `parts`, a series of
its own per event), so no event is over 64 KB. The JSON is built by the database, in the form
json.dumps gives it (no spaces; numbers as core.schemas.json_number writes them).
"""

import json
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from stockledger.core.actor import acting_user
from stockledger.core.ids import new_id
from stockledger.events.outbox import OUTBOX_SEQUENCE, PAYLOAD_BYTES
from stockledger.ledger.staged import STAGED_POSTED
from stockledger.resets.outcome import REASON

MAX_ID = 60  # an id's longest (core.schemas.Id; the Python side checks it)


def _number(micros: str) -> str:
    """A quantity in micro-units as json_number writes it: an integer when whole, else the
    shortest float (PostgreSQL ≥ 12 writes a float8 as its shortest exact text, as repr does)."""
    return (
        f"CASE WHEN {micros} % 1000000 = 0 THEN ({micros} / 1000000)::text "
        f"ELSE ({micros}::float8 / 1000000)::text END"
    )


_CHANGE = (
    "'{\"productId\":' || to_json(d.p)::text"
    " || ',\"inventoryItemId\":' || to_json(lp.inventory_item_id)::text"
    ' || \',"inventoryItemDetailSeqId":"\' || lp.seq_id'
    f' || \'","quantityOnHandDiff":\' || {_number("lp.qoh_diff")}'
    f" || ',\"availableToPromiseDiff\":' || {_number('lp.atp_diff')}"
    f" || ',\"quantityOnHandTotal\":' || {_number('lp.qoh_total')}"
    f" || ',\"availableToPromiseTotal\":' || {_number('lp.atp_total')} || '}}'"
)

_EVENTS = f"""
WITH changed AS (
    SELECT lp.facility_id AS f, lp.ord / :batch AS batch, lp.ord, {_CHANGE} AS j
    FROM {STAGED_POSTED} lp JOIN reset_diff d ON d.ord = lp.ord
), sized AS (
    SELECT f, batch, ord, j,
           sum(length(j) + 1) OVER (PARTITION BY f, batch ORDER BY ord ROWS UNBOUNDED PRECEDING)
               - length(j) - 1 AS before,
           sum(length(j) + 1) OVER (PARTITION BY f, batch) - 1 AS listed,
           max(length(j)) OVER (PARTITION BY f, batch) AS longest
    FROM changed
), cut AS (
    SELECT f, batch, ord, j,
           CASE WHEN length('{{"facilityId":' || to_json(f)::text) + :single + listed <= {PAYLOAD_BYTES}
                THEN NULL
                ELSE before / ({PAYLOAD_BYTES} - :head - length(f) - longest - 1) END AS part
    FROM sized
), grouped AS (
    SELECT f, batch, part, string_agg(j, ',' ORDER BY ord) AS js,
           count(*) OVER (PARTITION BY f, batch) AS parts,
           dense_rank() OVER (ORDER BY batch, f) AS series
    FROM cut GROUP BY f, batch, part
), payloads AS (
    SELECT f, batch, part,
           CASE WHEN part IS NULL
                THEN '{{"facilityId":' || to_json(f)::text || :mid || ',"changes":[' || js || ']'
                     || :signed || '}}'
                ELSE '{{"facilityId":' || to_json(f)::text || :mid || :signed || ',"partOf":"' || :series
                     || lpad(series::text, 6, '0') || '","part":' || (part + 1) || ',"parts":' || parts
                     || ',"changes":[' || js || ']}}' END AS payload
    FROM grouped ORDER BY batch, f, part
)
INSERT INTO outbox_event (facility_id, event_seq, event_type, payload, created_stamp)
SELECT f, stockledger_fenced_nextval('{OUTBOX_SEQUENCE}'), 'InventoryChanged', payload, :now FROM payloads
"""


def record_changes(session: Session, inventory_reset_id: str, batch_size: int, now: datetime) -> int:
    """Record the InventoryChanged events of what ledger/staged.py posted; how many were written."""
    user = acting_user(session)
    mid = json.dumps({"inventoryResetId": inventory_reset_id, "reasonEnumId": REASON}, separators=(",", ":"))
    signed = "" if user is None else json.dumps({"changeByUserLoginId": user}, separators=(",", ":"))
    mid, signed = "," + mid[1:-1], ("," + signed[1:-1]) if signed else ""
    single = len(mid) + len(',"changes":[]') + len(signed) + 1
    # a part's own keys, with room for its numbers (the series id, up to 10 digits of part and parts)
    head = len(mid) + len(signed) + len('{"facilityId":"",' + '"partOf":"","part":,"parts":,"changes":[]}')
    head += len(new_id("EP")) + 6 + 20 + 32
    result = session.connection().execute(
        text(_EVENTS),
        {
            "batch": batch_size,
            "single": single,
            "head": head,
            "mid": mid,
            "signed": signed,
            "series": new_id("EP"),
            "now": now,
        },
    )
    return int(result.rowcount)
