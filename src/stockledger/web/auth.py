"""Sign-in for the pages: a token in an HttpOnly cookie, checked on every page like the API's Bearer."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stockledger.auth.middleware import COOKIE
from stockledger.auth.rules import Principal, may_call
from stockledger.auth.service import authenticate
from stockledger.core.deps import get_database
from stockledger.web.csrf import csrf_protected, login_protected, with_login_token
from stockledger.web.templating import render

router = APIRouter(prefix="/ui", include_in_schema=False)
LOGIN = "/ui/login"


def principal_of(request: Request, raw: str | None) -> Principal | None:
    if not raw:
        return None
    with get_database(request).reading() as session:
        return authenticate(session, raw)


def signed_in(request: Request) -> Principal:
    """The principal of the cookie; otherwise off to the sign-in page (htmx: a full-page redirect)."""
    principal = principal_of(request, request.cookies.get(COOKIE))
    if principal is not None:
        request.state.principal = principal  # core.deps.write_session binds it to the page's writes
        return principal
    if request.headers.get("hx-request"):
        raise HTTPException(401, "Sign in first", headers={"HX-Redirect": LOGIN})
    raise HTTPException(303, "Sign in first", headers={"Location": LOGIN})


Staff = Annotated[Principal, Depends(signed_in)]


def may(principal: Principal, method: str, api_path: str) -> bool:
    """Whether the role may use a form: the same rule as the equivalent API call."""
    return may_call(principal.role, method, api_path)


def _login_page(request: Request, status: int = 200, errors: dict[str, str] | None = None) -> Response:
    def page(login_csrf: str) -> Response:
        context = {"title": "Sign in", "errors": errors or {}, "principal": None, "login_csrf": login_csrf}
        return render(request, "login.html", status, **context)

    return with_login_token(request, page)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return _login_page(request)


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(login_protected)])
def login(request: Request, token: Annotated[str, Form()] = "") -> Response:
    raw = token.strip()
    principal = principal_of(request, raw) if raw else None
    if principal is None:
        message = "This token is not valid or has been revoked." if raw else "Enter your token."
        return _login_page(request, 422, {"token": message})
    response = RedirectResponse("/ui", status_code=303)
    response.set_cookie(
        COOKIE,
        raw,
        max_age=round(request.app.state.settings.sign_in_hours * 3600),  # the token outlives it
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", dependencies=[Depends(csrf_protected)])
def logout() -> Response:
    response = RedirectResponse(LOGIN, status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
