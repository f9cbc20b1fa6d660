"""DTOs of reservations (OFBiz camelCase): one order item, a whole order, releases, pick lists."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from stockledger.core.schemas import (
    ApiModel,
    Id,
    InputModel,
    PositiveQuantity,
    QuantityOut,
    unique_lines,
)


class Fill(StrEnum):
    """What a reservation does with the quantity it cannot take now."""

    ALL_OR_NOTHING = "ALL_OR_NOTHING"
    PARTIAL = "PARTIAL"
    BACKORDER = "BACKORDER"


class ReservationRequest(InputModel):
    """createOrderItemInventoryReservation: one order item."""

    order_id: Id
    order_item_seq_id: Id
    product_id: Id
    facility_id: Id
    quantity: PositiveQuantity
    lot_id: Id | None = None
    fill: Fill = Fill.ALL_OR_NOTHING
    allow_expired: bool = Field(
        default=False, description="FEFO may take lots whose expireDate has passed (default: skip them)"
    )


class OrderLine(InputModel):
    order_item_seq_id: Id
    product_id: Id
    quantity: PositiveQuantity
    lot_id: Id | None = None


class ReserveOrderRequest(InputModel):
    """reserveStock: every line of an order, in one transaction."""

    facility_id: Id
    fill: Fill = Fill.ALL_OR_NOTHING
    items: Annotated[
        list[OrderLine],
        Field(min_length=1, max_length=20_000),
        unique_lines("order_item_seq_id", "orderItemSeqId"),
    ]
    allow_expired: bool = Field(
        default=False, description="FEFO may take lots whose expireDate has passed (default: skip them)"
    )


class ReservationRow(ApiModel):
    inventory_item_id: str
    quantity: QuantityOut
    quantity_not_available: QuantityOut


class OrderItemReservation(ApiModel):
    order_id: str
    order_item_seq_id: str
    product_id: str
    facility_id: str
    lot_id: str | None = None
    quantity_requested: QuantityOut
    quantity_reserved: QuantityOut
    quantity_not_available: QuantityOut
    quantity_unreserved: QuantityOut
    reservations: list[ReservationRow]


class ReserveOrderResult(ApiModel):
    order_id: str
    facility_id: str
    fill: Fill
    quantity_reserved: QuantityOut
    quantity_not_available: QuantityOut
    quantity_unreserved: QuantityOut
    items: list[OrderItemReservation]


class ReleasedRowOut(ApiModel):
    facility_id: str
    inventory_item_id: str
    product_id: str
    quantity: QuantityOut


class ReleaseResult(ApiModel):
    order_id: str
    order_item_seq_id: str
    status_id: str = "RES_CANCELLED"
    quantity_released: QuantityOut
    releases: list[ReleasedRowOut]


class PickSuggestion(ApiModel):
    facility_id: str
    order_item_seq_id: str
    inventory_item_id: str
    product_id: str
    product_name: str | None
    lot_id: str | None
    quantity_to_pick: QuantityOut
    location_seq_id: str | None
    area_id: str | None
    aisle_id: str | None
    section_id: str | None
    expire_date: datetime | None


class PickList(ApiModel):
    order_id: str
    items: list[PickSuggestion]
    next: str | None


class OrderReservationOut(ApiModel):
    """One reservation of an order item on an inventory item (OrderItemInventoryReservation)."""

    facility_id: str
    order_item_seq_id: str
    ship_group_seq_id: str | None
    product_id: str
    inventory_item_id: str
    lot_id: str | None
    quantity: QuantityOut
    quantity_not_available: QuantityOut = Field(description="the backordered part of `quantity`")
    status_id: str = Field(description="RES_ACTIVE or RES_CANCELLED")
    reserved_datetime: datetime
    status_datetime: datetime


class OrderReservationList(ApiModel):
    order_id: str
    items: list[OrderReservationOut]
    next: str | None
