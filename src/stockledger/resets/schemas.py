"""DTOs of ERP resets: the run's counts and its failed lines."""

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from stockledger.core.schemas import ApiModel, Id, InputModel, NonNegativeQuantity


class ResetLineIn(InputModel):
    """One line of a reset: exactly one of quantityOnHand or availableToPromise. A line that is not
    usable fails alone (listed in `failures`), the others are applied."""

    facility_id: Id
    product_id: Id
    quantity_on_hand: NonNegativeQuantity | None = None
    available_to_promise: NonNegativeQuantity | None = None


class ResetDocument(InputModel):
    """createExternalInventoryReset as JSON (CSV: the same columns, one header line)."""

    source: str | None = Field(default=None, max_length=255)
    lines: list[ResetLineIn]


class LineFailureCode(StrEnum):
    """Why a reset line was not applied."""

    INVALID_LINE = "invalid_line"
    BOTH_QUANTITIES = "both_quantities"
    NO_QUANTITY = "no_quantity"
    NEGATIVE_QUANTITY = "negative_quantity"
    INVALID_QUANTITY = "invalid_quantity"
    UNKNOWN_FACILITY = "unknown_facility"
    UNKNOWN_PRODUCT = "unknown_product"


class LineFailureOut(ApiModel):
    line: int
    code: LineFailureCode
    message: str
    facility_id: str | None = None
    product_id: str | None = None


class ResetResult(ApiModel):
    inventory_reset_id: str
    source: str | None
    lines_total: int
    lines_changed: int
    lines_unchanged: int
    lines_failed: int
    failures: list[LineFailureOut] = Field(description="The first 50 failed lines, in line order")
    failure_count: int = Field(description="How many lines failed in all (as linesFailed)")


class ExternalInventoryResetOut(ApiModel):
    inventory_reset_id: str
    facility_id: str | None
    source: str | None
    lines_total: int
    lines_changed: int
    lines_unchanged: int
    lines_failed: int
    created_by_user_login_id: str | None
    created_stamp: datetime


class ResetFailureList(ApiModel):
    """A run's stored failed lines, by line number: the first 1,000 of the run (`linesFailed` counts all)."""

    inventory_reset_id: str
    lines_failed: int
    items: list[LineFailureOut]
    next: str | None
