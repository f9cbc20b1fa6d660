"""JSON bodies read with exact numbers: a quantity of 1.0000000000000000000000001 reaches validation
as that Decimal (and is refused: more than 6 decimals), not as the float 1.0 it would round to."""

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class ExactJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal)
        return self._json


class ExactJsonRoute(APIRoute):
    """The route class of routers that take JSON bodies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handle(ExactJsonRequest(request.scope, request.receive))

        return exact
