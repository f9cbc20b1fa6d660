"""Benchmark: reservations over HTTP on the Citus cluster against one PostgreSQL, in the same run.

    .venv/bin/python bench/citus_reserve_http.py [--workers 2] [--clients 8] [--items 2500] [--seconds 20]

Needs the cluster of scripts/citus.sh running (coordinator and 2 workers: 3 nodes). On each
backend: the database stockledger_bench_citus_reserve (4 facilities, half on each worker of the
cluster; `--items` products, one item of each in each facility with plenty of ATP), `stockledger
serve --workers N` on it, and wrk with `--clients` keep-alive connections sending POST
/v1/reservations of 1 unit of a random product in a random facility (a unique orderId each),
after a 3 s warm-up. Prints reservations/s on each, `RATIO citus_reserve_http
<citus/postgresql>`, and for sizing the CPU each node spent per reservation (ms; every node's
postmaster and backends, from /proc). Checks the ledger (verify clean, one reservation row per
201 answer) and appends to bench/RESULTS.md.
"""

import argparse
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from citusbench import (
    MICROS,
    Backend,
    add_facilities_and_products,
    citus,
    cpu_delta,
    create_database,
    drop_database,
    node_cpu,
    plain,
    spread_facilities,
)
from httpbench import CLI, WrkResult, append_results, create_token, load_average, run_wrk, serving
from sqlalchemy import text

from stockledger.core.db import Database
from stockledger.events.outbox import record_event

NAME = "stockledger_bench_citus_reserve"
FACILITIES = 4
STOCK = 1_000_000  # units per item: no reservation is refused during the run

LUA = """
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
local n = 0
local facilities = {{{facilities}}}
function init(args)
  math.randomseed(os.time() * 100 + id)
end
function request()
  n = n + 1
  local body = string.format(
    '{{"orderId":"{prefix}%d-%d","orderItemSeqId":"00001","productId":"P%06d","facilityId":"%s","quantity":1}}',
    id, n, math.random(0, {last}), facilities[math.random(1, #facilities)])
  return wrk.format(nil, "/v1/reservations", nil, body)
end
"""


def reserve_lua(token: str, items: int, facilities: list[str], prefix: str) -> str:
    """wrk's script: 1 unit of a random product in a random one of `facilities` per request."""
    quoted = ",".join(f'"{f}"' for f in facilities)
    return LUA.format(token=token, last=items - 1, facilities=quoted, prefix=prefix)


@dataclass
class Run:
    backend: Backend
    result: WrkResult
    cpu: dict[str, float]  # CPU seconds per node during the measured run
    rows: int  # reservation rows in the ledger at the end (warm-up included)
    answered: int  # 201 answers, warm-up included
    verify: str

    @property
    def rps(self) -> float:
        return self.result.statuses.get(201, 0) / self.result.seconds

    def cpu_ms(self) -> dict[str, float]:
        created = max(1, self.result.statuses.get(201, 0))
        return {node: 1000 * seconds / created for node, seconds in self.cpu.items()}


