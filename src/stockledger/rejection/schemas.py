"""DTOs of rejectOrderItem."""

from pydantic import Field

from stockledger.core.schemas import ApiModel, Id, InputModel, PositiveQuantity, QuantityOut, ReasonId
from stockledger.rejection.rules import RejectionMode


class RejectRequest(InputModel):
    rejection_mode: RejectionMode
    quantity: PositiveQuantity | None = None
    reject_reason_id: ReasonId | None = None
    facility_id: Id | None = None
    product_id: Id | None = None  # with facilityId: the item to reject from when nothing was reserved
    description: str | None = Field(default=None, max_length=255)


class RejectedRow(ApiModel):
    inventory_item_id: str
    inventory_item_detail_seq_id: str
    quantity_on_hand_diff: QuantityOut
    available_to_promise_diff: QuantityOut
    quantity_on_hand_total: QuantityOut
    available_to_promise_total: QuantityOut


class RejectResult(ApiModel):
    order_id: str
    order_item_seq_id: str
    facility_id: str
    rejection_mode: RejectionMode
    reject_reason_id: str
    quantity_released: QuantityOut
    quantity_rejected: QuantityOut
    released: list[RejectedRow]
    rejected: list[RejectedRow]
