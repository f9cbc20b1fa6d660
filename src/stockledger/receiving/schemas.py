"""DTOs of receivePurchaseShipment."""

from datetime import datetime
from decimal import Decimal
from typing import Self

from pydantic import Field, model_validator

from stockledger.core.schemas import (
    ApiModel,
    Id,
    InputModel,
    Money,
    NonNegativeQuantity,
    QuantityOut,
    ReasonId,
    refused,
)


class ReceiptLine(InputModel):
    model_config = refused(
        {"properties": {"quantityAccepted": {"const": 0}, "quantityRejected": {"const": 0}}}
    )

    shipment_item_seq_id: Id
    product_id: Id
    quantity_accepted: NonNegativeQuantity = Decimal(0)
    quantity_rejected: NonNegativeQuantity = Decimal(0)
    unit_cost: Money | None = None
    lot_id: Id | None = None
    expire_date: datetime | None = None
    location_seq_id: Id | None = None
    rejection_reason_id: ReasonId | None = None

    @model_validator(mode="after")
    def _something_received(self) -> Self:
        if self.quantity_accepted == 0 and self.quantity_rejected == 0:
            raise ValueError("a received line needs quantityAccepted or quantityRejected above zero")
        return self


class ReceiptDoc(InputModel):
    """`additional`: receive lines of the shipment that were received before (else 409)."""

    shipment_id: Id
    facility_id: Id
    received_by_user_login_id: Id | None = None
    additional: bool = False
    items: list[ReceiptLine] = Field(min_length=1, max_length=10_000)


class ReceivedLine(ApiModel):
    receipt_id: str
    shipment_item_seq_id: str
    product_id: str
    inventory_item_id: str | None
    inventory_item_detail_seq_id: str | None
    quantity_accepted: QuantityOut
    quantity_rejected: QuantityOut
    unit_cost: QuantityOut
    cost_layer_id: str | None
    quantity_on_hand_total: QuantityOut | None
    available_to_promise_total: QuantityOut | None
    backorders_filled: QuantityOut


class ReceiptResult(ApiModel):
    shipment_id: str
    facility_id: str
    items: list[ReceivedLine]


class ReceiptOut(ApiModel):
    """One received line (ShipmentReceipt): accepted units were stocked, rejected ones only recorded."""

    receipt_id: str
    facility_id: str
    shipment_id: str | None
    shipment_item_seq_id: str | None
    product_id: str
    inventory_item_id: str | None = Field(description="the item the accepted units went to")
    quantity_accepted: QuantityOut
    quantity_rejected: QuantityOut
    rejection_reason_id: str | None
    datetime_received: datetime
    received_by_user_login_id: str | None
