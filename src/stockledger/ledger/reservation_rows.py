"""The reservation rows the ledger writes with a reservation's postings (SPEC §3).

One row per (facility, order, order item, inventory item): an active row grows, an ended one
(cancelled or fulfilled) starts again with the new reservation. The same upsert on both
databases: one row as a lean statement, many from arrays (PostgreSQL) or executemany (SQLite).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, case
from sqlalchemy.orm import Session

from stockledger.core.dialects import binds_arrays, from_arrays, upsert_updating
from stockledger.core.statements import BindTarget, Statement, bound, run
from stockledger.ledger.models import OrderItemInventoryReservation

RES = cast(Table, OrderItemInventoryReservation.__table__)
RES_ACTIVE = "RES_ACTIVE"


@dataclass(frozen=True, slots=True)
class ReservationRow:
    """`quantity` of an order item promised from an inventory item at `at`; `quantity_not_available`
    of it backordered."""

    facility_id: str
    order_id: str
    order_item_seq_id: str
    inventory_item_id: str
    product_id: str
    quantity: Decimal
    quantity_not_available: Decimal
    at: datetime

    def values(self) -> dict[str, Any]:
        return {
            "facility_id": self.facility_id,
            "order_id": self.order_id,
            "order_item_seq_id": self.order_item_seq_id,
            "inventory_item_id": self.inventory_item_id,
            "product_id": self.product_id,
            "quantity": self.quantity,
            "quantity_not_available": self.quantity_not_available,
            "reserved_datetime": self.at,
            "status_id": RES_ACTIVE,
            "status_datetime": self.at,
        }


def upsert_reservations(session: Session, rows: Sequence[ReservationRow]) -> None:
    """The rows (in key order) upserted: one statement however many (SQLite: executemany)."""
    if len(rows) == 1:
        run(session, reservation_statements(session, rows)[0])
    elif rows and binds_arrays(session):
        select_rows, params = from_arrays(session, RES, [r.values() for r in rows])
        upsert_rows = (
            f"INSERT INTO order_item_inventory_reservation ({_COLUMN_LIST}) {select_rows} {ON_CONFLICT}"
        )
        run(session, Statement(upsert_rows, params))
    elif rows:  # executemany: multi-row INSERTs
        session.execute(upsert_updating(session, RES, _KEY, _reactivate), [r.values() for r in rows])


def reservation_statements(on: BindTarget, rows: Sequence[ReservationRow]) -> list[Statement]:
    """One lean upsert per row, to run with the postings (core.statements.run_together)."""
    return [Statement(_UPSERT_ONE, bound(on, RES, row.values())) for row in rows]


def _reactivate(new: Any) -> dict[str, Any]:
    active = RES.c.status_id == RES_ACTIVE
    return {
        "quantity": case((active, RES.c.quantity + new.quantity), else_=new.quantity),
        "quantity_not_available": case(
            (active, RES.c.quantity_not_available + new.quantity_not_available),
            else_=new.quantity_not_available,
        ),
        "reserved_datetime": case((active, RES.c.reserved_datetime), else_=new.reserved_datetime),
        "status_datetime": case((active, RES.c.status_datetime), else_=new.status_datetime),
        "status_id": RES_ACTIVE,
    }


_KEY = ("facility_id", "order_id", "order_item_seq_id", "inventory_item_id")
COLUMNS = (
    "facility_id",
    "order_id",
    "order_item_seq_id",
    "inventory_item_id",
    "product_id",
    "quantity",
    "quantity_not_available",
    "reserved_datetime",
    "status_id",
    "status_datetime",
)
_COLUMN_LIST = ", ".join(COLUMNS)
_ACTIVE = f"order_item_inventory_reservation.status_id = '{RES_ACTIVE}'"
ON_CONFLICT = (
    "ON CONFLICT (facility_id, order_id, order_item_seq_id, inventory_item_id) DO UPDATE SET "
    f"quantity = CASE WHEN {_ACTIVE} THEN order_item_inventory_reservation.quantity + excluded.quantity "
    "ELSE excluded.quantity END, "
    f"quantity_not_available = CASE WHEN {_ACTIVE} "
    "THEN order_item_inventory_reservation.quantity_not_available + excluded.quantity_not_available "
    "ELSE excluded.quantity_not_available END, "
    f"reserved_datetime = CASE WHEN {_ACTIVE} THEN order_item_inventory_reservation.reserved_datetime "
    "ELSE excluded.reserved_datetime END, "
    f"status_datetime = CASE WHEN {_ACTIVE} THEN order_item_inventory_reservation.status_datetime "
    "ELSE excluded.status_datetime END, "
    f"status_id = '{RES_ACTIVE}'"
)
_UPSERT_ONE = (
    f"INSERT INTO order_item_inventory_reservation ({_COLUMN_LIST}) "
    f"VALUES ({', '.join(':' + c for c in COLUMNS)}) {ON_CONFLICT}"
)
FROM_COLUMNS = tuple(c for c in COLUMNS if c != "inventory_item_id")


def insert_from(source: str, expressions: dict[str, str]) -> str:
    """PostgreSQL: the upsert of the row for each item the CTE `source` returns (its
    `inventory_item_id`), each other column (FROM_COLUMNS, every one) given as an SQL expression."""
    values = ", ".join(expressions[c] for c in FROM_COLUMNS)
    return (
        f"INSERT INTO order_item_inventory_reservation (inventory_item_id, {', '.join(FROM_COLUMNS)}) "
        f"SELECT inventory_item_id, {values} FROM {source} {ON_CONFLICT}"
    )
