"""The OFBiz / HotWax inventory tables (SPEC §2).

Tables that grow with traffic carry `facility_id` first in their primary key, so the
schema can be distributed by facility (Citus) without a rewrite (SPEC §9). Small
catalogue tables (product, types, reasons) are reference tables.
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, Integer, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stockledger.core.model_base import Base, utcnow

ZERO = Decimal(0)


class Facility(Base):
    __tablename__ = "facility"
    facility_id: Mapped[str] = mapped_column(primary_key=True)
    facility_type_id: Mapped[str | None]
    facility_name: Mapped[str | None] = mapped_column(String(255))
    costing_method_id: Mapped[str] = mapped_column(default="FIFO", server_default="FIFO")
    created_stamp: Mapped[datetime] = mapped_column(default=utcnow)


class FacilityLocation(Base):
    __tablename__ = "facility_location"
    facility_id: Mapped[str] = mapped_column(ForeignKey("facility.facility_id"), primary_key=True)
    location_seq_id: Mapped[str] = mapped_column(primary_key=True)
    location_type_enum_id: Mapped[str | None]
    area_id: Mapped[str | None]
    aisle_id: Mapped[str | None]
    section_id: Mapped[str | None]


class Product(Base):
    __tablename__ = "product"
    product_id: Mapped[str] = mapped_column(primary_key=True)
    product_type_id: Mapped[str | None]
    product_name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    created_stamp: Mapped[datetime] = mapped_column(default=utcnow)


class ProductFacility(Base):
    __tablename__ = "product_facility"
    facility_id: Mapped[str] = mapped_column(ForeignKey("facility.facility_id"), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id"), primary_key=True)
    minimum_stock: Mapped[Decimal | None]
    reorder_quantity: Mapped[Decimal | None]
    days_to_ship: Mapped[int | None]
    # The item findOrCreateFacilityInventoryItem returns: the first created or loaded.
    inventory_item_id: Mapped[str | None]


class ProductFacilityLocation(Base):
    __tablename__ = "product_facility_location"
    __table_args__ = (
        ForeignKeyConstraint(
            ["facility_id", "product_id"], ["product_facility.facility_id", "product_facility.product_id"]
        ),
        ForeignKeyConstraint(
            ["facility_id", "location_seq_id"],
            ["facility_location.facility_id", "facility_location.location_seq_id"],
        ),
    )
    facility_id: Mapped[str] = mapped_column(primary_key=True)
    product_id: Mapped[str] = mapped_column(primary_key=True)
    location_seq_id: Mapped[str] = mapped_column(primary_key=True)
    minimum_stock: Mapped[Decimal | None]
    move_quantity: Mapped[Decimal | None]


class InventoryItemType(Base):
    __tablename__ = "inventory_item_type"
    inventory_item_type_id: Mapped[str] = mapped_column(primary_key=True)
    parent_type_id: Mapped[str | None]
    description: Mapped[str | None] = mapped_column(String(255))


class VarianceReason(Base):
    __tablename__ = "variance_reason"
    variance_reason_id: Mapped[str] = mapped_column(primary_key=True)
    description: Mapped[str | None] = mapped_column(String(255))


class InventoryItem(Base):
    __tablename__ = "inventory_item"
    __table_args__ = (
        ForeignKeyConstraint(
            ["facility_id", "location_seq_id"],
            ["facility_location.facility_id", "facility_location.location_seq_id"],
        ),
        Index("ix_inventory_item_facility_product", "facility_id", "product_id"),
        Index("ix_inventory_item_id", "inventory_item_id"),
        # the reservations' key to their item and its product (migration 0017)
        Index("ix_inventory_item_product_key", "facility_id", "inventory_item_id", "product_id", unique=True),
    )
    facility_id: Mapped[str] = mapped_column(ForeignKey("facility.facility_id"), primary_key=True)
    inventory_item_id: Mapped[str] = mapped_column(primary_key=True)
    inventory_item_type_id: Mapped[str] = mapped_column(
        ForeignKey("inventory_item_type.inventory_item_type_id"), default="NON_SERIAL_INV_ITEM"
    )
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id"))
    status_id: Mapped[str] = mapped_column(default="INV_AVAILABLE")
    datetime_received: Mapped[datetime | None]
    expire_date: Mapped[datetime | None]
    location_seq_id: Mapped[str | None]
    lot_id: Mapped[str | None]
    # Totals: written only by stockledger.ledger.post, with a detail row each time.
    quantity_on_hand_total: Mapped[Decimal] = mapped_column(default=ZERO)
    available_to_promise_total: Mapped[Decimal] = mapped_column(default=ZERO)
    accounting_quantity_total: Mapped[Decimal] = mapped_column(default=ZERO)
    unit_cost: Mapped[Decimal | None]
    currency_uom_id: Mapped[str | None] = mapped_column(String(20))
    # Highest numeric detail seq id of this item, bumped by the same UPDATE as the totals.
    last_detail_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_stamp: Mapped[datetime] = mapped_column(default=utcnow)


class InventoryItemDetail(Base):
    """The ledger: one row per change of an item's totals; never updated or deleted."""

    __tablename__ = "inventory_item_detail"
    __table_args__ = (
        ForeignKeyConstraint(
            ["facility_id", "inventory_item_id"],
            ["inventory_item.facility_id", "inventory_item.inventory_item_id"],
        ),
        Index("ix_inventory_item_detail_item_seq", "facility_id", "inventory_item_id", "seq_num"),
        Index("ix_inventory_item_detail_item_date", "facility_id", "inventory_item_id", "effective_date"),
    )
    facility_id: Mapped[str] = mapped_column(primary_key=True)
    inventory_item_id: Mapped[str] = mapped_column(primary_key=True)
    inventory_item_detail_seq_id: Mapped[str] = mapped_column(primary_key=True)
    seq_num: Mapped[int] = mapped_column(Integer)
    effective_date: Mapped[datetime]
    quantity_on_hand_diff: Mapped[Decimal] = mapped_column(default=ZERO)
    available_to_promise_diff: Mapped[Decimal] = mapped_column(default=ZERO)
    accounting_quantity_diff: Mapped[Decimal] = mapped_column(default=ZERO)
    reason_enum_id: Mapped[str | None]
    description: Mapped[str | None] = mapped_column(String(1000))
    order_id: Mapped[str | None]
    order_item_seq_id: Mapped[str | None]
    ship_group_seq_id: Mapped[str | None]
    shipment_id: Mapped[str | None]
    shipment_item_seq_id: Mapped[str | None]
    receipt_id: Mapped[str | None]
    physical_inventory_id: Mapped[str | None]
    return_id: Mapped[str | None]
    return_item_seq_id: Mapped[str | None]
    item_issuance_id: Mapped[str | None]
    inventory_reset_id: Mapped[str | None]
    change_by_user_login_id: Mapped[str | None]
    created_stamp: Mapped[datetime] = mapped_column(default=utcnow)


