"""order_item: an order item's product, fixed by its first use (SPEC §11)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 10:00:00

One row per (facility, order, order item), written by the first reservation, shipment,
rejection or return that names the order item; its primary key decides between concurrent
first uses. Existing reservations and shipment items fill it, the oldest first use winning;
an order item that already names two products keeps the first and `stockledger verify`
reports the other (rule one_product_per_order_item).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FILL = """
INSERT INTO order_item (facility_id, order_id, order_item_seq_id, product_id, created_stamp)
SELECT facility_id, order_id, order_item_seq_id, product_id, first_used FROM (
  SELECT facility_id, order_id, order_item_seq_id, product_id, first_used,
         row_number() OVER (PARTITION BY facility_id, order_id, order_item_seq_id
                            ORDER BY first_used, product_id) AS n
  FROM (
    SELECT facility_id, order_id, order_item_seq_id, product_id, reserved_datetime AS first_used
    FROM order_item_inventory_reservation
    UNION ALL
    SELECT si.facility_id, si.order_id, si.order_item_seq_id, si.product_id, s.created_stamp
    FROM shipment_item si JOIN shipment s
      ON s.facility_id = si.facility_id AND s.shipment_id = si.shipment_id
    WHERE si.order_id IS NOT NULL AND si.order_item_seq_id IS NOT NULL
  ) AS used
) AS ranked
WHERE n = 1
"""


def upgrade() -> None:
    op.create_table(
        "order_item",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("order_id", sa.String(length=60), nullable=False),
        sa.Column("order_item_seq_id", sa.String(length=60), nullable=False),
        sa.Column("product_id", sa.String(length=60), nullable=False),
        sa.Column("created_stamp", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("facility_id", "order_id", "order_item_seq_id"),
    )
    op.create_index("ix_order_item_order_item", "order_item", ["order_id", "order_item_seq_id"])
    op.execute(_FILL)


def downgrade() -> None:
    op.drop_index("ix_order_item_order_item", table_name="order_item")
    op.drop_table("order_item")
