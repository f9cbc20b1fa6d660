"""DTOs of the catalogue: the seed documents as they stand, and what reads return."""

from decimal import Decimal
from typing import Annotated

from pydantic import Field

from stockledger.core.schemas import (
    VARIANCE_REASON,
    ApiModel,
    DocumentModel,
    Id,
    Instant,
    Money,
    QuantityOut,
    integers_remembered,
    unique_lines,
)
from stockledger.core.schemas import NonNegativeQuantity as AnyNonNegativeQuantity
from stockledger.core.schemas import Quantity as AnyQuantity
from stockledger.ledger.schemas import InventoryItemOut

# The quantities of a document: their types', each integer value validated once (a document of
# 50,000 records repeats a few; a product of the load benchmark validated in 18 µs, not 22).
Quantity = Annotated[AnyQuantity, integers_remembered()]
NonNegativeQuantity = Annotated[AnyNonNegativeQuantity, integers_remembered()]


class LocationDoc(DocumentModel):
    location_seq_id: Id
    location_type_enum_id: str | None = None
    area_id: str | None = None
    aisle_id: str | None = None
    section_id: str | None = None


class ProductFacilityDoc(DocumentModel):
    minimum_stock: NonNegativeQuantity | None = None
    reorder_quantity: NonNegativeQuantity | None = None
    days_to_ship: int | None = Field(default=None, ge=0, le=3650)


class ProductFacilityLocationDoc(DocumentModel):
    location_seq_id: Id
    minimum_stock: NonNegativeQuantity | None = None
    move_quantity: NonNegativeQuantity | None = None


class ProductDoc(DocumentModel):
    product_id: Id
    product_type_id: str | None = None
    product_name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)  # a Text column
    product_facility: ProductFacilityDoc | None = None
    # A product (or a location of a product) named twice is merged, the later winning a field
    # both give (catalog/import_products.py): the counts are of the rows written.
    product_facility_locations: list[ProductFacilityLocationDoc] = []


class FacilityDoc(DocumentModel):
    facility_id: Id
    facility_type_id: str | None = None
    facility_name: str | None = Field(default=None, max_length=255)
    costing_method_id: str | None = Field(default=None, pattern="^(FIFO|LIFO|AVERAGE)$")
    facility_locations: Annotated[list[LocationDoc], unique_lines("location_seq_id", "locationSeqId")] = []
    products: list[ProductDoc] = []


class DetailDoc(DocumentModel):
    inventory_item_detail_seq_id: Id | None = None
    effective_date: Instant | None = None
    quantity_on_hand_diff: Quantity = Decimal(0)
    available_to_promise_diff: Quantity = Decimal(0)
    accounting_quantity_diff: Quantity | None = None
    reason_enum_id: str | None = None
    description: str | None = Field(default=None, max_length=1000)
    order_id: str | None = None
    order_item_seq_id: str | None = None
    shipment_id: str | None = None
    shipment_item_seq_id: str | None = None
    receipt_id: str | None = None
    physical_inventory_id: str | None = None
    return_id: str | None = None
    item_issuance_id: str | None = None
    inventory_reset_id: str | None = None
    change_by_user_login_id: str | None = None


class InventoryItemDoc(DocumentModel):
    inventory_item_id: Id
    inventory_item_type_id: str | None = None
    product_id: Id
    facility_id: Id
    status_id: str | None = None
    datetime_received: Instant | None = None
    expire_date: Instant | None = None
    location_seq_id: Id | None = None
    lot_id: str | None = None
    quantity_on_hand_total: Quantity | None = None
    available_to_promise_total: Quantity | None = None
    accounting_quantity_total: Quantity | None = None
    unit_cost: Money | None = None
    currency_uom_id: str | None = Field(default=None, max_length=20)
    inventory_item_details: Annotated[
        list[DetailDoc], unique_lines("inventory_item_detail_seq_id", "inventoryItemDetailSeqId")
    ] = []


class VarianceDoc(DocumentModel):
    inventory_item_id: Id
    physical_inventory_id: Id | None = None
    variance_reason_id: str | None = Field(default=None, description=VARIANCE_REASON)
    available_to_promise_var: Quantity = Decimal(0)
    quantity_on_hand_var: Quantity = Decimal(0)
    comments: str | None = Field(default=None, max_length=1000)


class PhysicalInventoryDoc(DocumentModel):
    physical_inventory_id: Id
    physical_inventory_date: Instant | None = None
    party_id: str | None = None
    general_comments: str | None = Field(default=None, max_length=1000)
    inventory_item_variances: list[VarianceDoc] = Field(min_length=1)


class ImportResult(ApiModel):
    """What the document's import wrote, by kind of record; every kind the document holds is in
    each map, zeros included."""

    document_type: str
    counts: dict[str, int] = Field(
        description="Rows written (created + updated); a reload of the same document: zeros"
    )
    created: dict[str, int] = Field(description="Rows created")
    updated: dict[str, int] = Field(description="Rows there before that a field of the document changed")
    unchanged: dict[str, int] = Field(
        description="Rows there already as the document gives them: not written"
    )
    ledger_rows_written: int


# ---- reads ----


class LocationOut(ApiModel):
    location_seq_id: str
    location_type_enum_id: str | None
    area_id: str | None
    aisle_id: str | None
    section_id: str | None


class FacilityOut(ApiModel):
    facility_id: str
    facility_type_id: str | None
    facility_name: str | None
    costing_method_id: str
    facility_locations: list[LocationOut]


class ProductFacilityLocationOut(ApiModel):
    """Where the product is kept in the facility (ProductFacilityLocation)."""

    location_seq_id: str
    minimum_stock: QuantityOut | None
    move_quantity: QuantityOut | None


class ProductFacilityOut(ApiModel):
    facility_id: str
    minimum_stock: QuantityOut | None
    reorder_quantity: QuantityOut | None
    days_to_ship: int | None
    inventory_item_id: str | None
    product_facility_locations: list[ProductFacilityLocationOut] = []


class FacilityProductOut(ApiModel):
    """A product the facility carries: its ProductFacility row and the product's name and type."""

    product_id: str
    product_name: str | None
    product_type_id: str | None
    minimum_stock: QuantityOut | None
    reorder_quantity: QuantityOut | None
    days_to_ship: int | None
    inventory_item_id: str | None


class FacilityProductList(ApiModel):
    facility_id: str
    items: list[FacilityProductOut]
    next: str | None


class ProductOut(ApiModel):
    product_id: str
    product_type_id: str | None
    product_name: str | None
    description: str | None
    product_facilities: list[ProductFacilityOut]


class StockedItemOut(InventoryItemOut):
    """An inventory item with its location's area, aisle and section."""

    area_id: str | None
    aisle_id: str | None
    section_id: str | None


class StockedItemList(ApiModel):
    items: list[StockedItemOut]
    next: str | None