class ItemIssuance(Base):
    __tablename__ = "item_issuance"
    __table_args__ = (
        Index("ix_item_issuance_order_item", "order_id", "order_item_seq_id"),
        Index("ix_item_issuance_shipment", "shipment_id"),  # migration 0014
    )
    facility_id: Mapped[str] = mapped_column(ForeignKey("facility.facility_id"), primary_key=True)
    item_issuance_id: Mapped[str] = mapped_column(primary_key=True)
    inventory_item_id: Mapped[str]
    order_id: Mapped[str | None]
    order_item_seq_id: Mapped[str | None]
    ship_group_seq_id: Mapped[str | None]
    shipment_id: Mapped[str | None]
    shipment_item_seq_id: Mapped[str | None]
    quantity: Mapped[Decimal]
    cancel_quantity: Mapped[Decimal | None]
    cogs: Mapped[Decimal | None]
    issued_datetime: Mapped[datetime] = mapped_column(default=utcnow)
    issued_by_user_login_id: Mapped[str | None]


class PhysicalInventory(Base):
    __tablename__ = "physical_inventory"
    facility_id: Mapped[str] = mapped_column(ForeignKey("facility.facility_id"), primary_key=True)
    physical_inventory_id: Mapped[str] = mapped_column(primary_key=True)
    physical_inventory_date: Mapped[datetime]
    party_id: Mapped[str | None]
    general_comments: Mapped[str | None] = mapped_column(String(1000))
    change_by_user_login_id: Mapped[str | None]  # who recorded the count (migration 0011)


