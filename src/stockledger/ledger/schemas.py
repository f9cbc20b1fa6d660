"""What the ledger's reads return: items, their detail rows, the view, availability."""

from datetime import datetime

from pydantic import Field

from stockledger.core.schemas import ApiModel, QuantityOut


class InventoryItemOut(ApiModel):
    inventory_item_id: str
    inventory_item_type_id: str
    product_id: str
    facility_id: str
    status_id: str
    datetime_received: datetime | None
    expire_date: datetime | None
    location_seq_id: str | None
    lot_id: str | None
    quantity_on_hand_total: QuantityOut
    available_to_promise_total: QuantityOut
    accounting_quantity_total: QuantityOut
    unit_cost: QuantityOut | None
    currency_uom_id: str | None


class DetailOut(ApiModel):
    inventory_item_id: str
    inventory_item_detail_seq_id: str
    effective_date: datetime
    quantity_on_hand_diff: QuantityOut
    available_to_promise_diff: QuantityOut
    accounting_quantity_diff: QuantityOut
    reason_enum_id: str | None
    description: str | None
    order_id: str | None
    order_item_seq_id: str | None
    ship_group_seq_id: str | None
    shipment_id: str | None
    shipment_item_seq_id: str | None
    receipt_id: str | None
    physical_inventory_id: str | None
    return_id: str | None
    return_item_seq_id: str | None
    item_issuance_id: str | None
    inventory_reset_id: str | None
    change_by_user_login_id: str | None


class NotPromisableOut(ApiModel):
    """Quantity on hand that a new reservation cannot take, by kind (not in availableToPromiseTotal)."""

    on_hold: QuantityOut = Field(description="items in INV_ON_HOLD")
    returned: QuantityOut = Field(description="items in INV_RETURNED (pending inspection)")
    defective: QuantityOut = Field(description="items in INV_DEFECTIVE")
    expired: QuantityOut = Field(description="INV_AVAILABLE items whose expireDate has passed")
    other: QuantityOut = Field(description="items in any other status")


class ProductFacilityInventoryItemOut(ApiModel):
    facility_id: str
    product_id: str
    inventory_item_id: str | None
    minimum_stock: QuantityOut | None
    quantity_on_hand_total: QuantityOut
    available_to_promise_total: QuantityOut = Field(description="ATP of INV_AVAILABLE items not expired")
    computed_inventory_count: QuantityOut
    not_promisable: NotPromisableOut


class AvailabilityOut(ApiModel):
    facility_id: str
    product_id: str
    quantity_on_hand_total: QuantityOut
    available_to_promise_total: QuantityOut
    reserved_quantity: QuantityOut
    minimum_stock: QuantityOut
    computed_inventory_count: QuantityOut
    not_promisable: NotPromisableOut
    as_of: datetime | None = None
