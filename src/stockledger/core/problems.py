"""Exception handlers: every failure leaves as application/problem+json, never a bare 500."""

import logging
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockledger.core.disconnects import LOST, ResponseCut, describe
from stockledger.core.errors import (
    PROBLEM_JSON,
    SQLITE_OVERFLOW,
    TOTAL_OVERFLOW,
    AppError,
    QuantityOverflow,
    ValidationFailed,
    listed_errors,
    problem,
)
from stockledger.core.prepared_alone import stale_plan
from stockledger.core.quantities import json_number
from stockledger.core.routing import methods_at

log = logging.getLogger("stockledger")
# SQLSTATEs of the client's data, not of the database's health: a value longer than its column
# (string_data_right_truncation), a number past its column's type (numeric_value_out_of_range).
CLIENT_DATA_STATES = {"22001": "a value is longer than its field allows", "22003": "a number is out of range"}

HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_failed", "Validation failed"),
}


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    content = jsonable_encoder(body, custom_encoder={Decimal: json_number})
    return JSONResponse(content, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


async def send_problem(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer a problem+json from an ASGI middleware, before any route runs."""
    response = problem_response(problem(status, code, title, detail, scope.get("path")), headers)
    await response(scope, receive, send)


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(exc.to_problem(request.url.path))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    listed = listed_errors(exc.errors())
    if any(e["type"] == "json_invalid" for e in listed["errors"]):
        detail = "The request body is not valid JSON"
        body = problem(400, "malformed_json", "Malformed JSON", detail, request.url.path, **listed)
    else:
        detail = _summary(listed["errors"], listed["errorCount"])
        body = problem(422, "validation_failed", "Validation failed", detail, request.url.path, **listed)
    return problem_response(body)


def _summary(errors: list[dict[str, Any]], count: int) -> str:
    first = errors[0] if errors else {"loc": [], "msg": "invalid input"}
    where = ".".join(str(p) for p in first["loc"])
    more = f" (and {count - 1} more)" if count > 1 else ""
    return f"{where}: {first['msg']}{more}"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code, title = HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(methods_at(request.app, request.scope))
    return problem_response(problem(exc.status_code, code, title, detail, request.url.path), headers=headers)


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    return _conflict(request.url.path, exc)


def _conflict(path: str, exc: Exception) -> JSONResponse:
    log.info("integrity error on %s: %s", path, exc)
    return problem_response(
        problem(
            409,
            "conflict",
            "Conflict",
            "The change conflicts with existing data (a duplicate key or a missing reference)",
            path,
        )
    )


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return database_problem(request.url.path, exc, retry_after(request.app))


def client_data_error(exc: BaseException) -> AppError | None:
    """The client's mistake behind a database error, when it is one: a value past its column
    (PostgreSQL), a sum past SQLite's 64-bit integers. A 422 that must not be retried, not a 503."""
    orig = getattr(exc, "orig", None)
    state = getattr(orig, "sqlstate", None)
    # Quantities are BIGINT millionths: "bigint out of range" (a total), "value … is out of range
    # for type bigint" (a sum bound as a parameter).
    if state == "22003" and "bigint" in str(orig):
        return QuantityOverflow(TOTAL_OVERFLOW)
    if isinstance(state, str) and state in CLIENT_DATA_STATES:
        return ValidationFailed(f"The request does not fit the database: {CLIENT_DATA_STATES[state]}")
    if isinstance(exc, OperationalError) and str(orig) == "integer overflow":  # SQLite's SUM()
        return QuantityOverflow(SQLITE_OVERFLOW)
    overflow = orig if isinstance(orig, OverflowError) else exc
    if isinstance(overflow, OverflowError) and "SQLite INTEGER" in str(overflow):  # bound by sqlite3
        return QuantityOverflow(SQLITE_OVERFLOW)
    return None


def retry_after(app: Any) -> dict[str, str]:
    """The Retry-After header of a 503 from `app` (STOCKLEDGER_RETRY_AFTER_SECONDS, read when the
    app was made): the middlewares and the handlers answer the same."""
    return {"Retry-After": str(app.state.settings.retry_after_seconds)}


def unavailable(path: str, exc: Exception, headers: dict[str, str]) -> JSONResponse:
    """503 database_unavailable with Retry-After (`headers`): the database cannot be reached, or
    the request's connection died (nothing of it committed)."""
    # One line: a lost connection is expected (a restart, a failover); its SQL would be kilobytes.
    log.warning("database unavailable on %s: %s", path, describe(exc))
    body = problem(
        503,
        "database_unavailable",
        "Service unavailable",
        "The database cannot be reached; retry shortly",
        path,
    )
    return problem_response(body, headers=headers)


# PostgreSQL ending a transaction for another's sake: deadlock_detected (an operator's ALTER TABLE
# taking its lock among reservations' row locks), serialization_failure. Nothing of it committed.
CONFLICTING_WORK = frozenset({"40P01", "40001"})


def busy(path: str, exc: Exception, headers: dict[str, str]) -> JSONResponse:
    """503 database_busy with Retry-After: every connection of the worker's pool stayed in use
    for the pool's whole wait (30 s; STOCKLEDGER_DB_POOL_SIZE sets how many), or the database
    ended the request's transaction for conflicting work (CONFLICTING_WORK). Nothing of the
    request was committed; the database itself is up."""
    if isinstance(exc, PoolTimeout):
        log.warning("no database connection came free for %s: %s", path, exc)
        detail = "Every database connection stayed busy; nothing was changed; retry shortly"
    else:
        log.warning("database ended %s for conflicting work: %s", path, describe(exc))
        detail = "The database ended the request for conflicting work; nothing was changed; retry shortly"
    return problem_response(
        problem(503, "database_busy", "Service unavailable", detail, path), headers=headers
    )


def schema_changed(path: str, exc: Exception, headers: dict[str, str]) -> JSONResponse:
    """503 schema_changed with Retry-After: the database is up, but a column a prepared statement
    returns changed type under the request (core.prepared_alone.stale_plan; an operator's ALTER
    … TYPE) inside its transaction, which was rolled back. The connection prepares it again."""
    log.warning("schema changed under %s: %s", path, describe(exc))
    detail = "The database's schema changed while the request ran; nothing was changed; retry shortly"
    body = problem(503, "schema_changed", "Service unavailable", detail, path)
    return problem_response(body, headers=headers)


def database_problem(path: str, exc: Exception, headers: dict[str, str]) -> JSONResponse:
    """The answer to a database error: 409 for an integrity error, 422 for the client's data
    (client_data_error), 503 schema_changed for a stale plan, 503 database_busy when no pooled
    connection came free in time or the database ended the transaction for another's sake, else
    503 database_unavailable."""
    if (
        isinstance(exc, PoolTimeout)
        or getattr(getattr(exc, "orig", None), "sqlstate", None) in CONFLICTING_WORK
    ):
        return busy(path, exc, headers)
    if isinstance(exc, IntegrityError):
        return _conflict(path, exc)
    if (refusal := client_data_error(exc)) is not None:
        log.info("database refused the data of %s: %s", path, exc)
        return problem_response(refusal.to_problem(path))
    if stale_plan(getattr(exc, "orig", None)):
        return schema_changed(path, exc, headers)
    return unavailable(path, exc, headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Errors raised in a middleware outside core.disconnects.DatabaseErrorMiddleware skip the
    # handlers above and land here: a database that is down is still a 503, not a 500.
    database = (DBAPIError, PendingRollbackError, PoolTimeout)
    if isinstance(exc, database) or client_data_error(exc) is not None:
        return database_problem(request.url.path, exc, retry_after(request.app))
    log.exception("unexpected error on %s", request.url.path)
    return problem_response(
        problem(
            500,
            "internal_error",
            "Internal error",
            "An unexpected error occurred; nothing was changed",
            request.url.path,
        )
    )


class DatabaseErrorMiddleware:
    """A database error escaping the middlewares inside it becomes the problem+json the route
    handlers give (503 with Retry-After; 409 for an integrity error), unless the answer had
    already started (then it is re-raised, as before)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except ResponseCut as cut:  # one line; no last chunk: the client sees the body is incomplete
            log.warning("%s", cut)
            if not started:
                raise
        except (*LOST, PoolTimeout) as error:
            if started:
                raise
            answer = database_problem(scope.get("path", ""), error, retry_after(scope["app"]))
            await answer(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(DBAPIError, _database_unavailable)
    app.add_exception_handler(PendingRollbackError, _database_unavailable)  # a connection died under it
    app.add_exception_handler(PoolTimeout, _database_unavailable)  # no pooled connection came free
    app.add_exception_handler(Exception, _unexpected)
