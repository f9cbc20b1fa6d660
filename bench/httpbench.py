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
from collections.abc import Callable, Iterator
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


def run_wrk(
    url: str,
    lua: str,
    connections: int,
    seconds: float,
    threads: int = 1,
    midway: Callable[[], None] | None = None,
) -> WrkResult:
    """`wrk --latency` with `lua` (plus the common hooks) for `seconds`; the parsed summary.
    `midway`, if given, is called halfway through the run (wrk's connections all open)."""
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
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as running:
            if midway is not None:
                time.sleep(int(seconds) / 2)
                midway()
            out, _ = running.communicate()
        if running.returncode:
            raise subprocess.CalledProcessError(running.returncode, argv, out)
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


@dataclass
class WorkerUse:
    """What each `serve` worker did during a wrk run, the evidence of where latency goes: the
    connections it held (midway), its CPU, and how long its threads waited runnable for a CPU
    (the scheduler's run-queue delay, /proc/PID/task/*/schedstat); and how busy the whole
    machine was (/proc/stat)."""

    connections: list[int]
    cpu_ms: list[float]
    queued_ms: list[float]
    machine_busy: float

    def line(self, requests: int) -> str:
        cpu = " / ".join(f"{ms:,.0f}" for ms in self.cpu_ms)
        queued = " / ".join(f"{ms:,.0f}" for ms in self.queued_ms)
        per_request = sum(self.cpu_ms) * 1000 / max(requests, 1)
        return (
            f"workers' connections {self.connections}; their CPU {cpu} ms ({per_request:.0f} µs a request);"
            f" waiting runnable for a CPU {queued} ms; machine busy {self.machine_busy:.0%}"
        )


def run_wrk_watched(
    url: str, lua: str, connections: int, seconds: float, port: int
) -> tuple[WrkResult, WorkerUse]:
    """run_wrk, and what the workers of the `serve` on `port` did meanwhile (WorkerUse)."""
    workers = serve_workers(port)
    held: list[int] = []
    before, machine_before = [_schedstat(pid) for pid in workers], _machine_ticks()
    result = run_wrk(url, lua, connections, seconds, midway=lambda: held.extend(_held(workers, port)))
    after, machine_after = [_schedstat(pid) for pid in workers], _machine_ticks()
    busy = (machine_after[0] - machine_before[0]) / max(machine_after[1] - machine_before[1], 1)
    return result, WorkerUse(
        connections=held,
        cpu_ms=[(a[0] - b[0]) / 1e6 for a, b in zip(after, before, strict=True)],
        queued_ms=[(a[1] - b[1]) / 1e6 for a, b in zip(after, before, strict=True)],
        machine_busy=busy,
    )


def serve_workers(port: int) -> list[int]:
    """The worker processes of the `stockledger serve` listening on `port` (itself with one worker)."""
    out = subprocess.run(["pgrep", "-f", f"serve --port {port} "], capture_output=True, text=True).stdout
    server = min(int(x) for x in out.split())
    found = subprocess.run(["pgrep", "-P", str(server)], capture_output=True, text=True).stdout
    children = [int(x) for x in found.split() if "spawn_main" in _cmdline(int(x))]
    return sorted(children) or [server]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _schedstat(pid: int) -> tuple[int, int]:
    """(ns on a CPU, ns waiting runnable for one), summed over the process's threads."""
    ran = waited = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "schedstat").read_text().split()
        except OSError:
            continue  # a thread that ended
        ran, waited = ran + int(fields[0]), waited + int(fields[1])
    return ran, waited


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the machine since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def _held(workers: list[int], port: int) -> list[int]:
    """Established TCP connections on local `port` each worker holds (/proc/net/tcp{,6})."""
    owners: dict[str, int] = {}
    for index, pid in enumerate(workers):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd) if fd.is_symlink() else ""
            if target.startswith("socket:["):
                owners[target[8:-1]] = index
    counts = [0] * len(workers)
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in owners:
                counts[owners[fields[9]]] += 1
    return counts


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
