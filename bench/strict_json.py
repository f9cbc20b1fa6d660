"""Benchmark: the CPU cost of refusing JSON objects that name a member twice (core.strict_json).

    .venv/bin/python bench/strict_json.py [--lines 100000] [--rounds 5] [--no-record]

One process, no database: the bodies every JSON write reads, parsed by core.strict_json.loads and,
as the baseline, by what the service used before (json.loads with parse_float=Decimal, which
keeps the last of two members silently): a reservation body (20,000 parses a round) and a JSON
ERP reset of `--lines` lines (3 parses a round; a 10 MB body holds about 130,000). The best of
`--rounds` rounds of CPU time (time.process_time), so other processes on the machine do not
count. Prints `STRICT_JSON_US <body> <strict µs> <baseline µs>` and
`RATIO strict_json <body> <strict / baseline>`, and appends a table to bench/RESULTS.md.
"""

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from stockledger.core import strict_json

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
RESERVATION = json.dumps(
    {
        "orderId": "O1",
        "orderItemSeqId": "00001",
        "productId": "FG001",
        "facilityId": "FACILITY_1",
        "quantity": 1,
    }
).encode()


def reset_body(lines: int) -> bytes:
    rows = [
        {"facilityId": "FACILITY_1", "productId": f"P{n:07d}", "quantityOnHand": n % 100}
        for n in range(lines)
    ]
    return json.dumps({"source": "bench", "lines": rows}).encode()


def best_cpu_us(parse: Callable[[], object], calls: int, rounds: int) -> float:
    """The least CPU time of `rounds` rounds of `calls` parses, per parse, in µs."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            parse()
        best = min(best, time.process_time() - start)
    return best / calls * 1e6


def measure(body: bytes, calls: int, rounds: int) -> tuple[float, float]:
    strict = best_cpu_us(lambda: strict_json.loads(body), calls, rounds)
    baseline = best_cpu_us(lambda: json.loads(body, parse_float=Decimal), calls, rounds)
    return strict, baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    bodies = {"reservation": (RESERVATION, 20_000), f"reset_{args.lines}_lines": (reset_body(args.lines), 3)}
    rows: list[str] = []
    for name, (body, calls) in bodies.items():
        strict, baseline = measure(body, calls, args.rounds)
        print(f"STRICT_JSON_US {name} {strict:.2f} {baseline:.2f}")
        print(f"RATIO strict_json {name} {strict / baseline:.2f}")
        rows.append(
            f"| {name} ({len(body):,} bytes) | {strict:.2f} | {baseline:.2f} | {strict / baseline:.2f} |"
        )
    if not args.no_record:
        record(args, rows)


def record(args: argparse.Namespace, rows: list[str]) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    table = "\n".join(
        [
            f"## strict_json (duplicate members refused) — {when}",
            "",
            f"`python bench/strict_json.py --lines {args.lines} --rounds {args.rounds}`: CPU µs per parse, "
            "best of the rounds",
            "",
            "| body | strict_json.loads | json.loads (baseline) | RATIO |",
            "|---|---|---|---|",
            *rows,
            "",
        ]
    )
    with RESULTS.open("a", encoding="utf-8") as results:
        results.write("\n" + table)


if __name__ == "__main__":
    main()
