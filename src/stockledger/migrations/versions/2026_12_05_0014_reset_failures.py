"""external_inventory_reset_failure: a reset run's failed lines; look-ups of receipts and issuances

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 02:00:00

The failed lines of an ERP reset run were answered once and forgotten: the first 1,000 of a run
are now stored with it, in the same transaction (GET /v1/external-inventory-resets/{id}/failures).
Distributed by facility_id, the run's facility or `_ALL` (core/citus.py).
A receipt is read by its id alone (GET /v1/receipts/{id}) and issuances by shipment
(GET /v1/item-issuances?shipmentId=): an index each, so neither scans its table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "external_inventory_reset_failure",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("inventory_reset_id", sa.String(length=60), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("line_facility_id", sa.String(length=60), nullable=True),
        sa.Column("product_id", sa.String(length=60), nullable=True),
        sa.PrimaryKeyConstraint("facility_id", "inventory_reset_id", "line_number"),
    )
    op.create_index("ix_shipment_receipt_id", "shipment_receipt", ["receipt_id"])
    op.create_index("ix_item_issuance_shipment", "item_issuance", ["shipment_id"])


def downgrade() -> None:
    op.drop_index("ix_item_issuance_shipment", table_name="item_issuance")
    op.drop_index("ix_shipment_receipt_id", table_name="shipment_receipt")
    op.drop_table("external_inventory_reset_failure")
