"""The UPDATE of a batch's totals from arrays, in PostgreSQL's dialect (unnest of typed arrays):
ledger/batch.py sends it only where core.dialects.binds_arrays says the database takes a list
as one array parameter (SQLite: one executemany there)."""

from collections.abc import Mapping
from decimal import Decimal

from stockledger.core.dialects import array_literal
from stockledger.core.fixed import to_micros
from stockledger.core.statements import Statement
from stockledger.ledger.postings import ATP, QOH, TOTALS

FLOORED = (QOH, ATP)  # the totals a posting's guards may floor (ledger/postings.py's `guards`)


def array_update(
    facility_id: str,
    items: list[str],
    sums: list[list[Decimal]],
    old: list[int],
    new: list[int],
    need: Mapping[str, list[int | None]],
) -> Statement:
    """The totals of `items` (one facility, id order) moved by `sums`, each checked against its
    `old` detail sequence and given its `new` one; `need`: per floored total (QOH, ATP), what
    each item must hold of it (micro-units), None for no guard; a total not in `need`: no guard.
    Returns the ids updated."""
    params: dict[str, object] = {
        "f": facility_id,
        "ids": array_literal(items),
        "old": array_literal(old),
        "new": array_literal(new),
    }
    for total in FLOORED:
        params[f"need_{total}"] = array_literal(need.get(total, [None] * len(items)))
    for n, total in enumerate(TOTALS):
        params[f"d_{total}"] = array_literal([to_micros(acc[n]) for acc in sums])
    return Statement(ARRAY_UPDATE, params)


ARRAY_UPDATE = (
    "UPDATE inventory_item AS i SET "
    + ", ".join(f"{t} = i.{t} + d.{t}" for t in TOTALS)
    + ", last_detail_seq = d.new FROM unnest(:ids::text[], "
    + ", ".join(f":d_{t}::bigint[]" for t in TOTALS)
    + ", :old::int[], :new::int[], "
    + ", ".join(f":need_{t}::bigint[]" for t in FLOORED)
    + ") AS d (id, "
    + ", ".join(TOTALS)
    + ", old, new, "
    + ", ".join(f"need_{t}" for t in FLOORED)
    + ") WHERE i.facility_id = :f AND i.inventory_item_id = d.id "
    "AND i.last_detail_seq = d.old "
    + "".join(f"AND (d.need_{t} IS NULL OR i.{t} >= d.need_{t}) " for t in FLOORED)
    + f"RETURNING i.inventory_item_id, {', '.join('i.' + t for t in TOTALS)}"
)
