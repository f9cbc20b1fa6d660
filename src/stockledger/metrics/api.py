"""GET /metrics: Prometheus text exposition (open, like /healthz)."""

from fastapi import APIRouter, Response

from stockledger.metrics.registry import exposition

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response, include_in_schema=True)
def metrics() -> Response:
    """Prometheus metrics of this process (of every worker with PROMETHEUS_MULTIPROC_DIR)."""
    body, content_type = exposition()
    return Response(content=body, media_type=content_type)
