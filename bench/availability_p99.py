"""Benchmark: GET /v1/availability latency through the real HTTP server, 8 concurrent clients.

    .venv/bin/python bench/availability_p99.py [--clients 8] [--seconds 10] [--port 8765]

Creates the database stockledger_bench_availability, loads the demo seed (`stockledger demo`),
creates a viewer token (`stockledger token create`), starts `stockledger serve` as a subprocess
and runs `--clients` threads, each with its own keep-alive httpx client, asking the availability
of the seed products in turn. Prints p50/p99 (target: p99 < 5 ms), appends to bench/RESULTS.md.
"""

import argparse
import os
import statistics
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

ADMIN = os.environ.get("STOCKLEDGER_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
NAME = "stockledger_bench_availability"
ROOT = Path(__file__).resolve().parents[1]
CLI = str(ROOT / ".venv" / "bin" / "stockledger")
PRODUCTS = ("FG001", "FG002", "FG003")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {NAME}")
    env = {**os.environ, "STOCKLEDGER_DATABASE_URL": ADMIN.rsplit("/", 1)[0] + f"/{NAME}"}
    env.pop("STOCKLEDGER_NATS_URL", None)
    subprocess.run([CLI, "demo"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [CLI, "token", "create", "--role", "viewer", "--description", "availability benchmark"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token = created.stdout.strip().splitlines()[-1].strip()
    server = subprocess.Popen(
        [CLI, "serve", "--port", str(args.port), "--no-publish"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        latencies, errors = _measure(args.port, token, args.clients, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
    _report(args, latencies, errors)
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")


def _measure(port: int, token: str, clients: int, seconds: float) -> tuple[list[float], int]:
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    _wait_until_up(base, headers)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(n: int) -> None:
        mine: list[float] = []
        bad = 0
        with httpx.Client(base_url=base, headers=headers) as http:
            for product in PRODUCTS:  # warm-up: connection and the server's first calls
                http.get("/v1/availability", params={"facilityId": "FACILITY_1", "productId": product})
            start.wait()
            deadline = time.perf_counter() + seconds
            k = n
            while time.perf_counter() < deadline:
                params = {"facilityId": "FACILITY_1", "productId": PRODUCTS[k % len(PRODUCTS)]}
                began = time.perf_counter()
                response = http.get("/v1/availability", params=params)
                mine.append(time.perf_counter() - began)
                bad += response.status_code != 200
                k += 1
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0]


def _wait_until_up(base: str, headers: dict[str, str]) -> None:
    for _ in range(300):
        try:
            params = {"facilityId": "FACILITY_1", "productId": PRODUCTS[0]}
            if httpx.get(f"{base}/v1/availability", params=params, headers=headers).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("stockledger serve did not answer within 30 s")


def _report(args: argparse.Namespace, latencies: list[float], errors: int) -> None:
    cuts = statistics.quantiles(latencies, n=100)
    p50, p99 = cuts[49] * 1000, cuts[98] * 1000
    rps = len(latencies) / args.seconds
    print(f"GET /v1/availability, {args.clients} clients: {rps:.0f} req/s, {errors} non-200")
    print(f"p50 {p50:.2f} ms  p99 {p99:.2f} ms  (target p99 < 5 ms)")
    print(f"P99 availability_ms {p99:.2f}")
    load = os.getloadavg()[0]
    with (ROOT / "bench" / "RESULTS.md").open("a") as results:
        results.write(
            f"\n## availability_p99 — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
            f"`.venv/bin/python bench/availability_p99.py --clients {args.clients}"
            f" --seconds {args.seconds:g}`"
            f" (`stockledger serve`, 1 worker, PostgreSQL 15, same machine, load average {load:.1f})\n\n"
            f"| clients | req/s | p50 ms | p99 ms | non-200 |\n|---|---|---|---|---|\n"
            f"| {args.clients} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {errors} |\n\n"
            f"P99 availability_ms {p99:.2f} (target < 5 ms)\n"
        )


if __name__ == "__main__":
    main()
