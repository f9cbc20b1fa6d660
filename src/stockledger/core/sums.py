"""Whether the database can add up the totals of a product in a facility.

Totals are integer millionths. PostgreSQL sums them as NUMERIC, exactly, whatever their size;
SQLite's SUM() of 64-bit integers fails past 9.2 * 10^18 millionths (9.2 * 10^12 units). A bulk
write on SQLite (an import) therefore adds up what it touched before it commits, so that it is
refused (422 quantity_overflow) instead of leaving totals that every later read fails to add.
"""

import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Executable, column, func, select, table, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from stockledger.core.errors import SQLITE_OVERFLOW, QuantityOverflow

ITEM = table(
    "inventory_item",
    *(column(name) for name in ("facility_id", "product_id", "inventory_item_id")),
    *(column(name) for name in ("quantity_on_hand_total", "available_to_promise_total")),
    column("accounting_quantity_total"),
)
RESERVATION = table(
    "order_item_inventory_reservation",
    *(column(name) for name in ("facility_id", "product_id", "quantity", "status_id")),
)
RES_ACTIVE = "RES_ACTIVE"  # ledger.reservation_rows: only active reservations are added up by reads
TOTALS = ("quantity_on_hand_total", "available_to_promise_total", "accounting_quantity_total")


def require_summable(session: Session, facility_ids: Collection[str]) -> None:
    """Raise QuantityOverflow when SQLite cannot add up a product's totals in these facilities."""
    if not facility_ids or session.get_bind().dialect.name != "sqlite":
        return
    stmt = (
        select(
            func.sum(ITEM.c.quantity_on_hand_total),
            func.sum(ITEM.c.available_to_promise_total),
            func.sum(ITEM.c.accounting_quantity_total),
        )
        .where(ITEM.c.facility_id.in_(sorted(facility_ids)))
        .group_by(ITEM.c.facility_id, ITEM.c.product_id)
    )
    try:
        session.execute(stmt).all()
    except OperationalError as exc:
        if str(exc.orig) != "integer overflow":
            raise
        raise QuantityOverflow(SQLITE_OVERFLOW) from exc


def require_summable_items(session: Session, facility_id: str, item_ids: Collection[str]) -> None:
    """After a write on SQLite: raise QuantityOverflow when a product of these items has a total
    SQLite no longer holds as an integer (its arithmetic past 64 bits turns it into a float, with
    no error) or sums past 64 bits, over its items or its active reservations; the caller's
    transaction then rolls back, so the write that would leave such totals is refused. The reads
    (availability, the stock pages) add up exactly these. PostgreSQL refuses a total past its
    BIGINT itself (22003, core.problems) and adds up sums as NUMERIC: nothing to check there."""
    if not item_ids or session.get_bind().dialect.name != "sqlite":
        return
    ids = json.dumps(sorted(item_ids))  # one parameter however many: no IN list to build and expand
    for statement in (_ITEM_SUMS, _RESERVED_SUMS):
        _require_integers(session, statement, {"f": facility_id, "ids": ids})


# The products of the items given (a JSON array, read by SQLite's json_each), each added up:
# two statements whatever the count, where IN lists of 500 ids cost 400 compiled statements
# (≈ 50 µs a line of a 100,000-line reset, profiled).
# CROSS JOIN: SQLite keeps the ids as the outer loop, each item found by its key (an IN over
# json_each searched the facility's items by facility_id alone: all of them, each statement).
_TOUCHED = """SELECT i.product_id FROM json_each(:ids) AS j
     CROSS JOIN inventory_item AS i ON i.facility_id = :f AND i.inventory_item_id = j.value"""
_ITEM_SUMS = text(
    f"""SELECT {", ".join(f"sum({t})" for t in TOTALS)},
           {", ".join(f"sum(typeof({t}) != 'integer')" for t in TOTALS)}
    FROM inventory_item WHERE facility_id = :f AND product_id IN ({_TOUCHED})
    GROUP BY product_id"""
)
_RESERVED_SUMS = text(
    f"""SELECT sum(quantity), sum(typeof(quantity) != 'integer')
    FROM order_item_inventory_reservation
    WHERE facility_id = :f AND product_id IN ({_TOUCHED}) AND status_id = '{RES_ACTIVE}'
    GROUP BY product_id"""
)


def _require_integers(session: Session, statement: Executable, params: dict[str, Any] | None = None) -> None:
    """Each row: sums, then as many counts of values that are not integers."""
    try:
        rows = session.execute(statement, params).all()
    except OperationalError as exc:
        if str(exc.orig) != "integer overflow":
            raise
        raise QuantityOverflow(SQLITE_OVERFLOW) from exc
    half = len(rows[0]) // 2 if rows else 0
    if any(any(row[half:]) for row in rows):  # a total stored as a float: past 64 bits
        raise QuantityOverflow(SQLITE_OVERFLOW)


