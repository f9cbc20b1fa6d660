"""Benchmark: single-unit reservations over HTTP, against pgbench in the same run.

    .venv/bin/python bench/reserve_http.py [--workers 2] [--clients 8] [--items 10000] [--seconds 20]
    .venv/bin/python bench/reserve_http.py --load api --clients 8 16   # issue 19's target 3

Creates the database `--database` (default stockledger_bench_reserve_http): with `--load sql`
(the default) bench/reserve_service.py's create_database (1 facility, `--items` products with one item each
holding plenty of ATP, by raw SQL); with `--load api` the way a user loads it, right before the
measure: `serve` up, POST /v1/import of the facility's products (documents of 5,000), then one
ERP reset (POST /v1/external-inventory-resets, CSV) giving each its stock. Then, for each
`--clients` count (a fresh database each), the two below alternating in `--rounds` pairs
(bench/rounds.py: ours first, right after the load; `--seconds` split among each side's rounds;
the RATIO is the median of the pairs' ratios), and pgbench -M simple once for history:
  * baseline: pgbench with `--clients` clients running the 5-round-trip script of issue 9
    (reserve_service.PGBENCH_SCRIPT: BEGIN; guarded UPDATE; 2 INSERTs; COMMIT);
  * ours: `stockledger serve --workers N` on that database, driven by wrk with `--clients`
    keep-alive connections: POST /v1/reservations of 1 unit of a random product, a unique
    orderId per request (thread id + counter), with an `oms` token.
Prints `RATIO reserve_http <ours/pgbench>` (target ≥ 0.35) and the slowest request (wrk's max
latency; `LIMIT ok` when ≤ 1 s), then checks the ledger: verify clean,
one reservation row per 201 answer, ATP consumed == units reserved. Appends to bench/RESULTS.md.
"""

import argparse
import os
import statistics
import time
from datetime import UTC, datetime

import httpx
import psycopg
from httpbench import (
    WorkerUse,
    WrkResult,
    append_results,
    create_token,
    load_average,
    run_wrk,
    run_wrk_watched,
    serving,
)
from reserve_service import (
    MICROS,
    STOCK,
    count_mismatches,
    create_baseline_tables,
    create_database,
    drop_database,
    new_database,
    run_pgbench,
    url,
)
from rounds import Rounds, alternate, round_seconds

NAME = "stockledger_bench_reserve_http"

# `id` is set per wrk thread by httpbench's setup hook; orderIds are unique across threads and runs.
LUA = """
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
local n = 0
function init(args)
  math.randomseed(os.time() * 100 + id)
end
function request()
  n = n + 1
  local body = string.format(
    '{{"orderId":"{prefix}%d-%d","orderItemSeqId":"00001","productId":"P%06d","facilityId":"F1","quantity":1}}',
    id, n, math.random({first}, {last}))
  return wrk.format(nil, "/v1/reservations", nil, body)
end
"""


def reserve_lua(token: str, items: int, prefix: str = "H", first: int = 0) -> str:
    """wrk's script: 1 unit of a random one of products P{first}…P{first + items - 1} per request."""
    return LUA.format(token=token, first=first, last=first + items - 1, prefix=prefix)


def ledger_check(name: str) -> dict[str, int]:
    """What the runs left: reservation rows and their units, ATP consumed by ledger rows other than
    the initial receipts, items below zero ATP, and verify's mismatches."""
    with psycopg.connect(url(name)) as conn:
        rows, units = conn.execute(
            "SELECT count(*), coalesce(sum(quantity), 0) FROM order_item_inventory_reservation"
        ).fetchone() or (0, 0)
        consumed, negative = conn.execute(
            "SELECT coalesce(sum(d.atp), 0), count(*) FILTER (WHERE i.available_to_promise_total < 0)"
            " FROM inventory_item i JOIN LATERAL (SELECT -sum(available_to_promise_diff) AS atp"
            "  FROM inventory_item_detail x WHERE x.facility_id = i.facility_id"
            "  AND x.inventory_item_id = i.inventory_item_id"
            "  AND x.reason_enum_id NOT IN ('INV_RECEIPT', 'VAR_EXT_RESET')) d ON true"
        ).fetchone() or (0, 0)
    return {
        "rows": int(rows),
        "units": int(units) // MICROS,
        "atp_consumed": int(consumed) // MICROS,
        "negative_items": int(negative),
        "mismatches": count_mismatches(name),
    }


