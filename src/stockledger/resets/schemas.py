"""DTOs of ERP resets: the run's counts and its failed lines."""

from datetime import datetime

from pydantic import Field

from stockledger.core.schemas import ApiModel


class LineFailureOut(ApiModel):
    line: int
    code: str
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
    next: str | None = None
