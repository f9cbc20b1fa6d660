"""The ERP reset upload: a CSV sent with an upload progress bar, applied as the API applies it.

The good lines are applied and the failed ones listed (the API's and the CLI's rule, the same
service); the page then shows what changed. After an error or failed lines the chosen file
stays in the form (htmx keeps the input across the swap: `hx-preserve`), to send again once fixed.
"""

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from stockledger.auth.rules import Principal
from stockledger.core.deps import write_session
from stockledger.core.errors import AppError, Forbidden
from stockledger.resets.rules import RawLine
from stockledger.resets.service import ResetOutcome, reset_inventory
from stockledger.resets.sources import csv_lines, csv_text
from stockledger.web.auth import Staff, may
from stockledger.web.csrf import csrf_protected
from stockledger.web.formstate import FormState
from stockledger.web.pages import refuse
from stockledger.web.reset_wording import problem_words, sentence
from stockledger.web.templating import render

router = APIRouter(prefix="/ui/resets", include_in_schema=False)
API_PATH = "/v1/external-inventory-resets"
SHOWN_FAILURES = 50
SHOWN_CHANGES = 200


@router.get("", response_class=HTMLResponse)
def reset_page(request: Request, principal: Staff) -> Response:
    if not may(principal, "POST", API_PATH):
        return refuse(request, principal, 403, f"Role {principal.role} may not upload ERP resets.")
    return _page(request, principal, FormState("reset"))


@router.post("", response_class=HTMLResponse, dependencies=[Depends(csrf_protected)])
async def upload_reset(request: Request, principal: Staff) -> Response:
    if not may(principal, "POST", API_PATH):
        return refuse(request, principal, 403, f"Role {principal.role} may not upload ERP resets.")
    form_data = await request.form()
    upload, source = form_data.get("file"), str(form_data.get("source") or "").strip()
    form = FormState("reset", {"source": source})
    if not isinstance(upload, UploadFile) or not upload.filename:
        form.errors["file"] = "Choose a CSV file."
    elif len(source) > 255:
        form.errors["source"] = "At most 255 characters."
    if form.errors:
        return _page(request, principal, form, status=422)
    assert isinstance(upload, UploadFile)
    batch_size = request.app.state.settings.reset_batch_size
    outcome, failed = await run_in_threadpool(
        _apply, request, principal, upload, source or upload.filename, batch_size
    )
    if failed is not None:
        form.errors["file"] = failed
        return _page(request, principal, form, status=422)
    return _page(request, principal, form, outcome)


def _apply(
    request: Request, principal: Principal, upload: UploadFile, source: str | None, batch_size: int
) -> tuple[ResetOutcome | None, str | None]:
    """The outcome (the good lines applied, the failed listed), or why nothing was applied: in
    the request's write transaction (core.deps.write_session, the signed-in principal bound),
    as every page writes."""
    rows = csv_text(upload.file)
    try:
        with write_session(request) as session:
            lines = _in_scope(csv_lines(rows), principal)
            outcome = reset_inventory(
                session,
                lines,
                source,
                batch_size=batch_size,
                keep_failures=SHOWN_FAILURES,
                keep_changes=SHOWN_CHANGES,
            )
            return outcome, None
    except AppError as exc:
        return None, f"{sentence(exc.detail)} Nothing was changed."
    except UnicodeDecodeError:
        return None, "The file is not UTF-8 text. Nothing was changed."


def _in_scope(lines: Iterator[RawLine], principal: Principal) -> Iterator[RawLine]:
    """A file naming a facility outside the token's scope is refused whole."""
    for line in lines:
        if isinstance(line.facility_id, str) and not principal.may_touch(line.facility_id):
            raise Forbidden(f"Line {line.line}: your token may not act on facility {line.facility_id}.")
        yield line


def _page(
    request: Request,
    principal: Principal,
    form: FormState,
    outcome: ResetOutcome | None = None,
    status: int = 200,
) -> HTMLResponse:
    context: dict[str, Any] = {"title": "ERP inventory reset", "principal": principal, "form": form}
    keep_file = bool(form.errors) or bool(outcome and outcome.lines_failed)
    return render(
        request, "resets.html", status, **context, outcome=outcome, keep_file=keep_file, problem=problem_words
    )
