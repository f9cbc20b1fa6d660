"""Refusals of a page request answered as a page, not as problem+json.

A 403 (a stale form token, a facility the token may not touch) keeps its status and shows the staff
message in the page. Under htmx the answer also names where it goes (the page's <main>, the whole of
it), since the form's own target (`#product-main`) is not in an error page.
"""

from collections.abc import Awaitable, Callable
from typing import cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from stockledger.auth.rules import Principal
from stockledger.web.csrf import PageRefused
from stockledger.web.templating import render

TITLES = {403: "Not allowed", 404: "Not found"}
NOT_FOUND = "There is no such page. Check the address, or start again from the facilities."
BAD_ADDRESS = "This address has a value the page cannot use ({}). Start again from the page's own links."
HTMX_WHOLE_PAGE = {"HX-Retarget": "#main", "HX-Reselect": "#main", "HX-Reswap": "outerHTML"}


def error_page(request: Request, principal: Principal | None, status: int, message: str) -> HTMLResponse:
    title = TITLES.get(status, "Cannot show this page")
    response = render(request, "error.html", status, title=title, message=message, principal=principal)
    if request.headers.get("hx-request"):
        response.headers.update(HTMX_WHOLE_PAGE)
    return response


async def _page_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageRefused)
    principal = getattr(request.state, "principal", None)
    return error_page(request, principal, exc.status_code, str(exc.detail))


def is_page(request: Request) -> bool:
    """A staff page's address (not the API's, not a static file's)."""
    path = request.url.path
    return (path == "/ui" or path.startswith("/ui/")) and not path.startswith("/ui/static/")


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _page_or(problem: Handler, status: int) -> Handler:
    """A page's refusal of this status as a page; anything else as the API answers it."""

    async def handler(request: Request, exc: Exception) -> Response:
        refused = status == 422 or (isinstance(exc, HTTPException) and exc.status_code == status)
        if not (refused and is_page(request)):
            return await problem(request, exc)
        principal = getattr(request.state, "principal", None)
        return error_page(request, principal, status, _message(exc))

    return handler


def _message(exc: Exception) -> str:
    if not isinstance(exc, RequestValidationError):
        return NOT_FOUND
    names = [str(e["loc"][-1]) for e in exc.errors() if e.get("loc")]
    return BAD_ADDRESS.format(", ".join(dict.fromkeys(names)) or "a value")


def install(app: FastAPI) -> None:
    app.add_exception_handler(PageRefused, _page_refused)
    handlers = app.exception_handlers
    for kind, status in ((HTTPException, 404), (RequestValidationError, 422)):
        app.add_exception_handler(kind, _page_or(cast(Handler, handlers[kind]), status))