def stock(url: str, facilities: list[str], items: int) -> None:
    """One item of every product in every facility, with its receipt row, set-based."""
    add_facilities_and_products(url, facilities, items)
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO inventory_item (facility_id, inventory_item_id, inventory_item_type_id, product_id,"
            " status_id, datetime_received, quantity_on_hand_total, available_to_promise_total,"
            " accounting_quantity_total, last_detail_seq, created_stamp) "
            "SELECT f.facility_id, f.facility_id || '-' || p.product_id, 'NON_SERIAL_INV_ITEM', p.product_id,"
            " 'INV_AVAILABLE', now(), %(q)s, %(q)s, %(q)s, 1, now() FROM facility f CROSS JOIN product p",
            {"q": STOCK * MICROS},
        )
        conn.execute(
            "INSERT INTO inventory_item_detail (facility_id, inventory_item_id, inventory_item_detail_seq_id,"
            " seq_num, effective_date, quantity_on_hand_diff, available_to_promise_diff,"
            " accounting_quantity_diff, reason_enum_id, created_stamp) "
            "SELECT facility_id, inventory_item_id, '00001', 1, now(), quantity_on_hand_total,"
            " available_to_promise_total, accounting_quantity_total, 'INV_RECEIPT', now() FROM inventory_item"
        )
        conn.execute(
            "INSERT INTO product_facility (facility_id, product_id, inventory_item_id) "
            "SELECT facility_id, product_id, inventory_item_id FROM inventory_item"
        )
    db = Database(url)
    with db.transaction() as session:  # the receipts' events (verify: an event for every ledger row)
        for (facility,) in session.execute(text("SELECT facility_id FROM facility")).all():
            found = session.scalars(
                text("SELECT inventory_item_id FROM inventory_item WHERE facility_id = :f"), {"f": facility}
            )
            record_event(session, facility, "InventoryImported", {"inventoryItemIds": list(found)})
    db.dispose()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def measure(backend: Backend, url: str, facilities: list[str], args: argparse.Namespace) -> Run:
    try:
        stock(url, facilities, args.items)
        env = {**os.environ, "STOCKLEDGER_DATABASE_URL": url}
        env.pop("STOCKLEDGER_NATS_URL", None)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        token = create_token(env, "oms", "citus_reserve_http benchmark")
        with serving(env, args.port, args.workers, "--no-access-log") as base:
            warm = run_wrk(base, reserve_lua(token, args.items, facilities, "W"), args.clients, 3)
            before = node_cpu(backend)
            result = run_wrk(
                base, reserve_lua(token, args.items, facilities, "H"), args.clients, args.seconds
            )
            spent = cpu_delta(before, node_cpu(backend))
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM order_item_inventory_reservation").fetchone()
        checked = subprocess.run([CLI, "verify"], env=env, capture_output=True, text=True)
        verified = "clean" if checked.returncode == 0 else "NOT CLEAN: " + checked.stdout[-300:]
        answered = result.statuses.get(201, 0) + warm.statuses.get(201, 0)
        return Run(backend, result, spent, int(row[0]) if row else 0, answered, verified)
    finally:
        drop_database(backend, NAME)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2, help="stockledger serve --workers")
    parser.add_argument("--clients", type=int, default=8, help="wrk connections")
    parser.add_argument("--items", type=int, default=2500, help="products (one item each per facility)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    cluster, single = citus(), plain()
    cluster_url = create_database(cluster, NAME)
    facilities = spread_facilities(cluster_url, FACILITIES)  # half on each worker
    on_single = measure(single, create_database(single, NAME), facilities, args)
    report(args, [on_single, measure(cluster, cluster_url, facilities, args)])


def report(args: argparse.Namespace, runs: list[Run]) -> None:
    single, cluster = runs
    ratio = cluster.rps / single.rps
    load = load_average()
    lines = []
    for run in runs:
        others = {s: n for s, n in run.result.statuses.items() if s != 201}
        in_flight = run.rows - run.answered  # wrk stops its clock with ≤ 1 request a connection in flight
        ok = 0 <= in_flight <= 2 * args.clients and run.verify == "clean"
        per_node = ", ".join(f"{node} {ms:.2f}" for node, ms in run.cpu_ms().items())
        print(
            f"{run.backend.label}: {run.rps:.0f} reservations/s, p50 {run.result.p50_ms:.1f} ms,"
            f" p99 {run.result.p99_ms:.1f} ms, other statuses {others or 'none'};"
            f" CPU ms per reservation by node: {per_node};"
            f" ledger {'ok' if ok else 'FAILED'} (verify {run.verify})"
        )
        lines.append(
            f"| {run.backend.label} ({len(run.backend.admins)} node(s))"
            f" | {run.rps:.0f} | {run.result.p50_ms:.1f} | {run.result.p99_ms:.1f} | {per_node} |"
            f" {'ok' if ok else 'FAILED'}, other statuses {others or 'none'} |\n"
        )
    print(f"RATIO citus_reserve_http {ratio:.3f}")
    append_results(
        f"\n## citus_reserve_http — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"`.venv/bin/python bench/citus_reserve_http.py --workers {args.workers} --clients {args.clients}"
        f" --items {args.items} --seconds {args.seconds:g}` (PostgreSQL 15 on 5432 and the Citus 13.2.2"
        f" cluster of scripts/citus.sh, `{single.result.command}`, all on the same 2-CPU machine; load"
        f" average at the end {load})\n\n"
        "| backend | reservations/s | p50 ms | p99 ms | CPU ms per reservation, by node | ledger |\n"
        "|---|---|---|---|---|---|\n" + "".join(lines) + f"\nRATIO citus_reserve_http {ratio:.3f}\n"
    )


if __name__ == "__main__":
    main()
