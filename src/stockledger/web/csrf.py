"""Cross-site request forgery: a write made with the sign-in cookie must come from our own pages.

The cookie is SameSite=Lax; besides it, every /ui post (1) must not come from another site: an
`Origin` that is `null` or another host, or `Sec-Fetch-Site: cross-site`, is refused; and
(2) must carry the page's CSRF token, as the `csrf_token` form field or the `X-CSRF-Token`
header (htmx sends it from `hx-headers` on <body>). The token is an HMAC keyed by the sign-in
token: every worker computes the same without shared state, another site cannot compute it
without the cookie, and it reveals nothing about the token. The sign-in form, posted before
there is a cookie, carries a random value that must match a short-lived cookie of its own
(double submit), so another site cannot sign a browser in with its token either.
"""

import hashlib
import hmac
import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response

from stockledger.auth.middleware import COOKIE

FIELD = "csrf_token"
HEADER = "x-csrf-token"
LOGIN_COOKIE = "stockledger_login"
LOGIN_PATH = "/ui/login"


class PageRefused(HTTPException):
    """A page post refused before its route runs: answered as an HTML page (web.page_errors)."""


def csrf_token(raw: str) -> str:
    """The CSRF token of the pages signed in with token `raw`."""
    return hmac.new(raw.encode(), b"stockledger-csrf", hashlib.sha256).hexdigest()


def page_token(request: Request) -> str:
    """The token the page being rendered puts in its forms ("" before sign-in)."""
    raw = request.cookies.get(COOKIE)
    return csrf_token(raw) if raw else ""


def cross_site(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is not None and (origin == "null" or urlsplit(origin).netloc != request.headers.get("host")):
        return True
    return request.headers.get("sec-fetch-site") == "cross-site"


async def _sent(request: Request) -> str:
    sent = request.headers.get(HEADER)
    if not sent:
        value = (await request.form()).get(FIELD)
        sent = value if isinstance(value, str) else ""
    return sent


async def csrf_protected(request: Request) -> None:
    """A signed-in form post: same site, and the CSRF token of its cookie (no cookie: the
    route's sign-in check answers)."""
    if cross_site(request):
        raise PageRefused(403, "This form was posted from another site")
    raw = request.cookies.get(COOKIE)
    if raw and not hmac.compare_digest(await _sent(request), csrf_token(raw)):
        raise PageRefused(403, "This form has expired: reload the page and send it again")


def with_login_token(request: Request, render_page: Callable[[str], Response]) -> Response:
    """The sign-in page rendered with its form token (the cookie's, else a fresh one), and the cookie."""
    value = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render_page(value)
    lifetime = request.app.state.settings.form_token_seconds
    response.set_cookie(
        LOGIN_COOKIE, value, max_age=lifetime, httponly=True, samesite="strict", path=LOGIN_PATH
    )
    return response


async def login_protected(request: Request) -> None:
    """The sign-in post: same site, and the value of the sign-in page's own cookie."""
    if cross_site(request):
        raise PageRefused(403, "This form was posted from another site")
    expected = request.cookies.get(LOGIN_COOKIE)
    if not expected or not hmac.compare_digest(await _sent(request), expected):
        raise PageRefused(403, "This sign-in form has expired: reload the page and sign in again")