def server_env(name: str) -> dict[str, str]:
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": url(name)}
    env.pop("STOCKLEDGER_NATS_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


IMPORT_CHUNK = 5_000  # products per POST /v1/import document (its bound: 50,000 records)
SLOWEST_LIMIT_MS = 1_000.0  # issue 19: no request over 1 s


def load_through_api(base: str, token: str, items: int) -> str:
    """Products P000000… of facility F1 by POST /v1/import, then one ERP reset (CSV) giving each
    STOCK units; how long each step took."""
    started = time.monotonic()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:
        for first in range(0, items, IMPORT_CHUNK):
            products = [{"productId": f"P{n:06d}"} for n in range(first, min(first + IMPORT_CHUNK, items))]
            document = {"facilityId": "F1", "costingMethodId": "FIFO", "products": products}
            client.post("/v1/import", json=document).raise_for_status()
        imported = time.monotonic()
        lines = "".join(f"F1,P{n:06d},{STOCK},\n" for n in range(items))
        csv = "facilityId,productId,quantityOnHand,availableToPromise\n" + lines
        answer = client.post(
            "/v1/external-inventory-resets", content=csv, headers={"Content-Type": "text/csv"}
        )
        answer.raise_for_status()
    assert answer.json()["linesChanged"] == items, answer.text
    return f"import {imported - started:.1f} s, reset {time.monotonic() - imported:.1f} s"


def run_once(args: argparse.Namespace, clients: int, each: int) -> None:
    """One measure at `clients` connections on a fresh database; its report."""
    name = args.database
    loaded = "raw SQL"
    if args.load == "sql":
        create_database(args.items, name)
    else:
        new_database(name)
    try:
        env = server_env(name)
        token = create_token(env, "oms", "reserve_http benchmark")
        with serving(env, args.port, args.workers, "--no-access-log") as base:
            if args.load == "api":
                loaded = "the API: " + load_through_api(base, create_token(env, "admin", "load"), args.items)
                with psycopg.connect(url(name)) as conn:
                    create_baseline_tables(conn)
            # Warm-up: every worker compiles its statements before the clock starts.
            warm = run_wrk(base, reserve_lua(token, args.items, "WARM"), clients, 3)
            runs: list[tuple[WrkResult, WorkerUse]] = []

            def ours() -> float:  # a prefix per round keeps the orderIds of the rounds apart
                lua = reserve_lua(token, args.items, f"H{len(runs)}-")
                runs.append(run_wrk_watched(base, lua, clients, each, args.port))
                result = runs[-1][0]
                return result.statuses.get(201, 0) / result.seconds

            # Ours first, right after the load; pgbench between ours' rounds (serve idle meanwhile).
            measured = alternate(args.rounds, ours, lambda: run_pgbench(clients, args.items, each, name))
        simple = run_pgbench(clients, args.items, each, name, protocol="simple")
        check = ledger_check(name)
    finally:
        drop_database(name)
    print(f"loaded through {loaded}")
    report(args, clients, each, measured, simple, warm, runs, check)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2, help="stockledger serve --workers")
    parser.add_argument(
        "--clients", type=int, nargs="+", default=[8], help="wrk connections and pgbench clients (each a run)"
    )
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument(
        "--load", choices=["sql", "api"], default="sql", help="raw SQL, or import + reset through the API"
    )
    parser.add_argument("--database", default=NAME, help="the benchmark's database (dropped at the end)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="pairs of wrk and pgbench, alternating (bench/rounds.py), --seconds split among them",
    )
    args = parser.parse_args()
    each = round_seconds(parser, args.seconds, args.rounds)
    for clients in args.clients:
        run_once(args, clients, each)


