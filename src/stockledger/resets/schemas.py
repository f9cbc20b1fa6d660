"""DTOs of ERP resets: the run's counts and its failed lines."""

from datetime import datetime

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
    failures: list[LineFailureOut]


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
