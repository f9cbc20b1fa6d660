"""Which requests reached FastAPI's middleware stack: those the availability fast path
(ledger.fast_availability) did not answer itself."""

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from stockledger.app import StockledgerApp


@contextmanager
def full_stack_requests(client: TestClient) -> Iterator[list[str]]:
    """The `path?query` of every HTTP request the full stack serves inside the block. The app must
    be running (its middleware stack is built at startup)."""
    app: StockledgerApp = client.app  # type: ignore[assignment]
    stack = app.middleware_stack
    assert stack is not None, "the app has not started"
    seen: list[str] = []

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            seen.append(f"{scope['path']}?{scope['query_string'].decode()}")
        await stack(scope, receive, send)

    app.middleware_stack = recording
    try:
        yield seen
    finally:
        app.middleware_stack = stack
