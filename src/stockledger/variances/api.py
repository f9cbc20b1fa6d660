"""Routes of logged variances and of their reason codes."""

from fastapi import APIRouter

from stockledger.core.deps import ReadSession, WriteSession
from stockledger.core.exact_json import ExactJsonRoute
from stockledger.core.pagination import IdCursor, Limit, decode_cursor, page_of
from stockledger.variances import reads, service
from stockledger.variances.schemas import VarianceIn, VarianceOut, VarianceReasonList, VarianceReasonOut

router = APIRouter(prefix="/v1", tags=["counts"], route_class=ExactJsonRoute)


@router.post("/variances", response_model=VarianceOut, summary="logVariance: ± quantity on QOH and ATP")
def log_variance(variance: VarianceIn, session: WriteSession) -> VarianceOut:
    """The quantity (signed, not zero) moves both QOH and ATP; the reason must be a VarianceReason.
    Taking QOH below zero needs `allowNegative: true`, else 409 `negative_stock` and nothing changes."""
    return service.log_variance(session, variance)


@router.get("/variance-reasons", response_model=VarianceReasonList, operation_id="listVarianceReasons")
def list_variance_reasons(
    session: ReadSession, limit: Limit = 100, cursor: IdCursor = None
) -> VarianceReasonList:
    """The VarianceReason codes a variance or a count may give, by id (the same in every facility)."""
    after = decode_cursor(cursor, str)
    rows = reads.variance_reasons(session, after[0] if after else None, limit + 1)
    page, following = page_of(rows, limit, lambda r: (r.variance_reason_id,))
    return VarianceReasonList(items=[VarianceReasonOut.model_validate(r) for r in page], next=following)
