"""The failed lines of an ERP reset run, stored with the run (migration 0014)."""

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from stockledger.core.model_base import Base


class ExternalInventoryResetFailure(Base):
    """One line of a run that could not be applied: the first STORED_FAILURES of a run, in line order.

    `facility_id` is the run's facility (`_ALL` for a run spanning facilities or none, as its
    InventoryReset event): the distribution column, so a run's failures live on one shard;
    the facility the line named is `line_facility_id`."""

    __tablename__ = "external_inventory_reset_failure"
    facility_id: Mapped[str] = mapped_column(primary_key=True)
    inventory_reset_id: Mapped[str] = mapped_column(primary_key=True)
    line_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str]
    message: Mapped[str] = mapped_column(String(1000))
    line_facility_id: Mapped[str | None]
    product_id: Mapped[str | None]
