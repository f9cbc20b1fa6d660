"""Which routes take a request: for the Allow header of a 405, and so a write no route takes
claims no Idempotency-Key (it is answered 404 or 405 as without one)."""

from typing import Any

from starlette.routing import Match
from starlette.types import Scope

METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def is_routed(app: Any, scope: Scope) -> bool:
    """Whether a route of `app` takes this method at this path."""
    return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)


def methods_at(app: Any, scope: Scope) -> list[str]:
    """Every method some route of `app` takes at this path (Starlette's 405 names the first
    route's only: GET /v1/facilities/{id} and PATCH /v1/facilities/{id} are two routes)."""
    return [method for method in METHODS if is_routed(app, {**scope, "method": method})]
