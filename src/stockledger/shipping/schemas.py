"""DTOs of shipping: sales shipments, confirming them shipped, POS sales (OFBiz camelCase)."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, model_validator

from stockledger.core.schemas import (
    ApiModel,
    Id,
    InputModel,
    PositiveQuantity,
    QuantityOut,
    absent,
    refused,
    unique_lines,
)

MAX_LINES = 1000


class ShipGroupIn(InputModel):
    ship_group_seq_id: Id
    carrier_party_id: Id | None = None
    shipment_method_type_id: Id | None = None


class RouteSegmentIn(InputModel):
    shipment_route_segment_id: Id
    carrier_party_id: Id | None = None
    shipment_method_type_id: Id | None = None


class ShipmentItemIn(InputModel):
    shipment_item_seq_id: Id
    order_id: Id | None = None  # default: the shipment's primaryOrderId
    order_item_seq_id: Id
    product_id: Id
    quantity: PositiveQuantity


class ShipmentCreate(InputModel):
    shipment_id: Id | None = None
    primary_order_id: Id
    origin_facility_id: Id
    items: Annotated[
        list[ShipmentItemIn],
        Field(min_length=1, max_length=MAX_LINES),
        unique_lines("shipment_item_seq_id", "shipmentItemSeqId"),
    ]
    ship_group: ShipGroupIn | None = None
    route_segments: Annotated[
        list[RouteSegmentIn],
        Field(max_length=100),
        unique_lines("shipment_route_segment_id", "shipmentRouteSegmentId"),
    ] = []


class ShipmentStatus(StrEnum):
    """A shipment's status (shipping.rules)."""

    SHIPMENT_INPUT = "SHIPMENT_INPUT"
    SHIPMENT_APPROVED = "SHIPMENT_APPROVED"
    SHIPMENT_PACKED = "SHIPMENT_PACKED"
    SHIPMENT_SHIPPED = "SHIPMENT_SHIPPED"
    SHIPMENT_CANCELLED = "SHIPMENT_CANCELLED"


class ShipmentStatusChange(StrEnum):
    """The statuses a PATCH may move a shipment to."""

    SHIPMENT_APPROVED = "SHIPMENT_APPROVED"
    SHIPMENT_PACKED = "SHIPMENT_PACKED"
    SHIPMENT_CANCELLED = "SHIPMENT_CANCELLED"


class ShipmentPatch(InputModel):
    model_config = refused(absent("statusId", "carrierPartyId", "shipmentMethodTypeId"))

    status_id: ShipmentStatusChange | None = None
    carrier_party_id: Id | None = None
    shipment_method_type_id: Id | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if self.status_id is None and self.carrier_party_id is None and self.shipment_method_type_id is None:
            raise ValueError("give statusId, carrierPartyId or shipmentMethodTypeId")
        return self


class ShipLineIn(InputModel):
    shipment_item_seq_id: Id
    quantity: PositiveQuantity
    inventory_item_id: Id | None = None
    lot_id: Id | None = None


class ShipRequest(InputModel):
    items: list[ShipLineIn] | None = Field(default=None, min_length=1, max_length=MAX_LINES)
    release_remainder: bool = False
    allow_unreserved: bool = False
    allow_expired: bool = False  # units beyond the reservations may come from expired lots


class PosItemIn(InputModel):
    order_item_seq_id: Id
    product_id: Id
    quantity: PositiveQuantity


class PosSaleIn(InputModel):
    order_id: Id
    facility_id: Id
    items: Annotated[
        list[PosItemIn],
        Field(min_length=1, max_length=MAX_LINES),
        unique_lines("order_item_seq_id", "orderItemSeqId"),
    ]
    allow_expired: bool = False  # sell from expired lots too


# ---- answers ----


class ShipmentItemOut(ApiModel):
    shipment_item_seq_id: str
    order_id: str | None
    order_item_seq_id: str | None
    product_id: str
    quantity: QuantityOut


class RouteSegmentOut(ApiModel):
    shipment_route_segment_id: str
    carrier_party_id: str | None
    shipment_method_type_id: str | None


class ShipmentOut(ApiModel):
    shipment_id: str
    shipment_type_id: str
    status_id: ShipmentStatus
    origin_facility_id: str
    primary_order_id: str | None
    primary_ship_group_seq_id: str | None
    carrier_party_id: str | None
    shipment_method_type_id: str | None
    items: list[ShipmentItemOut]
    route_segments: list[RouteSegmentOut]


class IssuanceOut(ApiModel):
    item_issuance_id: str
    shipment_item_seq_id: str
    order_id: str | None
    order_item_seq_id: str | None
    product_id: str
    inventory_item_id: str
    lot_id: str | None
    quantity: QuantityOut
    cogs: QuantityOut


class ShippedOut(ApiModel):
    shipment_id: str
    status_id: ShipmentStatus
    issuances: list[IssuanceOut]
    total_cogs: QuantityOut


class ItemIssuanceOut(ApiModel):
    """Units issued from an inventory item for an order item of a shipment (ItemIssuance)."""

    facility_id: str
    item_issuance_id: str
    order_id: str | None
    order_item_seq_id: str | None
    ship_group_seq_id: str | None
    shipment_id: str | None
    shipment_item_seq_id: str | None
    product_id: str
    inventory_item_id: str
    lot_id: str | None
    quantity: QuantityOut
    cancel_quantity: QuantityOut | None
    cogs: QuantityOut | None
    issued_datetime: datetime
    issued_by_user_login_id: str | None


class ItemIssuanceList(ApiModel):
    items: list[ItemIssuanceOut]
    next: str | None
