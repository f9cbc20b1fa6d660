"""Benchmark: `stockledger reset` of 100,000 lines over 4 facilities on the Citus cluster against
one PostgreSQL, in the same run.

    .venv/bin/python bench/citus_reset.py [--lines 100000] [--facilities 4]

Needs the cluster of scripts/citus.sh running (coordinator and 2 workers: 3 nodes). The
facilities are chosen so that their shards alternate between the workers. On each backend: the
database stockledger_bench_citus_reset with the facilities and products, then the CLI as a
subprocess twice (bench/reset_1m.py's files): an initial load (creates every facility item),
then a sync that changes every line (half by quantityOnHand, half by availableToPromise). Each
file is one transaction; on Citus one distributed transaction over both workers (two-phase
commit). Measures the wall time of each and the CPU each node spent (every node's postmaster
and backends, from /proc) and the CLI itself. Prints `RATIO citus_reset <postgresql seconds /
citus seconds>` for the sync, checks both backends hold the same totals and verify is clean,
and appends to bench/RESULTS.md.
"""

import argparse
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from citusbench import (
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
from httpbench import CLI, append_results, load_average
from reset_1m import HEADER

NAME = "stockledger_bench_citus_reset"


@dataclass
class Run:
    backend: Backend
    seconds: dict[str, float] = field(default_factory=dict)  # "initial", "sync"
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)  # file → node (or "CLI") → CPU s
    totals: tuple[int, int] = (0, 0)  # Σ QOH, Σ ATP (millionths) at the end
    verify: str = ""


def write_csv(path: Path, facilities: list[str], products: int, sync: bool) -> None:
    """bench/reset_1m.py's files, for these facilities: the initial load sets QOH; the sync
    changes every line, half by quantityOnHand, half by availableToPromise."""
    with path.open("w") as f:
        f.write(HEADER)
        for k, facility in enumerate(facilities, 1):
            for n in range(products):
                qty = (n * 7 + k) % 500 + 1
                if not sync:
                    f.write(f"{facility},P{n:06d},{qty},\n")
                elif n % 2:
                    f.write(f"{facility},P{n:06d},{qty + 3},\n")
                else:
                    f.write(f"{facility},P{n:06d},,{qty - 1}\n")


def reset(backend: Backend, url: str, csv: Path) -> tuple[float, dict[str, float]]:
    """Wall seconds of one `stockledger reset` child, and the CPU seconds of each node and of the
    CLI itself meanwhile."""
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": url}
    env.pop("STOCKLEDGER_NATS_URL", None)
    before = node_cpu(backend)
    started = time.perf_counter()
    child = subprocess.Popen(
        [CLI, "reset", str(csv)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"stockledger reset failed on {backend.label}:\n{output.decode()}")
    return wall, {**cpu_delta(before, node_cpu(backend)), "CLI": usage.ru_utime + usage.ru_stime}


def measure(backend: Backend, url: str, facilities: list[str], products: int, files: dict[str, Path]) -> Run:
    run = Run(backend)
    try:
        add_facilities_and_products(url, facilities, products)
        for kind, csv in files.items():
            run.seconds[kind], run.cpu[kind] = reset(backend, url, csv)
            print(f"{backend.label} {kind}: {run.seconds[kind]:.1f} s, CPU {_cpu(run.cpu[kind])}")
            if kind == "initial":
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("VACUUM ANALYZE")  # as autovacuum would have before the next sync
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT sum(quantity_on_hand_total), sum(available_to_promise_total) FROM inventory_item"
            ).fetchone()
        run.totals = (int(row[0]), int(row[1])) if row else (0, 0)
        env = {**os.environ, "STOCKLEDGER_DATABASE_URL": url}
        checked = subprocess.run([CLI, "verify"], env=env, capture_output=True, text=True)
        run.verify = "clean" if checked.returncode == 0 else "NOT CLEAN: " + checked.stdout[-300:]
    finally:
        drop_database(backend, NAME)
    return run


def _cpu(spent: dict[str, float]) -> str:
    return ", ".join(f"{node} {seconds:.1f} s" for node, seconds in spent.items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--facilities", type=int, default=4)
    args = parser.parse_args()
    products = args.lines // args.facilities
    cluster, single = citus(), plain()
    cluster_url = create_database(cluster, NAME)
    facilities = spread_facilities(cluster_url, args.facilities)
    print(f"facilities {', '.join(facilities)}: on alternate workers of the cluster")
    with tempfile.TemporaryDirectory() as tmp:
        files = {"initial": Path(tmp) / "initial.csv", "sync": Path(tmp) / "sync.csv"}
        write_csv(files["initial"], facilities, products, sync=False)
        write_csv(files["sync"], facilities, products, sync=True)
        on_cluster = measure(cluster, cluster_url, facilities, products, files)
        on_single = measure(single, create_database(single, NAME), facilities, products, files)
    report(args, products * args.facilities, [on_single, on_cluster])


def report(args: argparse.Namespace, lines: int, runs: list[Run]) -> None:
    single, cluster = runs
    ratio = single.seconds["sync"] / cluster.seconds["sync"]
    same = single.totals == cluster.totals
    print(f"same totals on both: {'yes' if same else 'NO'}; verify: {single.verify}, {cluster.verify}")
    print(f"RATIO citus_reset {ratio:.3f}")
    rows = "".join(
        f"| {run.backend.label} ({len(run.backend.admins)} node(s)) | {kind} | {run.seconds[kind]:.1f}"
        f" | {lines / run.seconds[kind]:,.0f} | {_cpu(run.cpu[kind])} |\n"
        for run in runs
        for kind in ("initial", "sync")
    )
    append_results(
        f"\n## citus_reset — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"`.venv/bin/python bench/citus_reset.py --lines {args.lines} --facilities {args.facilities}`"
        f" ({lines:,} lines over {args.facilities} facilities, half on each worker; PostgreSQL 15 on"
        " 5432 and the Citus 13.2.2 cluster of scripts/citus.sh on the same 2-CPU machine; load"
        f" average at the end {load_average()})\n\n"
        "| backend | reset | wall s | lines/s | CPU by node and of the CLI |\n|---|---|---|---|---|\n"
        + rows
        + f"\nRATIO citus_reset {ratio:.3f} (sync: PostgreSQL seconds / Citus seconds); same totals on"
        f" both: {'yes' if same else 'NO'}; verify: {single.verify} / {cluster.verify}\n"
    )


if __name__ == "__main__":
    main()
