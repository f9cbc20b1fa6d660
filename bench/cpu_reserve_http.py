"""CPU per POST /v1/reservations of a serve worker, two source trees alternating in one run.

    .venv/bin/python bench/cpu_reserve_http.py --base /path/to/old/src --pairs 5 --seconds 8

Robust on a loaded machine: what a worker spends (utime + stime from /proc, all workers summed)
divided by the requests wrk got answered, not the throughput. Each round: a fresh server on the
same database (bench/reserve_service.py's create_database), wrk with reserve_http's script, the
worker processes' CPU before and after. `--base` runs the server with PYTHONPATH set to an older
`src` (e.g. `git archive HEAD src | tar -x -C /tmp/base`); the other side is this tree.
"""

import argparse
import os
import statistics
import subprocess
from pathlib import Path

from httpbench import create_token, run_wrk, serving
from reserve_http import reserve_lua, server_env
from reserve_service import create_database, drop_database

NAME = "stockledger_bench_cpu_reserve_http"
TICKS = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def server_pid(port: int) -> int:
    out = subprocess.run(["pgrep", "-f", f"serve --port {port} "], capture_output=True, text=True).stdout
    return min(int(x) for x in out.split())


def one_round(env: dict[str, str], args: argparse.Namespace, prefix: str) -> tuple[float, int]:
    token = create_token(env, "oms", "cpu bench")
    with serving(env, args.port, args.workers, "--no-access-log") as base:
        workers = children(server_pid(args.port))
        run_wrk(base, reserve_lua(token, args.items, prefix + "W"), args.clients, 2)
        before = cpu_seconds(workers)
        result = run_wrk(base, reserve_lua(token, args.items, prefix), args.clients, args.seconds)
        spent = cpu_seconds(workers) - before
    return spent, result.statuses.get(201, 0)


def retried(env: dict[str, str], args: argparse.Namespace, prefix: str) -> tuple[float, int]:
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
    try:
        for n in range(args.pairs):
            for side, env in (("old", env_old), ("new", env_new)):
                spent, created = retried(env, args, f"{side}{n}-")
                per[side].append(spent / max(created, 1) * 1e6)
                cost = per[side][-1]
                print(f"pair {n} {side}: {created} created, {spent:.2f} s CPU, {cost:.0f} µs/request")
    finally:
        drop_database(args.database)
    for side, values in per.items():
        each = ", ".join(f"{v:.0f}" for v in values)
        print(f"{side}: median {statistics.median(values):.0f} µs/request ({each})")
    ratios = [new / old for old, new in zip(per["old"], per["new"], strict=True)]
    each = ", ".join(f"{r:.3f}" for r in ratios)
    print(f"new/old per pair: {each}; median {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
