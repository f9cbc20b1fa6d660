"""The ERP reset upload: a CSV sent with an upload progress bar, applied whole or not at all."""

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from stockledger.auth.rules import Principal
from stockledger.core.db import Database
from stockledger.core.deps import get_database
from stockledger.core.errors import AppError, Forbidden
from stockledger.core.scope import bind_principal
from stockledger.resets.rules import RawLine
from stockledger.resets.service import ResetOutcome, reset_inventory
from stockledger.resets.sources import csv_lines, csv_text
from stockledger.web.auth import Staff, may
from stockledger.web.csrf import csrf_protected
from stockledger.web.formstate import FormState
from stockledger.web.pages import refuse
from stockledger.web.templating import render

router = APIRouter(prefix="/ui/resets", include_in_schema=False)
API_PATH = "/v1/external-inventory-resets"
SHOWN_FAILURES = 50


class LinesFailed(Exception):
    """Some lines cannot be applied: the whole file is rolled back."""

    def __init__(self, outcome: ResetOutcome) -> None:
        super().__init__(f"{outcome.lines_failed} lines failed")
        self.outcome = outcome


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
    database = get_database(request)
    batch_size = request.app.state.settings.reset_batch_size
    outcome, failed = await run_in_threadpool(
        _apply, database, principal, upload, source or upload.filename, batch_size
    )
    if failed is not None:
        form.errors["file"] = failed
    return _page(request, principal, form, outcome, status=422 if failed else 200)


def _apply(
    database: Database, principal: Principal, upload: UploadFile, source: str | None, batch_size: int
) -> tuple[ResetOutcome | None, str | None]:
    """The outcome, or (the failed run, why nothing was applied)."""
    rows = csv_text(upload.file)
    try:
        with database.transaction() as session:
            bind_principal(session, principal)  # its scope and user, as core.deps.write_session binds them
            in_scope = _in_scope(csv_lines(rows), principal)
            outcome = reset_inventory(
                session, in_scope, source, batch_size=batch_size, keep_failures=SHOWN_FAILURES
            )
            if outcome.lines_failed:
                raise LinesFailed(outcome)
    except LinesFailed as exc:
        failed = exc.outcome.lines_failed
        lines = "1 line cannot" if failed == 1 else f"{failed} lines cannot"
        return exc.outcome, f"{lines} be applied, so nothing was changed."
    except AppError as exc:
        return None, f"{exc.detail} Nothing was changed."
    except UnicodeDecodeError:
        return None, "The file is not UTF-8 text. Nothing was changed."
    return outcome, None


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
    return render(request, "resets.html", status, **context, outcome=outcome, applied=not form.errors)
