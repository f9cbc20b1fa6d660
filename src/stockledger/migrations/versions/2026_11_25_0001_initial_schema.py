"""initial schema: the OFBiz inventory tables, the ProductFacilityInventoryItem view, reference data

Quantities and costs are BIGINT millionths (stockledger.core.fixed.Fixed6).

Revision ID: 0001
Revises:
Create Date: 2026-11-25 13:45:55.168254
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "external_inventory_reset",
        sa.Column("inventory_reset_id", sa.String(length=60), nullable=False),
        sa.Column("facility_id", sa.String(length=60), nullable=True),
        sa.Column("source", sa.String(length=255), nullable=True),
        sa.Column("lines_total", sa.Integer(), nullable=False),
        sa.Column("lines_changed", sa.Integer(), nullable=False),
        sa.Column("lines_unchanged", sa.Integer(), nullable=False),
        sa.Column("lines_failed", sa.Integer(), nullable=False),
        sa.Column("created_by_user_login_id", sa.String(length=60), nullable=True),
        sa.Column("created_stamp", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("inventory_reset_id", name=op.f("pk_external_inventory_reset")),
    )
    op.create_table(
        "facility",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("facility_type_id", sa.String(length=60), nullable=True),
        sa.Column("facility_name", sa.String(length=255), nullable=True),
        sa.Column("costing_method_id", sa.String(length=60), server_default="FIFO", nullable=False),
        sa.Column("created_stamp", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("facility_id", name=op.f("pk_facility")),
    )
    op.create_table(
        "inventory_item_type",
        sa.Column("inventory_item_type_id", sa.String(length=60), nullable=False),
        sa.Column("parent_type_id", sa.String(length=60), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("inventory_item_type_id", name=op.f("pk_inventory_item_type")),
    )
    op.create_table(
        "product",
        sa.Column("product_id", sa.String(length=60), nullable=False),
        sa.Column("product_type_id", sa.String(length=60), nullable=True),
        sa.Column("product_name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_stamp", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_product")),
    )
    op.create_table(
        "variance_reason",
        sa.Column("variance_reason_id", sa.String(length=60), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("variance_reason_id", name=op.f("pk_variance_reason")),
    )
    op.create_table(
        "cost_layer",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("cost_layer_id", sa.String(length=60), nullable=False),
        sa.Column("product_id", sa.String(length=60), nullable=False),
        sa.Column("inventory_item_id", sa.String(length=60), nullable=True),
        sa.Column("receipt_id", sa.String(length=60), nullable=True),
        sa.Column("received_datetime", sa.DateTime(), nullable=False),
        sa.Column("quantity_received", sa.BigInteger(), nullable=False),
        sa.Column("quantity_remaining", sa.BigInteger(), nullable=False),
        sa.Column("unit_cost", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.facility_id"], name=op.f("fk_cost_layer_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.product_id"], name=op.f("fk_cost_layer_product_id_product")
        ),
        sa.PrimaryKeyConstraint("facility_id", "cost_layer_id", name=op.f("pk_cost_layer")),
    )
    with op.batch_alter_table("cost_layer", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cost_layer_facility_product", ["facility_id", "product_id", "received_datetime"], unique=False
        )

    op.create_table(
        "facility_location",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("location_seq_id", sa.String(length=60), nullable=False),
        sa.Column("location_type_enum_id", sa.String(length=60), nullable=True),
        sa.Column("area_id", sa.String(length=60), nullable=True),
        sa.Column("aisle_id", sa.String(length=60), nullable=True),
        sa.Column("section_id", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.facility_id"], name=op.f("fk_facility_location_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("facility_id", "location_seq_id", name=op.f("pk_facility_location")),
    )
    op.create_table(
        "item_issuance",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("item_issuance_id", sa.String(length=60), nullable=False),
        sa.Column("inventory_item_id", sa.String(length=60), nullable=False),
        sa.Column("order_id", sa.String(length=60), nullable=True),
        sa.Column("order_item_seq_id", sa.String(length=60), nullable=True),
        sa.Column("ship_group_seq_id", sa.String(length=60), nullable=True),
        sa.Column("shipment_id", sa.String(length=60), nullable=True),
        sa.Column("shipment_item_seq_id", sa.String(length=60), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("cancel_quantity", sa.BigInteger(), nullable=True),
        sa.Column("cogs", sa.BigInteger(), nullable=True),
        sa.Column("issued_datetime", sa.DateTime(), nullable=False),
        sa.Column("issued_by_user_login_id", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.facility_id"], name=op.f("fk_item_issuance_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("facility_id", "item_issuance_id", name=op.f("pk_item_issuance")),
    )
    op.create_table(
        "order_item_ship_group",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("order_id", sa.String(length=60), nullable=False),
        sa.Column("ship_group_seq_id", sa.String(length=60), nullable=False),
        sa.Column("carrier_party_id", sa.String(length=60), nullable=True),
        sa.Column("shipment_method_type_id", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.facility_id"],
            name=op.f("fk_order_item_ship_group_facility_id_facility"),
        ),
        sa.PrimaryKeyConstraint(
            "facility_id", "order_id", "ship_group_seq_id", name=op.f("pk_order_item_ship_group")
        ),
    )
    op.create_table(
        "physical_inventory",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("physical_inventory_id", sa.String(length=60), nullable=False),
        sa.Column("physical_inventory_date", sa.DateTime(), nullable=False),
        sa.Column("party_id", sa.String(length=60), nullable=True),
        sa.Column("general_comments", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.facility_id"], name=op.f("fk_physical_inventory_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("facility_id", "physical_inventory_id", name=op.f("pk_physical_inventory")),
    )
    op.create_table(
        "product_facility",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("product_id", sa.String(length=60), nullable=False),
        sa.Column("minimum_stock", sa.BigInteger(), nullable=True),
        sa.Column("reorder_quantity", sa.BigInteger(), nullable=True),
        sa.Column("days_to_ship", sa.Integer(), nullable=True),
        sa.Column("inventory_item_id", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.facility_id"], name=op.f("fk_product_facility_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.product_id"], name=op.f("fk_product_facility_product_id_product")
        ),
        sa.PrimaryKeyConstraint("facility_id", "product_id", name=op.f("pk_product_facility")),
    )
    op.create_table(
        "return_header",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("return_id", sa.String(length=60), nullable=False),
        sa.Column("order_id", sa.String(length=60), nullable=True),
        sa.Column("status_id", sa.String(length=60), nullable=False),
        sa.Column("created_stamp", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.facility_id"], name=op.f("fk_return_header_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("facility_id", "return_id", name=op.f("pk_return_header")),
    )
    op.create_table(
        "shipment",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("shipment_id", sa.String(length=60), nullable=False),
        sa.Column("shipment_type_id", sa.String(length=60), nullable=False),
        sa.Column("status_id", sa.String(length=60), nullable=False),
        sa.Column("primary_order_id", sa.String(length=60), nullable=True),
        sa.Column("primary_ship_group_seq_id", sa.String(length=60), nullable=True),
        sa.Column("carrier_party_id", sa.String(length=60), nullable=True),
        sa.Column("shipment_method_type_id", sa.String(length=60), nullable=True),
        sa.Column("created_stamp", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.facility_id"], name=op.f("fk_shipment_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("facility_id", "shipment_id", name=op.f("pk_shipment")),
    )
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.create_index("ix_shipment_id", ["shipment_id"], unique=False)

    op.create_table(
        "shipment_receipt",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("receipt_id", sa.String(length=60), nullable=False),
        sa.Column("inventory_item_id", sa.String(length=60), nullable=True),
        sa.Column("product_id", sa.String(length=60), nullable=False),
        sa.Column("shipment_id", sa.String(length=60), nullable=True),
        sa.Column("shipment_item_seq_id", sa.String(length=60), nullable=True),
        sa.Column("quantity_accepted", sa.BigInteger(), nullable=False),
        sa.Column("quantity_rejected", sa.BigInteger(), nullable=False),
        sa.Column("rejection_reason_id", sa.String(length=60), nullable=True),
        sa.Column("datetime_received", sa.DateTime(), nullable=False),
        sa.Column("received_by_user_login_id", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.facility_id"], name=op.f("fk_shipment_receipt_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.product_id"], name=op.f("fk_shipment_receipt_product_id_product")
        ),
        sa.PrimaryKeyConstraint("facility_id", "receipt_id", name=op.f("pk_shipment_receipt")),
    )
    op.create_table(
        "inventory_item",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("inventory_item_id", sa.String(length=60), nullable=False),
        sa.Column("inventory_item_type_id", sa.String(length=60), nullable=False),
        sa.Column("product_id", sa.String(length=60), nullable=False),
        sa.Column("status_id", sa.String(length=60), nullable=False),
        sa.Column("datetime_received", sa.DateTime(), nullable=True),
        sa.Column("expire_date", sa.DateTime(), nullable=True),
        sa.Column("location_seq_id", sa.String(length=60), nullable=True),
        sa.Column("lot_id", sa.String(length=60), nullable=True),
        sa.Column("quantity_on_hand_total", sa.BigInteger(), nullable=False),
        sa.Column("available_to_promise_total", sa.BigInteger(), nullable=False),
        sa.Column("accounting_quantity_total", sa.BigInteger(), nullable=False),
        sa.Column("unit_cost", sa.BigInteger(), nullable=True),
        sa.Column("currency_uom_id", sa.String(length=20), nullable=True),
        sa.Column("last_detail_seq", sa.Integer(), nullable=False),
        sa.Column("created_stamp", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id", "location_seq_id"],
            ["facility_location.facility_id", "facility_location.location_seq_id"],
            name=op.f("fk_inventory_item_facility_id_location_seq_id_facility_location"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.facility_id"], name=op.f("fk_inventory_item_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["inventory_item_type_id"],
            ["inventory_item_type.inventory_item_type_id"],
            name=op.f("fk_inventory_item_inventory_item_type_id_inventory_item_type"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.product_id"], name=op.f("fk_inventory_item_product_id_product")
        ),
        sa.PrimaryKeyConstraint("facility_id", "inventory_item_id", name=op.f("pk_inventory_item")),
    )
    with op.batch_alter_table("inventory_item", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inventory_item_facility_product", ["facility_id", "product_id"], unique=False
        )
        batch_op.create_index("ix_inventory_item_id", ["inventory_item_id"], unique=False)

    op.create_table(
        "product_facility_location",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("product_id", sa.String(length=60), nullable=False),
        sa.Column("location_seq_id", sa.String(length=60), nullable=False),
        sa.Column("minimum_stock", sa.BigInteger(), nullable=True),
        sa.Column("move_quantity", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id", "location_seq_id"],
            ["facility_location.facility_id", "facility_location.location_seq_id"],
            name=op.f("fk_product_facility_location_facility_id_location_seq_id_facility_location"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id", "product_id"],
            ["product_facility.facility_id", "product_facility.product_id"],
            name=op.f("fk_product_facility_location_facility_id_product_id_product_facility"),
        ),
        sa.PrimaryKeyConstraint(
            "facility_id", "product_id", "location_seq_id", name=op.f("pk_product_facility_location")
        ),
    )
    op.create_table(
        "return_item",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("return_id", sa.String(length=60), nullable=False),
        sa.Column("return_item_seq_id", sa.String(length=60), nullable=False),
        sa.Column("order_item_seq_id", sa.String(length=60), nullable=True),
        sa.Column("product_id", sa.String(length=60), nullable=False),
        sa.Column("return_quantity", sa.BigInteger(), nullable=False),
        sa.Column("return_reason_id", sa.String(length=60), nullable=True),
        sa.Column("received_condition", sa.String(length=60), nullable=True),
        sa.Column("inventory_item_id", sa.String(length=60), nullable=True),
        sa.Column("status_id", sa.String(length=60), nullable=False),
        sa.Column("return_cost", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id", "return_id"],
            ["return_header.facility_id", "return_header.return_id"],
            name=op.f("fk_return_item_facility_id_return_id_return_header"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.product_id"], name=op.f("fk_return_item_product_id_product")
        ),
        sa.PrimaryKeyConstraint(
            "facility_id", "return_id", "return_item_seq_id", name=op.f("pk_return_item")
        ),
    )
    op.create_table(
        "shipment_item",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("shipment_id", sa.String(length=60), nullable=False),
        sa.Column("shipment_item_seq_id", sa.String(length=60), nullable=False),
        sa.Column("product_id", sa.String(length=60), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.String(length=60), nullable=True),
        sa.Column("order_item_seq_id", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id", "shipment_id"],
            ["shipment.facility_id", "shipment.shipment_id"],
            name=op.f("fk_shipment_item_facility_id_shipment_id_shipment"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.product_id"], name=op.f("fk_shipment_item_product_id_product")
        ),
        sa.PrimaryKeyConstraint(
            "facility_id", "shipment_id", "shipment_item_seq_id", name=op.f("pk_shipment_item")
        ),
    )
    op.create_table(
        "shipment_route_segment",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("shipment_id", sa.String(length=60), nullable=False),
        sa.Column("shipment_route_segment_id", sa.String(length=60), nullable=False),
        sa.Column("carrier_party_id", sa.String(length=60), nullable=True),
        sa.Column("shipment_method_type_id", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id", "shipment_id"],
            ["shipment.facility_id", "shipment.shipment_id"],
            name=op.f("fk_shipment_route_segment_facility_id_shipment_id_shipment"),
        ),
        sa.PrimaryKeyConstraint(
            "facility_id", "shipment_id", "shipment_route_segment_id", name=op.f("pk_shipment_route_segment")
        ),
    )
    op.create_table(
        "inventory_item_detail",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("inventory_item_id", sa.String(length=60), nullable=False),
        sa.Column("inventory_item_detail_seq_id", sa.String(length=60), nullable=False),
        sa.Column("seq_num", sa.Integer(), nullable=False),
        sa.Column("effective_date", sa.DateTime(), nullable=False),
        sa.Column("quantity_on_hand_diff", sa.BigInteger(), nullable=False),
        sa.Column("available_to_promise_diff", sa.BigInteger(), nullable=False),
        sa.Column("accounting_quantity_diff", sa.BigInteger(), nullable=False),
        sa.Column("reason_enum_id", sa.String(length=60), nullable=True),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("order_id", sa.String(length=60), nullable=True),
        sa.Column("order_item_seq_id", sa.String(length=60), nullable=True),
        sa.Column("ship_group_seq_id", sa.String(length=60), nullable=True),
        sa.Column("shipment_id", sa.String(length=60), nullable=True),
        sa.Column("shipment_item_seq_id", sa.String(length=60), nullable=True),
        sa.Column("receipt_id", sa.String(length=60), nullable=True),
        sa.Column("physical_inventory_id", sa.String(length=60), nullable=True),
        sa.Column("return_id", sa.String(length=60), nullable=True),
        sa.Column("return_item_seq_id", sa.String(length=60), nullable=True),
        sa.Column("item_issuance_id", sa.String(length=60), nullable=True),
        sa.Column("inventory_reset_id", sa.String(length=60), nullable=True),
        sa.Column("change_by_user_login_id", sa.String(length=60), nullable=True),
        sa.Column("created_stamp", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id", "inventory_item_id"],
            ["inventory_item.facility_id", "inventory_item.inventory_item_id"],
            name=op.f("fk_inventory_item_detail_facility_id_inventory_item_id_inventory_item"),
        ),
        sa.PrimaryKeyConstraint(
            "facility_id",
            "inventory_item_id",
            "inventory_item_detail_seq_id",
            name=op.f("pk_inventory_item_detail"),
        ),
    )
    with op.batch_alter_table("inventory_item_detail", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inventory_item_detail_item_date",
            ["facility_id", "inventory_item_id", "effective_date"],
            unique=False,
        )
        batch_op.create_index(
            "ix_inventory_item_detail_item_seq", ["facility_id", "inventory_item_id", "seq_num"], unique=False
        )

    op.create_table(
        "inventory_item_variance",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("inventory_item_id", sa.String(length=60), nullable=False),
        sa.Column("physical_inventory_id", sa.String(length=60), nullable=False),
        sa.Column("variance_reason_id", sa.String(length=60), nullable=True),
        sa.Column("available_to_promise_var", sa.BigInteger(), nullable=False),
        sa.Column("quantity_on_hand_var", sa.BigInteger(), nullable=False),
        sa.Column("quantity_counted", sa.BigInteger(), nullable=True),
        sa.Column("comments", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility_id", "inventory_item_id"],
            ["inventory_item.facility_id", "inventory_item.inventory_item_id"],
            name=op.f("fk_inventory_item_variance_facility_id_inventory_item_id_inventory_item"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id", "physical_inventory_id"],
            ["physical_inventory.facility_id", "physical_inventory.physical_inventory_id"],
            name=op.f("fk_inventory_item_variance_facility_id_physical_inventory_id_physical_inventory"),
        ),
        sa.ForeignKeyConstraint(
            ["variance_reason_id"],
            ["variance_reason.variance_reason_id"],
            name=op.f("fk_inventory_item_variance_variance_reason_id_variance_reason"),
        ),
        sa.PrimaryKeyConstraint(
            "facility_id",
            "inventory_item_id",
            "physical_inventory_id",
            name=op.f("pk_inventory_item_variance"),
        ),
    )
    op.create_table(
        "order_item_inventory_reservation",
        sa.Column("facility_id", sa.String(length=60), nullable=False),
        sa.Column("order_id", sa.String(length=60), nullable=False),
        sa.Column("order_item_seq_id", sa.String(length=60), nullable=False),
        sa.Column("inventory_item_id", sa.String(length=60), nullable=False),
        sa.Column("product_id", sa.String(length=60), nullable=False),
        sa.Column("ship_group_seq_id", sa.String(length=60), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("quantity_not_available", sa.BigInteger(), nullable=False),
        sa.Column("reserved_datetime", sa.DateTime(), nullable=False),
        sa.Column("status_id", sa.String(length=60), nullable=False),
        sa.Column("status_datetime", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id", "inventory_item_id"],
            ["inventory_item.facility_id", "inventory_item.inventory_item_id"],
            name=op.f("fk_order_item_inventory_reservation_facility_id_inventory_item_id_inventory_item"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["product.product_id"],
            name=op.f("fk_order_item_inventory_reservation_product_id_product"),
        ),
        sa.PrimaryKeyConstraint(
            "facility_id",
            "order_id",
            "order_item_seq_id",
            "inventory_item_id",
            name=op.f("pk_order_item_inventory_reservation"),
        ),
    )
    with op.batch_alter_table("order_item_inventory_reservation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reservation_facility_product", ["facility_id", "product_id", "status_id"], unique=False
        )

    _create_view()
    _seed_reference_data()


def downgrade() -> None:
    op.execute("DROP VIEW product_facility_inventory_item")
    with op.batch_alter_table("order_item_inventory_reservation", schema=None) as batch_op:
        batch_op.drop_index("ix_reservation_facility_product")

    op.drop_table("order_item_inventory_reservation")
    op.drop_table("inventory_item_variance")
    with op.batch_alter_table("inventory_item_detail", schema=None) as batch_op:
        batch_op.drop_index("ix_inventory_item_detail_item_seq")
        batch_op.drop_index("ix_inventory_item_detail_item_date")

    op.drop_table("inventory_item_detail")
    op.drop_table("shipment_route_segment")
    op.drop_table("shipment_item")
    op.drop_table("return_item")
    op.drop_table("product_facility_location")
    with op.batch_alter_table("inventory_item", schema=None) as batch_op:
        batch_op.drop_index("ix_inventory_item_id")
        batch_op.drop_index("ix_inventory_item_facility_product")

    op.drop_table("inventory_item")
    op.drop_table("shipment_receipt")
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.drop_index("ix_shipment_id")

    op.drop_table("shipment")
    op.drop_table("return_header")
    op.drop_table("product_facility")
    op.drop_table("physical_inventory")
    op.drop_table("order_item_ship_group")
    op.drop_table("item_issuance")
    op.drop_table("facility_location")
    with op.batch_alter_table("cost_layer", schema=None) as batch_op:
        batch_op.drop_index("ix_cost_layer_facility_product")

    op.drop_table("cost_layer")
    op.drop_table("variance_reason")
    op.drop_table("product")
    op.drop_table("inventory_item_type")
    op.drop_table("facility")
    op.drop_table("external_inventory_reset")


VIEW = """
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