def report(
    args: argparse.Namespace,
    clients: int,
    each: int,
    measured: Rounds,
    simple: float,
    warm: WrkResult,
    runs: list[tuple[WrkResult, WorkerUse]],
    check: dict[str, int],
) -> None:
    baseline = statistics.median(measured.baseline)  # pgbench -M prepared, the median round
    ours = statistics.median(measured.ours)
    results = [result for result, _ in runs]
    created = sum(r.statuses.get(201, 0) for r in results)
    answered = created + warm.statuses.get(201, 0)  # the ledger holds the warm-up's too
    others: dict[int, int] = {}
    for r in results:
        for status, n in r.statuses.items():
            if status != 201:
                others[status] = others.get(status, 0) + n
    socket_errors = sum(r.errors for r in results) - sum(others.values())
    p50 = statistics.median(r.p50_ms for r in results)
    p99 = max(r.p99_ms for r in results)  # the worst round's
    slowest_ms = max(r.max_ms for r in results)
    use = _summed([u for _, u in runs])
    requests = sum(r.requests for r in results)
    ratio = measured.ratio
    load = load_average()
    # wrk stops its clock with requests in flight: the server still commits them (≤ 1 per
    # connection per wrk run), so the ledger may hold a few more than the 201 answers counted.
    in_flight = check["rows"] - answered
    in_flight_most = 2 * clients * len(runs)  # the rounds and the warm-up, ≤ 1 a connection each
    consistent = check["rows"] == check["units"] == check["atp_consumed"] and 0 <= in_flight <= in_flight_most
    print(f"pgbench -M prepared (5 round trips, {clients} clients): {baseline:.0f} tps (median round)")
    print(
        f"pgbench -M simple, the baseline before session 7: {simple:.0f} tps,"
        f" ours' median ÷ it {ours / simple:.3f}"
    )
    print(
        f"POST /v1/reservations, serve --workers {args.workers}, wrk {clients} connections:"
        f" {ours:.0f} reservations/s (median round), p50 {p50:.1f} ms, p99 {p99:.1f} ms (worst round),"
        f" other statuses {others or 'none'}, socket errors {socket_errors}"
    )
    print(measured.line("/s"))
    print(
        f"ledger: {check['rows']} reservation rows, {check['units']} units, ATP consumed"
        f" {check['atp_consumed']}, 201 answers {answered} (warm-up included; {in_flight} in flight at the"
        " ends of the rounds),"
        f" verify {check['mismatches']} mismatches, items below 0: {check['negative_items']}; load {load}"
    )
    print(use.line(requests))
    print(f"ledger check: {'ok' if consistent and check['mismatches'] == 0 else 'FAILED'}")
    slowest = "ok" if slowest_ms <= SLOWEST_LIMIT_MS else "OVER"
    print(f"slowest request {slowest_ms:.0f} ms: LIMIT {slowest} (≤ {SLOWEST_LIMIT_MS:.0f} ms)")
    print(f"RATIO reserve_http {ratio:.3f}")
    append_results(
        f"\n## reserve_http — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"`.venv/bin/python bench/reserve_http.py --workers {args.workers} --clients {clients}"
        f" --load {args.load} --items {args.items} --seconds {args.seconds:g} --rounds {args.rounds}`"
        " (PostgreSQL 15 and the load generator on the"
        f" same 2-CPU machine; `{results[0].command}`; load average at the end {load})\n\n"
        "| run (median round) | tps | p50 ms | p99 ms (worst round) |\n|---|---|---|---|\n"
        f"| pgbench -M prepared: BEGIN; guarded UPDATE; 2 INSERTs; COMMIT, {clients} clients"
        f" | {baseline:.0f} | | |\n"
        f"| pgbench -M simple (before session 7, one round; ours' median ÷ it {ours / simple:.3f})"
        f" | {simple:.0f} | | |\n"
        f"| POST /v1/reservations, `serve --workers {args.workers} --no-access-log`,"
        f" wrk {clients} connections"
        f" | {ours:.0f} | {p50:.1f} | {p99:.1f} |\n\n"
        f"{measured.line('/s')} ({args.rounds} rounds each, {each} s a round).\n\n"
        f"{use.line(requests)}.\n\n"
        f"Slowest request {slowest_ms:.0f} ms (limit 1 s: {slowest}). "
        f"RATIO reserve_http {ratio:.3f} (target ≥ 0.35); other statuses {others or 'none'};"
        f" {check['rows']} reservation rows for {answered} answers 201 (warm-up included, {in_flight} in"
        " flight when the rounds' wrk stopped), ATP consumed == units reserved:"
        f" {'yes' if consistent else 'NO'}; verify: {check['mismatches']} mismatches\n"
    )


def _summed(uses: list[WorkerUse]) -> WorkerUse:
    """The workers' use over all rounds: CPU and run-queue waits added, the connections as the
    first round held them, the machine's busy share averaged."""
    return WorkerUse(
        connections=uses[0].connections,
        cpu_ms=[sum(ms) for ms in zip(*(u.cpu_ms for u in uses), strict=True)],
        queued_ms=[sum(ms) for ms in zip(*(u.queued_ms for u in uses), strict=True)],
        machine_busy=statistics.fmean(u.machine_busy for u in uses),
    )


if __name__ == "__main__":
    main()