class InventoryItemVariance(Base):
    __tablename__ = "inventory_item_variance"
    __table_args__ = (
        ForeignKeyConstraint(
            ["facility_id", "inventory_item_id"],
            ["inventory_item.facility_id", "inventory_item.inventory_item_id"],
        ),
        ForeignKeyConstraint(
            ["facility_id", "physical_inventory_id"],
            ["physical_inventory.facility_id", "physical_inventory.physical_inventory_id"],
        ),
    )
    facility_id: Mapped[str] = mapped_column(primary_key=True)
    inventory_item_id: Mapped[str] = mapped_column(primary_key=True)
    physical_inventory_id: Mapped[str] = mapped_column(primary_key=True)
    variance_reason_id: Mapped[str | None] = mapped_column(ForeignKey("variance_reason.variance_reason_id"))
    available_to_promise_var: Mapped[Decimal] = mapped_column(default=ZERO)
    quantity_on_hand_var: Mapped[Decimal] = mapped_column(default=ZERO)
    quantity_counted: Mapped[Decimal | None]
    comments: Mapped[str | None] = mapped_column(String(1000))
    change_by_user_login_id: Mapped[str | None]  # migration 0011


class OrderItemInventoryReservation(Base):
    __tablename__ = "order_item_inventory_reservation"
    __table_args__ = (
        # one key, one check: the item exists and is of the reservation's product (migration 0017)
        ForeignKeyConstraint(
            ["facility_id", "inventory_item_id", "product_id"],
            ["inventory_item.facility_id", "inventory_item.inventory_item_id", "inventory_item.product_id"],
            name="fk_reservation_item_product",
        ),
        Index("ix_reservation_facility_product", "facility_id", "product_id", "status_id"),
        # led by the order item: its reads in every facility use it (migration 0018)
        PrimaryKeyConstraint("order_id", "order_item_seq_id", "facility_id", "inventory_item_id"),
    )
    facility_id: Mapped[str]
    order_id: Mapped[str]
    order_item_seq_id: Mapped[str]
    inventory_item_id: Mapped[str]
    product_id: Mapped[str]
    ship_group_seq_id: Mapped[str | None]
    quantity: Mapped[Decimal]
    quantity_not_available: Mapped[Decimal] = mapped_column(default=ZERO)
    reserved_datetime: Mapped[datetime] = mapped_column(default=utcnow)
    status_id: Mapped[str] = mapped_column(default="RES_ACTIVE")
    status_datetime: Mapped[datetime] = mapped_column(default=utcnow)  # when status last changed


class OrderItem(Base):
    """The product of an order item in a facility, fixed by its first use (SPEC §11): the
    primary key lets only one of two concurrent first uses in a facility write it."""

    __tablename__ = "order_item"
    # led by the order item: the one-product guard reads its rows in every facility (0015)
    __table_args__ = (PrimaryKeyConstraint("order_id", "order_item_seq_id", "facility_id"),)
    facility_id: Mapped[str]
    order_id: Mapped[str]
    order_item_seq_id: Mapped[str]
    product_id: Mapped[str]  # no foreign keys: claimed before the caller looks its ids up
    created_stamp: Mapped[datetime] = mapped_column(default=utcnow)


class OrderItemShipGroup(Base):
    __tablename__ = "order_item_ship_group"
    facility_id: Mapped[str] = mapped_column(ForeignKey("facility.facility_id"), primary_key=True)
    order_id: Mapped[str] = mapped_column(primary_key=True)
    ship_group_seq_id: Mapped[str] = mapped_column(primary_key=True)
    carrier_party_id: Mapped[str | None]
    shipment_method_type_id: Mapped[str | None]


class Shipment(Base):
    __tablename__ = "shipment"
    __table_args__ = (Index("ix_shipment_id", "shipment_id"),)
    facility_id: Mapped[str] = mapped_column(ForeignKey("facility.facility_id"), primary_key=True)
    shipment_id: Mapped[str] = mapped_column(primary_key=True)
    shipment_type_id: Mapped[str] = mapped_column(default="SALES_SHIPMENT")
    status_id: Mapped[str] = mapped_column(default="SHIPMENT_INPUT")
    primary_order_id: Mapped[str | None]
    primary_ship_group_seq_id: Mapped[str | None]
    carrier_party_id: Mapped[str | None]
    shipment_method_type_id: Mapped[str | None]
    created_stamp: Mapped[datetime] = mapped_column(default=utcnow)


