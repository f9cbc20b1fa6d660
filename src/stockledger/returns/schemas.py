"""DTOs of returns (processReturn, inspection) and of increasing ATP and QOH."""

from enum import StrEnum
from typing import Self

from pydantic import Field, field_validator, model_validator

from stockledger.core.schemas import (
    ApiModel,
    Id,
    InputModel,
    PositiveQuantity,
    QuantityOut,
    ReasonId,
    absent,
    refused,
)


class ReturnItemIn(InputModel):
    return_item_seq_id: Id
    order_item_seq_id: Id | None = None
    product_id: Id
    return_quantity: PositiveQuantity
    return_reason_id: ReasonId | None = None
    received_condition: str | None = Field(default=None, max_length=60)


class ReturnIn(InputModel):
    return_id: Id
    order_id: Id
    facility_id: Id
    items: list[ReturnItemIn] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _unique_items(self) -> Self:
        seqs = [i.return_item_seq_id for i in self.items]
        if len(set(seqs)) != len(seqs):
            raise ValueError("returnItemSeqId appears twice")
        return self


class ReturnStatus(StrEnum):
    """A return's and its items' status: waiting for inspection, or done (returns.service)."""

    RETURN_RECEIVED = "RETURN_RECEIVED"
    RETURN_COMPLETED = "RETURN_COMPLETED"


class InspectionOutcome(StrEnum):
    """Where an inspected return goes: back to sellable stock, or INV_DEFECTIVE."""

    AVAILABLE = "AVAILABLE"
    DEFECTIVE = "DEFECTIVE"


class InspectionIn(InputModel):
    outcome: InspectionOutcome


# The reasons a direct increase of ATP and QOH may give (SPEC §4: a return or a correction): the
# default, stock found, a count correction, the ordered item of a mis-shipment, a return put back
# on sale. The system's own (RESERVATION, VAR_EXT_RESET, receipts, imports) come only from their
# operations, and a reason that lowers stock (VAR_LOST…) would misname a + row.
INCREASE_REASON_IDS = ("INV_INCREASE", "VAR_FOUND", "VAR_INTEGR", "VAR_MISSHIP_ORDERED", "RETURN_RESTOCKED")


class InventoryIncreaseIn(InputModel):
    model_config = refused(absent("productId", "inventoryItemId"))

    facility_id: Id
    product_id: Id | None = None
    inventory_item_id: Id | None = None
    quantity: PositiveQuantity
    order_id: Id | None = None
    order_item_seq_id: Id | None = None
    shipment_id: Id | None = None
    shipment_item_seq_id: Id | None = None
    inventory_reset_id: Id | None = None
    reason_enum_id: Id | None = Field(
        default=None,
        json_schema_extra={"enum": [*INCREASE_REASON_IDS, None]},
        description=(
            "Why stock is added: one of "
            + ", ".join(INCREASE_REASON_IDS)
            + " (a closed list; absent: INV_INCREASE)"
        ),
    )
    description: str | None = Field(default=None, max_length=1000)

    @field_validator("reason_enum_id", mode="after")
    @classmethod
    def _reason_of_an_increase(cls, reason: str | None) -> str | None:
        if reason is not None and reason not in INCREASE_REASON_IDS:
            raise ValueError(f"reasonEnumId must be one of {', '.join(INCREASE_REASON_IDS)}")
        return reason

    @model_validator(mode="after")
    def _names_an_item(self) -> Self:
        if self.product_id is None and self.inventory_item_id is None:
            raise ValueError("give productId or inventoryItemId")
        return self


# ---- answers ----


class ReturnItemOut(ApiModel):
    return_item_seq_id: str
    order_item_seq_id: str | None
    product_id: str
    return_quantity: QuantityOut
    return_reason_id: str | None
    received_condition: str | None
    inventory_item_id: str | None
    inventory_item_status_id: str | None
    status_id: ReturnStatus
    return_cost: QuantityOut | None


class ReturnOut(ApiModel):
    return_id: str
    order_id: str | None
    facility_id: str
    status_id: ReturnStatus
    items: list[ReturnItemOut]


class InspectionOut(ReturnOut):
    inspected_quantity: QuantityOut = Field(
        description="Units the inspection acted on: the line's quantity, or less when a count found "
        "fewer in the returned item (0: it held none; nothing moved, the line is completed)"
    )


class InventoryIncreaseOut(ApiModel):
    facility_id: str
    inventory_item_id: str
    product_id: str
    inventory_item_detail_seq_id: str
    quantity_on_hand_total: QuantityOut
    available_to_promise_total: QuantityOut
