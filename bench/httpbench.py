"""What the HTTP benchmarks share: a `stockledger serve` subprocess and a wrk run against it.

wrk (Debian package `wrk`) is the load generator: C, epoll, one thread drives many keep-alive
connections, so the client costs a fraction of a CPU where Python client threads would take
the machine's 2 CPUs away from the server. Each benchmark hands wrk a Lua script; the
`done` hook below is appended to it and prints one `WRK {json}` line with the exact
percentiles (µs) and the per-status counts gathered by every wrk thread.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLI = str(ROOT / ".venv" / "bin" / "stockledger")
SERVER_LOG = Path(tempfile.gettempdir()) / "stockledger_bench_serve.log"  # kept for a look after a run

# Appended to every script: count statuses per thread, then add them up in `done`.
LUA_COMMON = """
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local counts = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do
      counts[tostring(status)] = (counts[tostring(status)] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do table.insert(parts, string.format('"%s":%d', status, n)) end
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,'
    .. '"errors":%d,"timeouts":%d,"statuses":{%s}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status,
    summary.errors.timeout, table.concat(parts, ",")))
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors (connect/read/write) and non-2xx/3xx statuses, as wrk counts them
    timeouts: int
    statuses: dict[int, int] = field(default_factory=dict)
    command: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (make bench does it)")
    return found


def run_wrk(url: str, lua: str, connections: int, seconds: float, threads: int = 1) -> WrkResult:
    """`wrk --latency` with `lua` (plus the common hooks) for `seconds`; the parsed summary."""
    wrk = ensure_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua + LUA_COMMON)
    threads = max(1, min(threads, connections))
    argv = [
        wrk,
        "--latency",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{int(seconds)}s",
        "--timeout",
        "10s",
        "-s",
        script.name,
        url,
    ]
    try:
        out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(script.name)
    line = next((x for x in out.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    data = json.loads(line[4:])
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=data["errors"],
        timeouts=data["timeouts"],
        statuses={int(k): v for k, v in data["statuses"].items()},
        command=f"wrk --latency -t {threads} -c {connections} -d {int(seconds)}s -s <script.lua> {url}",
    )


def stockledger(env: dict[str, str], *args: str) -> str:
    """Run the CLI; its standard output."""
    done = subprocess.run([CLI, *args], env=env, check=True, capture_output=True, text=True)
    return done.stdout


def create_token(env: dict[str, str], role: str, description: str) -> str:
    out = stockledger(env, "token", "create", "--role", role, "--description", description)
    return out.strip().splitlines()[-1].strip()


@contextmanager
def serving(env: dict[str, str], port: int, workers: int, *extra: str) -> Iterator[str]:
    """`stockledger serve --workers N` in the background until the block ends; yields its base URL."""
    argv = [CLI, "serve", "--port", str(port), "--workers", str(workers), "--no-publish", *extra]
    with SERVER_LOG.open("wb") as log:
        server = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base, server, workers)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def server_errors(limit: int = 40) -> str:
    """The last tracebacks/errors the server logged (its access log lines left out)."""
    lines = [x for x in SERVER_LOG.read_text(errors="replace").splitlines() if '" 2' not in x]
    return "\n".join(lines[-limit:])


def _wait_until_up(base: str, server: "subprocess.Popen[bytes]", workers: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"stockledger serve exited:\n{server_errors()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                # Several workers share the socket: give the others time to import and answer too.
                time.sleep(1.0 + 0.5 * workers)
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("stockledger serve did not answer within 60 s")


def warm_up(base: str, path: str, headers: dict[str, str], count: int = 200) -> None:
    """A few sequential requests over fresh connections, so every worker has run the route once."""
    for _ in range(count):
        httpx.get(base + path, headers=headers, timeout=10)


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (5 min {five:.1f})"


def append_results(text: str) -> None:
    with (ROOT / "bench" / "RESULTS.md").open("a") as results:
        results.write(text)
