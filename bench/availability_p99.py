"""Benchmark: GET /v1/availability latency through the real HTTP server, 8 concurrent clients.

    .venv/bin/python bench/availability_p99.py [--clients 8] [--seconds 10] [--workers 1] [--port 8765]

Creates the database stockledger_bench_availability, loads the demo seed (`stockledger demo`),
creates a viewer token (`stockledger token create`), starts `stockledger serve --workers N`
and drives it with wrk (`--clients` keep-alive connections, each asking the availability of
the seed products in turn, Authorization header set by the Lua script). Prints
`P99 availability_ms <p99>` (one worker) or `P99 availability_ms_workersN` (issue 19: p99 < 5 ms
on 1 and on 2 workers) and appends to bench/RESULTS.md.

Where the tail goes, printed with it (httpbench.WorkerUse): the connections each worker held
midway (uneven shares queue requests on one worker while the other idles: 6/2 once, before
core/worker_balance.py), each worker's CPU, how long its threads waited runnable for a CPU
(the scheduler's run-queue delay: wrk, PostgreSQL and the workers share 2 CPUs), and how busy
the machine was.
"""

import argparse
import os

import psycopg
from httpbench import (
    append_results,
    create_token,
    load_average,
    run_wrk_watched,
    server_errors,
    serving,
    stockledger,
    warm_up,
)

ADMIN = os.environ.get("STOCKLEDGER_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
NAME = "stockledger_bench_availability"
PRODUCTS = ("FG001", "FG002", "FG003")
FACILITY = "FACILITY_1"

LUA = """
wrk.headers["Authorization"] = "Bearer {token}"
local products = {{{products}}}
local n = 0
function request()
  n = n + 1
  return wrk.format("GET", "/v1/availability?facilityId={facility}&productId=" .. products[n % #products + 1])
end
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1, help="stockledger serve --workers")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--access-log", action="store_true", help="keep uvicorn's line per request")
    parser.add_argument("--database", default=NAME, help="the benchmark's database (dropped at the end)")
    args = parser.parse_args()
    serve_flags = () if args.access_log else ("--no-access-log",)
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {args.database}")
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": ADMIN.rsplit("/", 1)[0] + f"/{args.database}"}
    env.pop("STOCKLEDGER_NATS_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    try:
        stockledger(env, "demo")
        token = create_token(env, "viewer", "availability benchmark")
        lua = LUA.format(token=token, products=",".join(f'"{p}"' for p in PRODUCTS), facility=FACILITY)
        with serving(env, args.port, args.workers, *serve_flags) as base:
            headers = {"Authorization": f"Bearer {token}"}
            warm_up(base, f"/v1/availability?facilityId={FACILITY}&productId={PRODUCTS[0]}", headers)
            result, use = run_wrk_watched(
                f"{base}/v1/availability", lua, args.clients, args.seconds, args.port
            )
        if set(result.statuses) != {200}:
            print(f"server log (tail):\n{server_errors()}")
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")
    bad = sum(n for status, n in result.statuses.items() if status != 200) + result.errors
    load = load_average()
    print(f"GET /v1/availability, {args.clients} connections, serve --workers {args.workers}:")
    print(f"  {result.rps:.0f} req/s, p50 {result.p50_ms:.2f} ms, p90 {result.p90_ms:.2f} ms,")
    print(f"  p99 {result.p99_ms:.2f} ms, max {result.max_ms:.2f} ms, non-200/errors {bad}, load {load}")
    print(f"  statuses {result.statuses}, socket errors {result.errors}, timeouts {result.timeouts}")
    print(f"  {use.line(result.requests)}")
    label = "availability_ms" if args.workers == 1 else f"availability_ms_workers{args.workers}"
    print(f"P99 {label} {result.p99_ms:.2f}")
    append_results(
        f"\n## availability_p99 — {_now()} UTC\n\n"
        f"`.venv/bin/python bench/availability_p99.py --clients {args.clients} --seconds {args.seconds:g}"
        f" --workers {args.workers}{' --access-log' if args.access_log else ''}` (`stockledger serve"
        f" --workers {args.workers} {' '.join(serve_flags)}`, demo seed, PostgreSQL 15"
        f" on the same 2-CPU machine; load `{result.command}`; load average at the end: {load})\n\n"
        "| connections | req/s | p50 ms | p90 ms | p99 ms | max ms | non-200 |\n"
        "|---|---|---|---|---|---|---|\n"
        f"| {args.clients} | {result.rps:.0f} | {result.p50_ms:.2f} | {result.p90_ms:.2f}"
        f" | {result.p99_ms:.2f} | {result.max_ms:.2f} | {bad} |\n\n"
        f"{use.line(result.requests)}\n\n"
        f"P99 {label} {result.p99_ms:.2f} (target < 5 ms)\n"
    )


def _now() -> str:
    from datetime import UTC, datetime

    return f"{datetime.now(UTC):%Y-%m-%d %H:%M}"


if __name__ == "__main__":
    main()
