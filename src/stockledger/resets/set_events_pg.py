"""The InventoryChanged events of a reset applied by PostgreSQL, written by one INSERT … SELECT.

As the line batches of resets/service.py record them: one event per facility per `batch_size`
lines of input, listing its changed lines in input order, each with the detail row written
and the item's totals right after it; a payload over PAYLOAD_BYTES comes in parts cut along
its changes (events/outbox.payload_parts: the same keys, `partOf`, `part`, `parts`, a series of
its own per event), so no event is over 64 KB. The JSON is built by the database, in the form
json.dumps gives it (no spaces; numbers as core.schemas.json_number writes them).

SQL in PostgreSQL's dialect only (to_json, casts): reached only where
core.dialects.stages_set_based says the database can (resets/set_based.py).
"""

import json
from datetime import datetime
from functools import lru_cache

from sqlalchemy import text
from sqlalchemy.orm import Session

from stockledger.core.actor import acting_user
from stockledger.core.ids import new_id
from stockledger.events.outbox import OUTBOX_SEQUENCE, PAYLOAD_BYTES
from stockledger.ledger.post import StagedPosted
from stockledger.resets.outcome import REASON

MAX_ID = 60  # an id's longest (core.schemas.Id; the Python side checks it)


def _number(micros: str) -> str:
    """A quantity in micro-units as json_number writes it: an integer when whole, else the
    shortest float (PostgreSQL ≥ 12 writes a float8 as its shortest exact text, as repr does)."""
    return (
        f"CASE WHEN {micros} % 1000000 = 0 THEN ({micros} / 1000000)::text "
        f"ELSE ({micros}::float8 / 1000000)::text END"
    )


# A changed line's product id matches line_sql_pg.ID (its CHECK, or the rules for a deferred
# line, failed it otherwise): no character of it is escaped in JSON, so it is quoted as it is
# (to_json of 100,000 ids: 0.04 s of the statement's 0.28 s).
_CHANGE = (
    '\'{"productId":"\' || d.p'
    ' || \'","inventoryItemId":\' || to_json(lp.inventory_item_id)::text'
    ' || \',"inventoryItemDetailSeqId":"\' || lp.seq_id'
    f' || \'","quantityOnHandDiff":\' || {_number("lp.qoh_diff")}'
    f" || ',\"availableToPromiseDiff\":' || {_number('lp.atp_diff')}"
    f" || ',\"quantityOnHandTotal\":' || {_number('lp.qoh_total')}"
    f" || ',\"availableToPromiseTotal\":' || {_number('lp.atp_total')} || '}}'"
)

# A change's JSON is at most _KEYS characters of keys and quotes, its ids and four numbers of
# at most NUMBER_TEXT characters: parts are cut by count against that bound (a part may thus be
# shorter than it could be, never longer).
_KEYS = len(
    '{"productId":"","inventoryItemId":,"inventoryItemDetailSeqId":"","quantityOnHandDiff":,'
    '"availableToPromiseDiff":,"quantityOnHandTotal":,"availableToPromiseTotal":}'
)
NUMBER_TEXT = 24  # '-123456789.123456', '1.5e-05': a float8's shortest text of a quantity


@lru_cache(maxsize=4)
def _events(posted: str) -> str:
    """The INSERT … SELECT of the events of the rows in the ledger's table `posted`."""
    return f"""
WITH groups AS (
    SELECT p.facility_id AS f, p.ord / :batch AS batch, count(*) AS total,
           dense_rank() OVER (ORDER BY p.ord / :batch, p.facility_id) AS series,
           ({PAYLOAD_BYTES} - :head - length(p.facility_id)) / (
               {_KEYS} + {MAX_ID} + max(octet_length(to_json(p.inventory_item_id)::text))
               + max(length(p.seq_id)) + 4 * {NUMBER_TEXT} + 1) AS per_part,
           length('{{"facilityId":' || to_json(p.facility_id)::text) + :single - 1 + count(*) * (
               {_KEYS} + {MAX_ID} + max(octet_length(to_json(p.inventory_item_id)::text))
               + max(length(p.seq_id)) + 4 * {NUMBER_TEXT} + 1) <= {PAYLOAD_BYTES} AS whole
    FROM {posted} p GROUP BY p.ord / :batch, p.facility_id
), numbered AS (
    SELECT lp.facility_id AS f, lp.ord / :batch AS batch, lp.ord, {_CHANGE} AS j,
           row_number() OVER (PARTITION BY lp.ord / :batch, lp.facility_id ORDER BY lp.ord) - 1 AS n
    FROM {posted} lp JOIN reset_diff d ON d.ord = lp.ord
), changed AS (
    SELECT c.batch, c.f, c.ord, c.j, g.whole, g.series,
           CASE WHEN g.whole THEN 0 ELSE c.n / g.per_part END AS part,
           CASE WHEN g.whole THEN 1 ELSE (g.total - 1) / g.per_part + 1 END AS parts
    FROM numbered c JOIN groups g ON g.batch = c.batch AND g.f = c.f
), payloads AS (
    SELECT batch, f, part,
           CASE WHEN whole
                THEN '{{"facilityId":' || to_json(f)::text || :mid || ',"changes":['
                     || string_agg(j, ',' ORDER BY ord) || ']' || :signed || '}}'
                ELSE '{{"facilityId":' || to_json(f)::text || :mid || :signed || ',"partOf":"' || :series
                     || lpad(series::text, 6, '0') || '","part":' || (part + 1) || ',"parts":' || parts
                     || ',"changes":[' || string_agg(j, ',' ORDER BY ord) || ']}}' END AS payload
    FROM changed GROUP BY batch, f, part, whole, series, parts ORDER BY batch, f, part
)
INSERT INTO outbox_event (facility_id, event_seq, event_type, payload, created_stamp)
SELECT f, stockledger_fenced_nextval('{OUTBOX_SEQUENCE}'), 'InventoryChanged', payload, :now FROM payloads
"""


def record_changes(
    session: Session, posted: StagedPosted, inventory_reset_id: str, batch_size: int, now: datetime
) -> int:
    """Record the InventoryChanged events of what the ledger `posted`; how many were written."""
    user = acting_user(session)
    mid = json.dumps({"inventoryResetId": inventory_reset_id, "reasonEnumId": REASON}, separators=(",", ":"))
    signed = "" if user is None else json.dumps({"changeByUserLoginId": user}, separators=(",", ":"))
    mid, signed = "," + mid[1:-1], ("," + signed[1:-1]) if signed else ""
    single = len(mid) + len(',"changes":[]') + len(signed) + 1
    # a part's own keys, with room for its numbers (the series id, up to 10 digits of part and parts)
    head = len(mid) + len(signed) + len('{"facilityId":"",' + '"partOf":"","part":,"parts":,"changes":[]}')
    head += len(new_id("EP")) + 6 + 20 + 32
    result = session.connection().execute(
        text(_events(posted.rows.name)),
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