class ShipmentItem(Base):
    __tablename__ = "shipment_item"
    __table_args__ = (
        ForeignKeyConstraint(
            ["facility_id", "shipment_id"], ["shipment.facility_id", "shipment.shipment_id"]
        ),
    )
    facility_id: Mapped[str] = mapped_column(primary_key=True)
    shipment_id: Mapped[str] = mapped_column(primary_key=True)
    shipment_item_seq_id: Mapped[str] = mapped_column(primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id"))
    quantity: Mapped[Decimal]
    order_id: Mapped[str | None]
    order_item_seq_id: Mapped[str | None]


class ShipmentRouteSegment(Base):
    __tablename__ = "shipment_route_segment"
    __table_args__ = (
        ForeignKeyConstraint(
            ["facility_id", "shipment_id"], ["shipment.facility_id", "shipment.shipment_id"]
        ),
    )
    facility_id: Mapped[str] = mapped_column(primary_key=True)
    shipment_id: Mapped[str] = mapped_column(primary_key=True)
    shipment_route_segment_id: Mapped[str] = mapped_column(primary_key=True)
    carrier_party_id: Mapped[str | None]
    shipment_method_type_id: Mapped[str | None]


class ShipmentReceipt(Base):
    """receivePurchaseShipment: one row per received line, accepted and rejected quantity."""

    __tablename__ = "shipment_receipt"
    __table_args__ = (Index("ix_shipment_receipt_id", "receipt_id"),)  # migration 0014
    facility_id: Mapped[str] = mapped_column(ForeignKey("facility.facility_id"), primary_key=True)
    receipt_id: Mapped[str] = mapped_column(primary_key=True)
    inventory_item_id: Mapped[str | None]
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id"))
    shipment_id: Mapped[str | None]
    shipment_item_seq_id: Mapped[str | None]
    quantity_accepted: Mapped[Decimal] = mapped_column(default=ZERO)
    quantity_rejected: Mapped[Decimal] = mapped_column(default=ZERO)
    rejection_reason_id: Mapped[str | None]
    datetime_received: Mapped[datetime] = mapped_column(default=utcnow)
    received_by_user_login_id: Mapped[str | None]


class ExternalInventoryReset(Base):
    """Audit of one ERP sync run (which may span facilities)."""

    __tablename__ = "external_inventory_reset"
    inventory_reset_id: Mapped[str] = mapped_column(primary_key=True)
    facility_id: Mapped[str | None]
    source: Mapped[str | None] = mapped_column(String(255))
    lines_total: Mapped[int] = mapped_column(Integer, default=0)
    lines_changed: Mapped[int] = mapped_column(Integer, default=0)
    lines_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    lines_failed: Mapped[int] = mapped_column(Integer, default=0)
    created_by_user_login_id: Mapped[str | None]
    created_stamp: Mapped[datetime] = mapped_column(default=utcnow)


class ReturnHeader(Base):
    __tablename__ = "return_header"
    __table_args__ = (
        Index("ix_return_header_id", "return_id"),
        Index("ix_return_header_order", "order_id"),
    )
    facility_id: Mapped[str] = mapped_column(ForeignKey("facility.facility_id"), primary_key=True)
    return_id: Mapped[str] = mapped_column(primary_key=True)
    order_id: Mapped[str | None]
    status_id: Mapped[str] = mapped_column(default="RETURN_RECEIVED")
    created_stamp: Mapped[datetime] = mapped_column(default=utcnow)


class ReturnItem(Base):
    __tablename__ = "return_item"
    __table_args__ = (
        ForeignKeyConstraint(
            ["facility_id", "return_id"], ["return_header.facility_id", "return_header.return_id"]
        ),
    )
    facility_id: Mapped[str] = mapped_column(primary_key=True)
    return_id: Mapped[str] = mapped_column(primary_key=True)
    return_item_seq_id: Mapped[str] = mapped_column(primary_key=True)
    order_item_seq_id: Mapped[str | None]
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id"))
    return_quantity: Mapped[Decimal]
    return_reason_id: Mapped[str | None]
    received_condition: Mapped[str | None]
    inventory_item_id: Mapped[str | None]
    status_id: Mapped[str] = mapped_column(default="RETURN_RECEIVED")
    return_cost: Mapped[Decimal | None]
    change_by_user_login_id: Mapped[str | None]  # who received it, then who inspected it (0011)


class CostLayer(Base):
    """A receipt's quantity at its unit cost, consumed FIFO or LIFO as stock ships."""

    __tablename__ = "cost_layer"
    __table_args__ = (
        Index("ix_cost_layer_facility_product", "facility_id", "product_id", "received_datetime"),
    )
    facility_id: Mapped[str] = mapped_column(ForeignKey("facility.facility_id"), primary_key=True)
    cost_layer_id: Mapped[str] = mapped_column(primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id"))
    inventory_item_id: Mapped[str | None]
    receipt_id: Mapped[str | None]
    received_datetime: Mapped[datetime] = mapped_column(default=utcnow)
    quantity_received: Mapped[Decimal]
    quantity_remaining: Mapped[Decimal]
    unit_cost: Mapped[Decimal]
