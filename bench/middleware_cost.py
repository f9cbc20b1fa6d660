"""Benchmark: the CPU cost per request of the ExactNumbers and HeadAsGet middlewares (issue 20).

    .venv/bin/python bench/middleware_cost.py [--calls 10000] [--rounds 3] [--no-record]

One process, SQLite in a temporary file with the demo seed. Two apps from create_app: as built,
and the same with the two middlewares taken out of app.user_middleware. Each round drives
`--calls` POST /v1/reservations (a millionth of FG001, a new order each) and as many
GET /v1/availability through httpx's ASGI transport (no sockets) on each app in turn, and reads
the process's CPU time (time.process_time) per call. Also the middlewares alone: one ASGI call
of each around an app that answers a 400-byte JSON body (100,000 times) and a 1 MB one (1,000
times): their pure cost.
Prints `MIDDLEWARE_US <route> <µs per call>` and appends a table to bench/RESULTS.md.
"""

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from stockledger.app import create_app
from stockledger.auth.service import create_token
from stockledger.catalog.cli import load_documents
from stockledger.catalog.seeds import seed_documents
from stockledger.core import migrate
from stockledger.core.db import Database
from stockledger.core.exact_json import ExactNumbers
from stockledger.core.routing import HeadAsGet

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BODY = json.dumps({"orderId": "O", "items": [{"quantity": 1.5, "itemId": "X" * 40}] * 4}).encode()
LARGE = json.dumps(
    {"items": [{"itemId": f"FG001-INV-{n:06}", "quantity": 1.5} for n in range(20_000)]}
).encode()


async def _drive(app: Any, token: str, calls: int, tag: str) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    spent: dict[str, float] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as client:
        for route, call in _calls(client, tag).items():
            for n in range(50):  # warm-up
                warm = await call(-n - 1)
                assert warm.status_code in (200, 201), warm.text
            start = time.process_time()
            for n in range(calls):
                response = await call(n)
                assert response.status_code in (200, 201), response.text
            spent[route] = (time.process_time() - start) / calls * 1e6
    return spent


def _calls(client: httpx.AsyncClient, tag: str) -> dict[str, Callable[[int], Awaitable[httpx.Response]]]:
    def reserve(n: int) -> Awaitable[httpx.Response]:
        body = {
            "orderId": f"MW-{tag}-{n}",
            "orderItemSeqId": "1",
            "productId": "FG001",
            "facilityId": "FACILITY_1",
            "quantity": 0.000001,
        }
        return client.post("/v1/reservations", json=body)

    def availability(n: int) -> Awaitable[httpx.Response]:
        return client.get("/v1/availability", params={"facilityId": "FACILITY_1", "productId": "FG002"})

    return {"POST /v1/reservations": reserve, "GET /v1/availability": availability}


def _without_middlewares(app: Any) -> Any:
    app.user_middleware = [m for m in app.user_middleware if m.cls not in (ExactNumbers, HeadAsGet)]
    return app


def _answering(body: bytes) -> ASGIApp:
    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return answer


async def _alone(body: bytes, calls: int) -> dict[str, float]:
    """µs per call of each middleware around an app answering `body`, less the bare call's."""

    async def sink(message: Any) -> None:
        return None

    async def nothing() -> Any:
        return {"type": "http.request", "body": b""}

    scope: Scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    answer = _answering(body)
    spent: dict[str, float] = {}
    for name, app in (
        ("bare", answer),
        ("ExactNumbers", ExactNumbers(answer)),
        ("HeadAsGet", HeadAsGet(answer)),
    ):
        start = time.process_time()
        for _ in range(calls):
            await app(scope, nothing, sink)
        spent[name] = (time.process_time() - start) / calls * 1e6
    return {name: us - spent["bare"] for name, us in spent.items() if name != "bare"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        db = Database(url)
        migrate.upgrade(db.engine)
        load_documents(db, seed_documents())
        with db.transaction() as session:
            token = create_token(session, "admin", description="bench").token
        db.dispose()
        apps = {"with": create_app(url), "without": _without_middlewares(create_app(url))}
        rows: list[tuple[int, str, dict[str, float]]] = []
        for round_no in range(1, args.rounds + 1):
            order = (
                list(apps.items()) if round_no % 2 else list(apps.items())[::-1]
            )  # alternate who goes first
            for name, app in order:
                rows.append(
                    (round_no, name, asyncio.run(_drive(app, token, args.calls, f"{name}{round_no}")))
                )
        alone = {
            f"{name} ({label})": us
            for label, body, calls in (("400-byte answer", BODY, 100_000), ("1 MB answer", LARGE, 1_000))
            for name, us in asyncio.run(_alone(body, calls)).items()
        }
    _report(rows, alone, args.calls, not args.no_record)


def _report(
    rows: list[tuple[int, str, dict[str, float]]], alone: dict[str, float], calls: int, record: bool
) -> None:
    routes = list(rows[0][2])
    lines = [
        f"## Session 8: middleware cost — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`.venv/bin/python bench/middleware_cost.py --calls {calls}`: CPU µs per call (time.process_time,"
        " one process, httpx ASGI transport, SQLite), with and without ExactNumbers + HeadAsGet.",
        "",
        "| round | middlewares | " + " | ".join(routes) + " |",
        "|---|---|" + "---|" * len(routes),
    ]
    lines += [
        f"| {r} | {name} | " + " | ".join(f"{spent[k]:.1f}" for k in routes) + " |" for r, name, spent in rows
    ]
    best = {
        name: {k: min(s[k] for _, n, s in rows if n == name) for k in routes} for name in ("with", "without")
    }
    lines.append("")
    for k in routes:
        delta = best["with"][k] - best["without"][k]
        lines.append(f"MIDDLEWARE_US {k.replace(' ', '_')} {delta:.1f} (best with − best without)")
    for name, us in alone.items():
        lines.append(f"MIDDLEWARE_ALONE_US {name}: {us:.2f} (one ASGI call, less the bare app's)")
    text = "\n".join(lines) + "\n"
    print(text)
    if record:
        with RESULTS.open("a", encoding="utf-8") as results:
            results.write("\n" + text)


if __name__ == "__main__":
    main()
