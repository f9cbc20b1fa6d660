"""DTOs of a logged variance."""

from typing import Self

from pydantic import Field, model_validator

from stockledger.core.schemas import (
    ApiModel,
    Id,
    InputModel,
    Quantity,
    QuantityOut,
    VarianceReasonId,
    absent,
    refused,
)


class VarianceIn(InputModel):
    """± quantity on QOH and ATP of an item, named by id or as the facility item of a product.
    `allowNegative`: a variance that takes QOH below zero is logged only when this is true."""

    model_config = refused(
        absent("inventoryItemId", "facilityId"),
        absent("inventoryItemId", "productId"),
        {"required": ["quantity"], "properties": {"quantity": {"const": 0}}},
    )

    inventory_item_id: Id | None = None
    facility_id: Id | None = None
    product_id: Id | None = None
    quantity: Quantity
    variance_reason_id: VarianceReasonId
    comments: str | None = Field(default=None, max_length=1000)
    change_by_user_login_id: Id | None = None
    allow_negative: bool = False

    @model_validator(mode="after")
    def _one_target_and_a_change(self) -> Self:
        if self.inventory_item_id is None and (self.facility_id is None or self.product_id is None):
            raise ValueError("give inventoryItemId, or facilityId and productId")
        if self.quantity == 0:
            raise ValueError("quantity must not be zero")
        return self


class VarianceItemOut(ApiModel):
    """One item a variance changed: its ledger row and its totals after it."""

    inventory_item_id: str
    inventory_item_detail_seq_id: str
    quantity: QuantityOut
    quantity_on_hand_total: QuantityOut
    available_to_promise_total: QuantityOut


class VarianceOut(ApiModel):
    """The variance; `inventoryItemId` and its totals are the first item it changed, and `items`
    every item: a removal by productId is spread over the product's promisable items."""

    facility_id: str
    product_id: str
    inventory_item_id: str
    inventory_item_detail_seq_id: str
    variance_reason_id: str
    quantity: QuantityOut
    quantity_on_hand_total: QuantityOut
    available_to_promise_total: QuantityOut
    change_by_user_login_id: str | None
    items: list[VarianceItemOut]


class VarianceReasonOut(ApiModel):
    variance_reason_id: str
    description: str | None


class VarianceReasonList(ApiModel):
    items: list[VarianceReasonOut]
    next: str | None
