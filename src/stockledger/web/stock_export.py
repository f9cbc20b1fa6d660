"""The stock page's CSV: every row the page lists under its search, low-stock filter and sort, in
the page's order (not only the page shown), streamed as the API's exports are (core.csv_export)."""

from fastapi import Request, Response
from pydantic.alias_generators import to_camel
from sqlalchemy.orm import Session

from stockledger.core.csv_export import csv_response
from stockledger.ledger.views import NOT_PROMISABLE_KINDS
from stockledger.web import queries

COLUMNS = (
    "product_id",
    "product_name",
    "inventory_item_id",
    "quantity_on_hand_total",
    "available_to_promise_total",
    "reserved_quantity",
    "minimum_stock",
    "computed_inventory_count",
)
HEADER = (
    ["facilityId"]
    + [to_camel(c) for c in COLUMNS]
    + ["notPromisable" + to_camel(kind)[0].upper() + to_camel(kind)[1:] for kind in NOT_PROMISABLE_KINDS]
)
Numbered = tuple[int, queries.StockRow]  # a row and its position in the listing (the next offset)


def stock_csv(request: Request, facility_id: str, query: queries.StockQuery) -> Response:
    def read_chunk(session: Session, after: int | None, size: int) -> list[Numbered]:
        offset = after or 0
        ids = queries.stock_sorted(session, facility_id, query, offset, size)
        return list(enumerate(queries.stock_rows(session, facility_id, ids), start=offset))

    def cells(numbered: Numbered) -> list[object]:
        row = numbered[1]
        held = [getattr(row.not_promisable, kind) for kind in NOT_PROMISABLE_KINDS]
        return [facility_id, *(getattr(row, c) for c in COLUMNS), *held]

    low = "-below-minimum" if query.below_minimum else ""
    filename = f"stock-{facility_id}{low}.csv"
    return csv_response(request, HEADER, read_chunk, lambda numbered: numbered[0] + 1, cells, filename)
