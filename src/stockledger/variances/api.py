"""Route of logged variances."""

from fastapi import APIRouter

from stockledger.core.deps import WriteSession
from stockledger.core.exact_json import ExactJsonRoute
from stockledger.variances import service
from stockledger.variances.schemas import VarianceIn, VarianceOut

router = APIRouter(prefix="/v1", tags=["counts"], route_class=ExactJsonRoute)


@router.post("/variances", response_model=VarianceOut, summary="logVariance: ± quantity on QOH and ATP")
def log_variance(variance: VarianceIn, session: WriteSession) -> VarianceOut:
    """The quantity (signed, not zero) moves both QOH and ATP; the reason must be a VarianceReason.
    Taking QOH below zero needs `allowNegative: true`, else 409 `negative_stock` and nothing changes."""
    return service.log_variance(session, variance)
