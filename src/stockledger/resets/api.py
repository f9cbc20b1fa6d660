"""Routes of ERP resets: POST a JSON or CSV reset, GET a run's audit row and its failed lines."""

from collections.abc import AsyncIterator, Iterable
from tempfile import SpooledTemporaryFile
from typing import IO, Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.exceptions import HTTPException

from stockledger.core.deps import ReadSession, WriteSession
from stockledger.core.guards import is_json, media_type
from stockledger.core.limits import read_whole
from stockledger.core.openapi import documented_body
from stockledger.core.pagination import Cursor, Limit, decode_cursor, page_of
from stockledger.core.schemas import PathId
from stockledger.resets import failures, service, sources
from stockledger.resets.rules import RawLine
from stockledger.resets.schemas import (
    ExternalInventoryResetOut,
    LineFailureOut,
    ResetDocument,
    ResetFailureList,
    ResetResult,
)

router = APIRouter(prefix="/v1", tags=["resets"])
RESET_PATH = "/v1/external-inventory-resets"  # exempt from the 10 MB body limit: ERP files are large

# text/csv, or the same bytes as application/octet-stream: what a generated client sends (its File body)
CSV_TYPES = {"text/csv", "application/csv", "application/octet-stream"}
SEND = "Send application/json, or CSV as text/csv, application/csv or application/octet-stream"
BODY_DOC = documented_body(
    "ResetDocument",
    ResetDocument,
    example={
        "source": "ERP nightly",
        "lines": [
            {"facilityId": "FACILITY_1", "productId": "FG001", "quantityOnHand": 40},
            {"facilityId": "FACILITY_1", "productId": "FG002", "availableToPromise": 25},
        ],
    },
    csv="facilityId,productId,quantityOnHand,availableToPromise\nFACILITY_1,FG001,40,\nFACILITY_1,FG002,,25\n",
)


SPOOL_BYTES = 1024 * 1024  # a larger body goes to a temporary file as it arrives, not into memory


async def _spooled_body(request: Request) -> AsyncIterator[IO[bytes]]:
    """The body, streamed into a file that stays in memory up to SPOOL_BYTES."""
    with SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        yield spool


@router.post(
    "/external-inventory-resets",
    response_model=ResetResult,
    summary="createExternalInventoryReset (ERP sync), JSON or CSV",
    openapi_extra=BODY_DOC,
)
def create_external_inventory_reset(
    request: Request,
    session: WriteSession,
    body: Annotated[IO[bytes], Depends(_spooled_body)],
    source: Annotated[str | None, Query(max_length=255, description="For CSV bodies")] = None,
) -> ResetResult:
    """Each line sets a product's QOH or ATP in a facility; failed lines are listed (the first 50,
    `failureCount` in all), the rest applied."""
    limit = request.app.state.max_body_bytes
    lines, given_source = _lines(request.headers.get("content-type", ""), body, limit)
    outcome = service.reset_inventory(
        session,
        lines,
        given_source or source,
        batch_size=request.app.state.settings.reset_batch_size,
        keep_failures=service.LISTED_FAILURES,
    )
    return ResetResult(
        inventory_reset_id=outcome.inventory_reset_id,
        source=outcome.source,
        lines_total=outcome.lines_total,
        lines_changed=outcome.lines_changed,
        lines_unchanged=outcome.lines_unchanged,
        lines_failed=outcome.lines_failed,
        failures=[LineFailureOut.model_validate(f) for f in outcome.failures],
        failure_count=outcome.lines_failed,
    )


@router.get("/external-inventory-resets/{inventory_reset_id}", response_model=ExternalInventoryResetOut)
def get_external_inventory_reset(
    inventory_reset_id: PathId, session: ReadSession
) -> ExternalInventoryResetOut:
    """A run's audit row. A scoped token sees the runs of one facility of its scope only (a run
    spanning facilities counts their lines together): another run is 403, whatever it holds."""
    return ExternalInventoryResetOut.model_validate(service.get_reset_run(session, inventory_reset_id))


@router.get(
    "/external-inventory-resets/{inventory_reset_id}/failures",
    response_model=ResetFailureList,
    operation_id="listResetFailures",
)
def list_reset_failures(
    inventory_reset_id: PathId, session: ReadSession, limit: Limit = 100, cursor: Cursor = None
) -> ResetFailureList:
    """The run's failed lines (line, code, message, the ids it named), stored with the run: its
    first 1,000 in line order. Who may read them: as for the run."""
    run = service.get_reset_run(session, inventory_reset_id)
    after = decode_cursor(cursor, int)
    rows = failures.reset_failures(session, run, int(after[0]) if after else None, limit + 1)
    page, following = page_of(rows, limit, lambda f: (f.line,))
    return ResetFailureList(
        inventory_reset_id=run.inventory_reset_id,
        lines_failed=run.lines_failed,
        items=[LineFailureOut.model_validate(f) for f in page],
        next=following,
    )


def _lines(content_type: str, body: IO[bytes], limit: int) -> tuple[Iterable[RawLine], str | None]:
    """The lines, read lazily from the body (a CSV line by line, as the CLI and the page do); a
    JSON body is read whole, so it is held to the body limit (`limit`) of every other route."""
    media = media_type(content_type)
    if not media:
        raise HTTPException(415, f"{SEND}: the body has no Content-Type")
    if media in CSV_TYPES:
        return sources.csv_lines(sources.csv_text(body)), None
    if is_json(content_type):
        document = sources.parse_json_document(read_whole(body, limit))
        return sources.json_lines(document["lines"]), document.get("source")
    raise HTTPException(415, f"{SEND}, not {media}")
