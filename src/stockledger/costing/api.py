"""Routes of costing: a facility's costing method (FIFO default, LIFO, AVERAGE)."""

from fastapi import APIRouter

from stockledger.core.deps import WriteSession
from stockledger.core.exact_json import ExactJsonRoute
from stockledger.core.schemas import PathId
from stockledger.costing import service
from stockledger.costing.schemas import FacilityCostingOut, FacilityCostingPatch

router = APIRouter(prefix="/v1", tags=["costing"], route_class=ExactJsonRoute)


@router.patch("/facilities/{facility_id}", response_model=FacilityCostingOut)
def patch_facility(
    facility_id: PathId, body: FacilityCostingPatch, session: WriteSession
) -> FacilityCostingOut:
    """Set `costingMethodId`: how shipments from this facility are priced from now on."""
    facility = service.set_costing_method(session, facility_id, body.costing_method_id)
    return FacilityCostingOut.model_validate(facility)
