"""Sign-in for the pages: a token in an HttpOnly cookie, checked on every page like the API's Bearer."""

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stockledger.auth.middleware import COOKIE
from stockledger.auth.rules import Principal, may_call
from stockledger.auth.service import authenticate
from stockledger.core.deps import get_database
from stockledger.web.templating import render

router = APIRouter(prefix="/ui", include_in_schema=False)
LOGIN = "/ui/login"
COOKIE_MAX_AGE = 12 * 3600  # a working day; the token itself stays valid until revoked


def principal_of(request: Request, raw: str | None) -> Principal | None:
    if not raw:
        return None
    with get_database(request).reading() as session:
        return authenticate(session, raw)


def signed_in(request: Request) -> Principal:
    """The principal of the cookie; otherwise off to the sign-in page (htmx: a full-page redirect)."""
    principal = principal_of(request, request.cookies.get(COOKIE))
    if principal is not None:
        return principal
    if request.headers.get("hx-request"):
        raise HTTPException(401, "Sign in first", headers={"HX-Redirect": LOGIN})
    raise HTTPException(303, "Sign in first", headers={"Location": LOGIN})


def same_origin(request: Request) -> None:
    """Refuse a form posted from another site (the cookie is SameSite=Lax; this is the second lock)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, "This form was posted from another site")


Staff = Annotated[Principal, Depends(signed_in)]


def may(principal: Principal, method: str, api_path: str) -> bool:
    """Whether the role may use a form: the same rule as the equivalent API call."""
    return may_call(principal.role, method, api_path)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return render(request, "login.html", title="Sign in", errors={}, principal=None)


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(same_origin)])
def login(request: Request, token: Annotated[str, Form()] = "") -> Response:
    raw = token.strip()
    principal = principal_of(request, raw) if raw else None
    if principal is None:
        message = "This token is not valid or has been revoked." if raw else "Enter your token."
        return render(request, "login.html", 422, title="Sign in", errors={"token": message}, principal=None)
    response = RedirectResponse("/ui", status_code=303)
    response.set_cookie(
        COOKIE,
        raw,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", dependencies=[Depends(same_origin)])
def logout() -> Response:
    response = RedirectResponse(LOGIN, status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
