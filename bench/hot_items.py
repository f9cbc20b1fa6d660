"""Benchmark: 10 hot items, 32 clients over HTTP, until their stock runs out; pgbench in the same run.

    .venv/bin/python bench/hot_items.py [--workers 2] [--clients 32] [--stock 1000] [--seconds 20]

Creates the database stockledger_bench_hot_items (bench/reserve_service.py's create_database with
20 items), cuts the ATP of the 10 hot ones (P000000…P000009) to `--stock` units each (items and
their receipt rows, so verify holds), then:
  * baseline: pgbench, `--clients` clients, the 5-round-trip script of issue 9 on the same 10
    items (its own copy of them, which never runs out: every transaction is a contended success);
  * ours: `stockledger serve --workers N`, wrk with `--clients` connections, POST /v1/reservations
    of 1 unit of a random hot product with a unique orderId, until the stock is gone and after
    (409 insufficient_stock). A warm-up runs first on the 10 other items.
Ours is the rate of successful reservations while the stock lasted (from wrk's start to the last
reservation committed); `RATIO hot_items <ours/pgbench>` (target ≥ 0.20). Then the oversell
check: Σ units reserved == ATP consumed, ≤ the stock, no item below 0 ATP, every 201 answer a
reservation row, verify clean. Prints `OVERSOLD hot_items <units>` (must be 0).
"""

import argparse
import time
from datetime import UTC, datetime

import psycopg
from httpbench import append_results, create_token, load_average, run_wrk, serving
from reserve_http import ledger_check, reserve_lua, server_env
from reserve_service import MICROS, create_database, drop_database, run_pgbench, url

NAME = "stockledger_bench_hot_items"
HOT = 10


def limit_stock(stock: int) -> None:
    """The hot items hold `stock` units each: their totals and their one receipt row, together."""
    micros = stock * MICROS
    hot = [f"I{n:06d}" for n in range(HOT)]
    with psycopg.connect(url(NAME)) as conn:
        conn.execute(
            "UPDATE inventory_item SET quantity_on_hand_total = %s, available_to_promise_total = %s,"
            " accounting_quantity_total = %s WHERE inventory_item_id = ANY(%s)",
            (micros, micros, micros, hot),
        )
        conn.execute(
            "UPDATE inventory_item_detail SET quantity_on_hand_diff = %s, available_to_promise_diff = %s,"
            " accounting_quantity_diff = %s WHERE inventory_item_id = ANY(%s)",
            (micros, micros, micros, hot),
        )


