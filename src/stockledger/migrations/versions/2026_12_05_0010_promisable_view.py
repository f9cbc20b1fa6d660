"""promisable view: ProductFacilityInventoryItem's ATP counts only promisable items (SPEC §11)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 22:00:00

availableToPromiseTotal (and so computedInventoryCount) sums the ATP of the items a new
reservation can take: INV_AVAILABLE and not expired (expire_date absent or later than the
database's now, in UTC). QOH still sums every item. The stock that cannot be promised is
shown beside it by kind, as quantity on hand: on hold, returned, defective, expired, other.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# core.sqlclock.UTC_NOW_SQL, frozen here as a migration must be
UTC_NOW = {
    "postgresql": "(statement_timestamp() AT TIME ZONE 'UTC')",
    "sqlite": "strftime('%Y-%m-%d %H:%M:%f', 'now')",
}
KINDS = ("'INV_AVAILABLE'", "'INV_ON_HOLD'", "'INV_RETURNED'", "'INV_DEFECTIVE'")


def _view(now: str) -> str:
    live = f"(ii.expire_date IS NULL OR ii.expire_date > {now})"
    promisable = f"ii.status_id = 'INV_AVAILABLE' AND {live}"
    atp = f"COALESCE(SUM(CASE WHEN {promisable} THEN ii.available_to_promise_total ELSE 0 END), 0)"

    def qoh_where(condition: str) -> str:
        return f"COALESCE(SUM(CASE WHEN {condition} THEN ii.quantity_on_hand_total ELSE 0 END), 0)"

    return f"""
CREATE VIEW product_facility_inventory_item AS
SELECT pf.facility_id,
       pf.product_id,
       pf.inventory_item_id,
       pf.minimum_stock,
       COALESCE(SUM(ii.quantity_on_hand_total), 0) AS quantity_on_hand_total,
       {atp} AS available_to_promise_total,
       {atp} - COALESCE(pf.minimum_stock, 0) AS computed_inventory_count,
       {qoh_where("ii.status_id = 'INV_ON_HOLD'")} AS on_hold_quantity,
       {qoh_where("ii.status_id = 'INV_RETURNED'")} AS returned_quantity,
       {qoh_where("ii.status_id = 'INV_DEFECTIVE'")} AS defective_quantity,
       {qoh_where(f"ii.status_id = 'INV_AVAILABLE' AND NOT {live}")} AS expired_quantity,
       {qoh_where(f"ii.status_id NOT IN ({', '.join(KINDS)})")} AS other_not_promisable_quantity
FROM product_facility pf
LEFT JOIN inventory_item ii
       ON ii.facility_id = pf.facility_id AND ii.product_id = pf.product_id
GROUP BY pf.facility_id, pf.product_id, pf.inventory_item_id, pf.minimum_stock
"""


PREVIOUS_VIEW = """
CREATE VIEW product_facility_inventory_item AS
SELECT pf.facility_id,
       pf.product_id,
       pf.inventory_item_id,
       pf.minimum_stock,
       COALESCE(SUM(ii.quantity_on_hand_total), 0) AS quantity_on_hand_total,
       COALESCE(SUM(ii.available_to_promise_total), 0) AS available_to_promise_total,
       COALESCE(SUM(ii.available_to_promise_total), 0) - COALESCE(pf.minimum_stock, 0)
           AS computed_inventory_count
FROM product_facility pf
LEFT JOIN inventory_item ii
       ON ii.facility_id = pf.facility_id AND ii.product_id = pf.product_id
GROUP BY pf.facility_id, pf.product_id, pf.inventory_item_id, pf.minimum_stock
"""


def upgrade() -> None:
    op.execute("DROP VIEW product_facility_inventory_item")
    op.execute(_view(UTC_NOW[op.get_bind().dialect.name]))


def downgrade() -> None:
    op.execute("DROP VIEW product_facility_inventory_item")
    op.execute(PREVIOUS_VIEW)
