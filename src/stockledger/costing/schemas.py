"""DTOs of costing: the facility's costing method."""

from typing import Literal

from stockledger.core.schemas import ApiModel, InputModel


class FacilityCostingPatch(InputModel):
    costing_method_id: Literal["FIFO", "LIFO", "AVERAGE"]


class FacilityCostingOut(ApiModel):
    facility_id: str
    costing_method_id: str
