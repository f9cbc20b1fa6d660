"""DTOs of costing: the facility's costing method."""

from enum import StrEnum

from stockledger.core.schemas import ApiModel, InputModel


class CostingMethod(StrEnum):
    """How shipments from a facility are priced."""

    FIFO = "FIFO"
    LIFO = "LIFO"
    AVERAGE = "AVERAGE"


class FacilityCostingPatch(InputModel):
    costing_method_id: CostingMethod


class FacilityCostingOut(ApiModel):
    facility_id: str
    costing_method_id: str
