"""DTOs of cycle counts: a count document and what it recorded."""

from datetime import datetime
from typing import Self

from pydantic import Field, model_validator

from stockledger.core.schemas import (
    ApiModel,
    Id,
    InputModel,
    Instant,
    NonNegativeQuantity,
    QuantityOut,
    VarianceReasonId,
    absent,
    given,
    refused,
)


class CountLine(InputModel):
    """One counted quantity, of a product (all its items in the facility) or of one item."""

    model_config = refused(absent("productId", "inventoryItemId"), given("productId", "inventoryItemId"))

    product_id: Id | None = None
    inventory_item_id: Id | None = None
    quantity_counted: NonNegativeQuantity
    variance_reason_id: VarianceReasonId | None = None
    comments: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.product_id is None) == (self.inventory_item_id is None):
            raise ValueError("give exactly one of productId or inventoryItemId")
        return self


class CountDoc(InputModel):
    physical_inventory_id: Id
    facility_id: Id
    physical_inventory_date: Instant | None = None
    party_id: Id | None = None
    general_comments: str | None = Field(default=None, max_length=1000)
    counts: list[CountLine] = Field(min_length=1, max_length=10_000)


class CountedVariance(ApiModel):
    inventory_item_id: str
    product_id: str
    quantity_counted: QuantityOut | None
    quantity_on_hand_var: QuantityOut
    available_to_promise_var: QuantityOut
    variance_reason_id: str | None
    inventory_item_detail_seq_id: str | None = None  # the ledger row, when this request wrote one


class CountResult(ApiModel):
    physical_inventory_id: str
    facility_id: str
    physical_inventory_date: datetime
    already_recorded: bool
    variances: list[CountedVariance]


class ItemVarianceOut(ApiModel):
    """One item's variance of a count (InventoryItemVariance); `quantityCounted` null when only
    its ATP was corrected (or the variance was loaded from a seed document)."""

    inventory_item_id: str
    product_id: str
    variance_reason_id: str | None
    quantity_on_hand_var: QuantityOut
    available_to_promise_var: QuantityOut
    quantity_counted: QuantityOut | None
    comments: str | None
    change_by_user_login_id: str | None


class PhysicalInventoryOut(ApiModel):
    physical_inventory_id: str
    facility_id: str
    physical_inventory_date: datetime
    party_id: str | None
    general_comments: str | None
    change_by_user_login_id: str | None
    inventory_item_variances: list[ItemVarianceOut]