def hot_figures(started: datetime) -> dict[str, float]:
    """Units reserved on the hot items, their ATP consumed and lowest ATP, and when the last one sold."""
    hot = [f"I{n:06d}" for n in range(HOT)]
    with psycopg.connect(url(NAME)) as conn:
        units, last = conn.execute(
            "SELECT coalesce(sum(quantity), 0), max(reserved_datetime) FROM order_item_inventory_reservation"
            " WHERE inventory_item_id = ANY(%s) AND order_id LIKE 'H%%'",
            (hot,),
        ).fetchone() or (0, None)
        lowest, left = conn.execute(
            "SELECT min(available_to_promise_total), sum(available_to_promise_total) FROM inventory_item"
            " WHERE inventory_item_id = ANY(%s)",
            (hot,),
        ).fetchone() or (0, 0)
    selling = (last.replace(tzinfo=UTC) - started).total_seconds() if last else 0.0
    return {
        "units": int(units) // MICROS,
        "lowest_atp": int(lowest) / MICROS,
        "left": int(left) // MICROS,
        "selling_seconds": selling,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2, help="stockledger serve --workers")
    parser.add_argument("--clients", type=int, default=32, help="wrk connections and pgbench clients")
    parser.add_argument("--stock", type=int, default=1000, help="units per hot item")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    create_database(2 * HOT, NAME)
    limit_stock(args.stock)
    try:
        baseline = run_pgbench(args.clients, HOT, args.seconds, NAME)
        simple = run_pgbench(args.clients, HOT, args.seconds, NAME, protocol="simple")
        env = server_env(NAME)
        token = create_token(env, "oms", "hot_items benchmark")
        with serving(env, args.port, args.workers, "--no-access-log") as base:
            warm = run_wrk(base, reserve_lua(token, HOT, "WARM", first=HOT), args.clients, 3)
            started = datetime.now(UTC)
            clock = time.perf_counter()
            result = run_wrk(base, reserve_lua(token, HOT), args.clients, args.seconds)
            elapsed = time.perf_counter() - clock
        figures = hot_figures(started)
        check = ledger_check(NAME)
    finally:
        drop_database(NAME)

    created = result.statuses.get(201, 0)
    refused = result.statuses.get(409, 0)
    others = {s: n for s, n in result.statuses.items() if s not in (201, 409)}
    answered = created + warm.statuses.get(201, 0)
    in_flight = check["rows"] - answered
    stock = HOT * args.stock
    consumed = stock - figures["left"]
    oversold = (
        max(0, figures["units"] - stock) + max(0, consumed - figures["units"]) + max(0, created - consumed)
    )
    ran_out = figures["left"] == 0
    selling = min(figures["selling_seconds"], elapsed) if ran_out else result.seconds
    ours = created / selling if selling > 0 else 0.0
    ratio = ours / baseline
    load = load_average()
    healthy = (
        oversold == 0
        and figures["lowest_atp"] >= 0
        and check["negative_items"] == 0
        and check["mismatches"] == 0
        and check["rows"] == check["units"] == check["atp_consumed"]
        and 0 <= in_flight <= 2 * args.clients
    )
    print(f"pgbench -M prepared (5 round trips, {HOT} items, {args.clients} clients): {baseline:.0f} tps")
    print(f"pgbench -M simple, the baseline before session 7: {simple:.0f} tps, ratio {ours / simple:.3f}")
    print(
        f"POST /v1/reservations on {HOT} items, serve --workers {args.workers},"
        f" wrk {args.clients} connections:"
        f" {created} reserved in {selling:.1f} s ({ours:.0f}/s while stock lasted), {refused} refused 409"
        f" after, other statuses {others or 'none'}; all answers {result.rps:.0f}/s,"
        f" p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"
    )
    print(
        f"stock {stock}: reserved {figures['units']} units, ATP consumed {consumed}, left {figures['left']},"
        f" lowest item ATP {figures['lowest_atp']:g}, {in_flight} in flight when wrk stopped,"
        f" verify {check['mismatches']} mismatches; ledger check {'ok' if healthy else 'FAILED'}; load {load}"
    )
    print(f"OVERSOLD hot_items {oversold}")
    print(f"RATIO hot_items {ratio:.3f}")
    append_results(
        f"\n## hot_items — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"`.venv/bin/python bench/hot_items.py --workers {args.workers} --clients {args.clients}"
        f" --stock {args.stock} --seconds {args.seconds:g}` ({HOT} items × {args.stock} units; PostgreSQL 15"
        f" and the load generator on the same 2-CPU machine; `{result.command}`; load average at the end"
        f" {load})\n\n"
        "| run | tps | p50 ms | p99 ms |\n|---|---|---|---|\n"
        f"| pgbench -M prepared: BEGIN; guarded UPDATE; 2 INSERTs; COMMIT, {HOT} items,"
        f" {args.clients} clients"
        f" | {baseline:.0f} | | |\n"
        f"| pgbench -M simple (before session 7; ratio {ours / simple:.3f}) | {simple:.0f} | | |\n"
        f"| POST /v1/reservations, `serve --workers {args.workers} --no-access-log`, wrk {args.clients}"
        f" connections: successes while stock lasted ({created} in {selling:.1f} s) | {ours:.0f}"
        f" | {result.p50_ms:.1f} | {result.p99_ms:.1f} |\n\n"
        f"RATIO hot_items {ratio:.3f} (target ≥ 0.20). {refused} answers 409 once sold out, other statuses"
        f" {others or 'none'}. Stock {stock}: {figures['units']} units reserved, ATP consumed {consumed},"
        f" lowest item ATP {figures['lowest_atp']:g}; OVERSOLD hot_items {oversold};"
        f" verify {check['mismatches']} mismatches; ledger check {'ok' if healthy else 'FAILED'}\n"
    )
    if not healthy:
        raise SystemExit("hot_items: the ledger check failed")


if __name__ == "__main__":
    main()
