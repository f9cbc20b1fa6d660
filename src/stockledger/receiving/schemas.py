"""DTOs of receivePurchaseShipment."""

from datetime import datetime
from decimal import Decimal
from typing import Any, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from stockledger.core.schemas import (
    ApiModel,
    Id,
    InputModel,
    Instant,
    Money,
    NonNegativeQuantity,
    QuantityOut,
    refused,
)

# Why units arrive and are not accepted: the closed list of ShipmentReceipt.rejectionReasonId
# (the receive form offers these, with these words).
REJECTION_REASONS = (
    ("SRJ_DAMAGED", "Damaged"),
    ("SRJ_NOT_ORDERED", "Not ordered"),
    ("SRJ_OVER_SHIPPED", "More than ordered"),
    ("SRJ_EXPIRED", "Expired or too close to expiry"),
)
REJECTION_REASON_IDS = tuple(code for code, _ in REJECTION_REASONS)


class ReceiptLine(InputModel):
    """`rejectionReasonId` (one of the list) is given exactly when `quantityRejected` is above 0."""

    model_config = refused(
        {"properties": {"quantityAccepted": {"const": 0}, "quantityRejected": {"const": 0}}},
        {  # a reason for nothing rejected
            "required": ["rejectionReasonId"],
            "properties": {"rejectionReasonId": {"type": "string"}, "quantityRejected": {"const": 0}},
        },
        {  # rejected units without their reason
            "required": ["quantityRejected"],
            "properties": {
                "quantityRejected": {"exclusiveMinimum": 0},
                "rejectionReasonId": {"type": "null"},
            },
        },
    )

    shipment_item_seq_id: Id
    product_id: Id
    quantity_accepted: NonNegativeQuantity = Decimal(0)
    quantity_rejected: NonNegativeQuantity = Decimal(0)
    unit_cost: Money | None = None
    lot_id: Id | None = None
    expire_date: Instant | None = None
    location_seq_id: Id | None = None
    rejection_reason_id: Id | None = Field(
        default=None,
        json_schema_extra={"enum": [*REJECTION_REASON_IDS, None]},
        description=(
            "Why the rejected units were not accepted: one of "
            + ", ".join(REJECTION_REASON_IDS)
            + " (a closed list, the receive form's), given exactly when quantityRejected is above 0"
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _reason_always_checked(cls, data: Any) -> Any:
        """A line without `rejectionReasonId` is checked as if it said null: its check then names
        the field as the client spells it (a default's check would name the attribute)."""
        if isinstance(data, dict) and not {"rejectionReasonId", "rejection_reason_id"} & data.keys():
            return {**data, "rejectionReasonId": None}
        return data

    @field_validator("rejection_reason_id", mode="after")
    @classmethod
    def _reason_of_rejected(cls, reason: str | None, info: ValidationInfo) -> str | None:
        """Checked at the field, so the API and the receive form name it."""
        if reason is not None and reason not in REJECTION_REASON_IDS:
            raise ValueError(f"rejectionReasonId must be one of {', '.join(REJECTION_REASON_IDS)}")
        rejected = info.data.get("quantity_rejected")
        if rejected is None:  # quantityRejected is refused on its own
            return reason
        if rejected > 0 and reason is None:
            raise ValueError("rejected units need a rejectionReasonId")
        if rejected == 0 and reason is not None:
            raise ValueError("a rejectionReasonId needs quantityRejected above 0")
        return reason

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
