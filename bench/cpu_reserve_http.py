"""CPU per POST /v1/reservations of a serve worker, two source trees alternating in one run.

    .venv/bin/python bench/cpu_reserve_http.py --base /path/to/old/src --pairs 5 --seconds 8

Robust on a loaded machine: what a worker spends (utime + stime from /proc, all workers summed)
divided by the requests wrk got answered, not the throughput; and the same of the PostgreSQL
backends connected to the benchmark's database (the other half of a request's CPU). Each round:
a fresh server on the same database (bench/reserve_service.py's create_database), wrk with
reserve_http's script, the worker processes' CPU before and after. The sides alternate which runs
first in each pair (ABBA). `--base` runs the server with PYTHONPATH set to an older
`src` (e.g. `git archive HEAD src | tar -x -C /tmp/base`); the other side is this tree.
"""

import argparse
import os
import statistics
import subprocess
from pathlib import Path

import psycopg
from httpbench import create_token, run_wrk, serving
from reserve_http import reserve_lua, server_env
from reserve_service import create_database, drop_database, url

NAME = "stockledger_bench_cpu_reserve_http"
TICKS = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of `pids`; a process gone meanwhile counts nothing (a pool may close an idle
    backend during a round: with STOCKLEDGER_DB_POOL_SIZE=2 one did, and the bench stopped)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def server_pid(port: int) -> int:
    out = subprocess.run(["pgrep", "-f", f"serve --port {port} "], capture_output=True, text=True).stdout
    return min(int(x) for x in out.split())


def backends(name: str) -> list[int]:
    """The PostgreSQL backends connected to database `name` (the server's pool), but this one."""
    with psycopg.connect(url(name)) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name]
        ).fetchall()
    return [int(row[0]) for row in rows]


def one_round(env: dict[str, str], args: argparse.Namespace, prefix: str) -> tuple[float, float, int]:
    """The workers' CPU, the database backends' CPU (seconds) and the 201s of one measured run."""
    token = create_token(env, "oms", "cpu bench")
    with serving(env, args.port, args.workers, "--no-access-log") as base:
        workers = children(server_pid(args.port))
        run_wrk(base, reserve_lua(token, args.items, prefix + "W"), args.clients, 2)
        pg = backends(args.database)
        before, pg_before = cpu_seconds(workers), cpu_seconds(pg)
        result = run_wrk(base, reserve_lua(token, args.items, prefix), args.clients, args.seconds)
        spent, pg_spent = cpu_seconds(workers) - before, cpu_seconds(pg) - pg_before
    return spent, pg_spent, result.statuses.get(201, 0)


def retried(env: dict[str, str], args: argparse.Namespace, prefix: str) -> tuple[float, float, int]:
    """one_round, tried again once when the server was slow to start (a loaded machine)."""
    try:
        return one_round(env, args, prefix)
    except RuntimeError as exc:
        print(f"round {prefix} failed ({exc}); again")
        return one_round(env, args, prefix + "again-")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="the older tree's src directory")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--port", type=int, default=28457)
    parser.add_argument("--database", default=NAME, help="the benchmark's database (dropped at the end)")
    args = parser.parse_args()
    create_database(args.items, args.database)
    env_new = server_env(args.database)
    env_old = {**env_new, "PYTHONPATH": str(Path(args.base).resolve())}
    per: dict[str, list[float]] = {"old": [], "new": []}
    per_pg: dict[str, list[float]] = {"old": [], "new": []}
    try:
        for n in range(args.pairs):
            # ABBA: the side that runs first alternates, so a load that drifts favours neither
            sides = [("old", env_old), ("new", env_new)]
            for side, env in sides if n % 2 == 0 else sides[::-1]:
                spent, pg_spent, created = retried(env, args, f"{side}{n}-")
                per[side].append(spent / max(created, 1) * 1e6)
                per_pg[side].append(pg_spent / max(created, 1) * 1e6)
                cost, pg_cost = per[side][-1], per_pg[side][-1]
                print(
                    f"pair {n} {side}: {created} created, {spent:.2f} s CPU, {cost:.0f} µs/request; "
                    f"PostgreSQL {pg_spent:.2f} s, {pg_cost:.0f} µs/request"
                )
    finally:
        drop_database(args.database)
    for side, values in per.items():
        each = ", ".join(f"{v:.0f}" for v in values)
        pg_median = statistics.median(per_pg[side])
        print(
            f"{side}: median {statistics.median(values):.0f} µs/request ({each}); "
            f"PostgreSQL median {pg_median:.0f} µs/request"
        )
    ratios = [new / old for old, new in zip(per["old"], per["new"], strict=True)]
    each = ", ".join(f"{r:.3f}" for r in ratios)
    print(f"new/old per pair: {each}; median {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