def require_summable_selected(session: Session, items: str) -> None:
    """`require_summable_items` for the items a SELECT of (facility_id, inventory_item_id) names
    (SQL text: a set-based post's own table of what grew), however many: their products listed
    once, then each added up through its index, over its items and its active reservations
    (SQLite; nothing to check on PostgreSQL, as above). Where they are a good share of the table
    (a reset's initial load: all of it), one scan of the whole table may settle it first: no
    product adds up past 64 bits when all its rows' magnitudes together do not (_BOUNDED)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    run = session.connection().execute
    grown = int(run(text(f"SELECT count(*) FROM ({items})")).scalar_one())
    pending = [sums for table, sums in _BY_PRODUCT.items() if not _bounded(session, table, grown)]
    if not pending:
        return
    run(text(f"DROP TABLE IF EXISTS temp.{_PRODUCTS}"))
    run(text(f"CREATE TEMP TABLE {_PRODUCTS} (f TEXT, p TEXT, PRIMARY KEY (f, p)) WITHOUT ROWID"))
    run(
        text(
            f"""INSERT OR IGNORE INTO {_PRODUCTS} SELECT i.facility_id, i.product_id FROM ({items}) AS g
            CROSS JOIN inventory_item AS i
              ON i.facility_id = g.facility_id AND i.inventory_item_id = g.inventory_item_id"""
        )
    )
    for statement in pending:
        _require_integers_once(session, statement)
    run(text(f"DROP TABLE {_PRODUCTS}"))


# A scan of the whole table is taken when it has at most this many rows per item that grew (its
# largest row id, for its size: no count to run); a search per product is cheaper below that.
WHOLE_TABLE_ROWS_PER_ITEM = 4


def _bounded(session: Session, table: str, grown: int) -> bool:
    """Whether one scan of `table` shows every product adds up: the magnitudes of all its rows
    (the active reservations') sum within 64 bits, so no product's sum of some of them can pass
    them, and all are integers. False when the table is too big for the scan to pay (or it finds
    no such bound): the products are then added up one by one."""
    run = session.connection().execute
    size = run(text(f"SELECT max(rowid) FROM {table}")).scalar()
    if size is None:
        return True  # an empty table adds up
    if size > WHOLE_TABLE_ROWS_PER_ITEM * grown:
        return False
    try:
        floats = run(text(_BOUNDED[table])).one()[-1]
    except OperationalError as exc:
        if str(exc.orig) != "integer overflow":
            raise
        return False  # the whole table does not add up within 64 bits: each product may still
    return not floats


_PRODUCTS = "summable_product"


def _summed_once(sums: list[str], floats: str, rows: str) -> str:
    """One row however many products `rows` adds up (each product's `sums`, and `floats`: its
    values that are not integers): the count of each sum, which makes SQLite compute every sum
    (a sum past 64 bits raises "integer overflow"), then the products' floats added up. A row a
    product read back into Python cost ≈ 2 µs (a 100,000-item reset: 0.2 s)."""
    named = ", ".join(f"{s} AS s{n}" for n, s in enumerate(sums))
    counted = ", ".join(f"count(s{n})" for n in range(len(sums)))
    return f"SELECT {counted}, coalesce(sum(floats), 0) FROM (SELECT {named}, {floats} AS floats {rows})"


_PRODUCT_ITEM_SUMS = text(
    _summed_once(
        [f"sum(i.{t})" for t in TOTALS],
        " + ".join(f"sum(typeof(i.{t}) != 'integer')" for t in TOTALS),
        f"""FROM {_PRODUCTS} AS x CROSS JOIN inventory_item AS i ON i.facility_id = x.f AND i.product_id = x.p
        GROUP BY x.f, x.p""",
    )
)
_PRODUCT_RESERVED_SUMS = text(
    _summed_once(
        ["sum(r.quantity)"],
        "sum(typeof(r.quantity) != 'integer')",
        f"""FROM {_PRODUCTS} AS x CROSS JOIN order_item_inventory_reservation AS r
          ON r.facility_id = x.f AND r.product_id = x.p AND r.status_id = '{RES_ACTIVE}'
        GROUP BY x.f, x.p""",
    )
)


_BY_PRODUCT = {
    "inventory_item": _PRODUCT_ITEM_SUMS,
    "order_item_inventory_reservation": _PRODUCT_RESERVED_SUMS,
}

_BOUNDED = {
    "inventory_item": _summed_once(
        [f"sum(abs({t}))" for t in TOTALS],
        " + ".join(f"sum(typeof({t}) != 'integer')" for t in TOTALS),
        "FROM inventory_item",
    ),
    "order_item_inventory_reservation": _summed_once(
        ["sum(abs(quantity))"],
        "sum(typeof(quantity) != 'integer')",
        f"FROM order_item_inventory_reservation WHERE status_id = '{RES_ACTIVE}'",
    ),
}


def _require_integers_once(session: Session, statement: Executable) -> None:
    """A `_summed_once` statement: its last column counts the values that are not integers."""
    with overflow_refused():
        row = session.execute(statement).one()
    if row[-1]:  # a total stored as a float: past 64 bits
        raise QuantityOverflow(SQLITE_OVERFLOW)


@contextmanager
def overflow_refused() -> Iterator[None]:
    """Within the block, SQLite's "integer overflow" (a SUM of totals past 64 bits in a set-based
    write) is QuantityOverflow (422), as the checks above refuse it."""
    try:
        yield
    except OperationalError as exc:
        if str(exc.orig) != "integer overflow":
            raise
        raise QuantityOverflow(SQLITE_OVERFLOW) from exc
