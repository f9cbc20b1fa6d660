"""Refusals of a page request answered as a page, not as problem+json.

A 403 (a stale form token, a facility the token may not touch) keeps its status and shows the staff
message in the page. Under htmx the answer also names where it goes (the page's <main>, the whole of
it), since the form's own target (`#product-main`) is not in an error page.
"""

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from stockledger.auth.rules import Principal
from stockledger.web.csrf import PageRefused
from stockledger.web.templating import render

TITLES = {403: "Not allowed", 404: "Not found"}
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


def install(app: FastAPI) -> None:
    app.add_exception_handler(PageRefused, _page_refused)
