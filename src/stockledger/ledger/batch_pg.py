"""The UPDATE of a batch's totals from arrays, in PostgreSQL's dialect (unnest of typed arrays):
ledger/batch.py sends it only where core.dialects.binds_arrays says the database takes a list
as one array parameter (SQLite: one executemany there)."""

from decimal import Decimal

from stockledger.core.db import Statement, array_literal
from stockledger.core.fixed import to_micros
from stockledger.ledger.postings import TOTALS


def array_update(
    facility_id: str,
    items: list[str],
    sums: list[list[Decimal]],
    old: list[int],
    new: list[int],
    need: list[int | None],
) -> Statement:
    """The totals of `items` (one facility, id order) moved by `sums`, each checked against its
    `old` detail sequence and given its `new` one; `need`: the ATP an item must hold (micro-units),
    None for no guard. Returns the ids updated."""
    params: dict[str, object] = {
        "f": facility_id,
        "ids": array_literal(items),
        "old": array_literal(old),
        "new": array_literal(new),
        "need": array_literal(need),
    }
    for n, total in enumerate(TOTALS):
        params[f"d_{total}"] = array_literal([to_micros(acc[n]) for acc in sums])
    return Statement(ARRAY_UPDATE, params)


ARRAY_UPDATE = (
    "UPDATE inventory_item AS i SET "
    + ", ".join(f"{t} = i.{t} + d.{t}" for t in TOTALS)
    + ", last_detail_seq = d.new FROM unnest(:ids::text[], "
    + ", ".join(f":d_{t}::bigint[]" for t in TOTALS)
    + ", :old::int[], :new::int[], :need::bigint[]) AS d (id, "
    + ", ".join(TOTALS)
    + ", old, new, need) WHERE i.facility_id = :f AND i.inventory_item_id = d.id "
    "AND i.last_detail_seq = d.old "
    "AND (d.need IS NULL OR i.available_to_promise_total >= d.need) "
    f"RETURNING i.inventory_item_id, {', '.join('i.' + t for t in TOTALS)}"
)