ITEM_TYPES = [
    ("NON_SERIAL_INV_ITEM", None, "Non-serialized inventory item"),
    ("SERIALIZED_INV_ITEM", None, "Serialized inventory item"),
]

VARIANCE_REASONS = [
    ("VAR_LOST", "Lost"),
    ("VAR_STOLEN", "Stolen"),
    ("VAR_FOUND", "Found"),
    ("VAR_DAMAGED", "Damaged"),
    ("VAR_INTEGR", "Integration"),
    ("VAR_SAMPLE", "Sample (Giveaway)"),
    ("VAR_MISSHIP_ORDERED", "Mis-shipped Item Ordered (+)"),
    ("VAR_MISSHIP_SHIPPED", "Mis-shipped Item Shipped (-)"),
    ("VAR_EXT_RESET", "External inventory reset (ERP sync)"),
]


def _create_view() -> None:
    op.execute(VIEW)


def _seed_reference_data() -> None:
    item_type = sa.table(
        "inventory_item_type",
        sa.column("inventory_item_type_id", sa.String),
        sa.column("parent_type_id", sa.String),
        sa.column("description", sa.String),
    )
    op.bulk_insert(
        item_type,
        [{"inventory_item_type_id": i, "parent_type_id": p, "description": d} for i, p, d in ITEM_TYPES],
    )
    reason = sa.table(
        "variance_reason", sa.column("variance_reason_id", sa.String), sa.column("description", sa.String)
    )
    op.bulk_insert(reason, [{"variance_reason_id": i, "description": d} for i, d in VARIANCE_REASONS])
