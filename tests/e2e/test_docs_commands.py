"""Every command in the docs is run, or listed here with the reason it is not.

- ```bash blocks of README.md, SECURITY.md, CHANGELOG.md and docs/*.md run in order, one bash
  (`set -euo pipefail`) per block, in a temporary directory with .venv/bin on the PATH, on a
  SQLite file there (the default) or on a fresh database of the local PostgreSQL server. A block
  that cannot run here is preceded in the doc by `<!-- not-run: why -->`; NOT_RUN lists them, so
  the list cannot grow unnoticed, and the `make` targets they name must exist (`make -n`).
- The docs' example host stands for the local one: SUBSTITUTIONS (below) map it, its credentials
  and database names, port 8000 and the demo token placeholder onto the test's; nothing else in
  a block is changed. `stockledger serve` runs in the background until it answers /healthz and is
  stopped (SIGTERM) after the doc's last block.
- A `# {…}` comment under a command is its expected JSON output, compared with what it printed.
- Inline `stockledger …` commands are parsed by the real CLI (subcommands and options must
  exist); the complete ones are also run, in-process, on a SQLite demo database.
- Dockerfile and compose.yaml cannot be built here (no Docker engine): their commands are parsed
  by the CLI, their settings are real settings, and their ports and services agree.
"""

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import typer
import yaml  # type: ignore[import-untyped]
from typer.testing import CliRunner

from stockledger import __version__
from stockledger.auth.rules import is_open
from stockledger.catalog.seeds import seed_documents
from stockledger.cli import app as cli_app
from stockledger.core.config import Settings
from stockledger.core.db import Database
from stockledger.ledger.verify import find_mismatches
from tests.databases import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
DOCS = [
    ROOT / "README.md",
    ROOT / "SECURITY.md",
    ROOT / "CHANGELOG.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
FENCE = re.compile(
    r"^(?:<!-- not-run: (?P<reason>.+?) -->\n)?```(?:bash|sh|shell|console)\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
INLINE = re.compile(r"`(stockledger [^`]+|make [a-z]+)`")

# (doc, first line of the block): why it is not run.
NOT_RUN = {
    (
        "README.md",
        "make run    # installs into .venv, migrates a SQLite file, loads the seed demo data, "
        "serves http://127.0.0.1:8000",
    ): "serves until stopped, and make test is the suite this check is part of",
    (
        "docs/scaling.md",
        "scripts/citus.sh start     # … postgresql://postgres@127.0.0.1:9700/stockledger",
    ): "builds Citus and starts three servers; `make test-citus` runs it in CI",
    (
        "docs/scaling.md",
        "# SOURCE_URL: the single-server database; CITUS_URL: the coordinator's, with the citus extension",
    ): "needs a Citus cluster; tests/integration/test_citus_move.py runs this block on one",
}
# Inline commands named in prose that are not complete command lines, or that run until stopped.
INLINE_NOT_RUN = {
    "stockledger token create": "named in prose; a real call needs --role",
    "stockledger load": "named in prose; a real call names files",
    "stockledger events publish": "runs until stopped (and needs a NATS server)",
    "stockledger events consume": "runs until stopped (and needs a NATS server)",
    "make run": "serves until stopped; its stockledger commands run in the README test",
}
# Inline commands that serve until stopped, with any options: their options are checked, never run.
RUNS_UNTIL_STOPPED = ("stockledger serve", "stockledger events publish", "stockledger events consume")
# What a command prints when it worked.
KEY_OUTPUT = {
    "stockledger verify": "verify: 0 mismatches",
    "stockledger migrate": "schema up to date on",
    "stockledger demo": "Demo admin token",
    "stockledger token create": "\nsl_",
    "stockledger idempotency purge": "expired idempotency keys",
    "stockledger events status": "published up to eventSeq",
    "stockledger token list": "role",
    "stockledger token revoke": "revoked",
}
PLACEHOLDER = re.compile(r"[\[\]…|<>]|(?:^|\s)[A-Z][A-Z_]*(?:\.\w+)?(?:\s|$)")
# Files the inline commands name, made in the working directory from the seed documents.
SEED_FILES = {
    "facility.json": "01_facility_locations.json",
    "products.json": "02_facility_products.json",
    "items.json": "03_inventory_items.json",
}
ERP_CSV = "facilityId,productId,quantityOnHand,availableToPromise\nFACILITY_1,FG003,70,\n"


def _blocks(doc: Path) -> list[tuple[str | None, str]]:
    return [(m["reason"], m["body"]) for m in FENCE.finditer(doc.read_text())]


def _rel(doc: Path) -> str:
    return str(doc.relative_to(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Place:
    """Where a doc's blocks run: a directory, a port, maybe a PostgreSQL database, and its serves."""

    tmp: Path
    port: int
    pg_name: str
    uses_postgres: bool = False

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STOCKLEDGER_", "PROMETHEUS_"))}
        return env | {
            "PATH": f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}",
            "DOCS_TMP": str(self.tmp),
            "DOCS_PORT": str(self.port),
            "DOCS_PIDS": str(self.tmp / "serve.pids"),
            "DEMO_TOKEN": (self.tmp / "demo.token").read_text().strip()
            if (self.tmp / "demo.token").exists()
            else "",
        }

    def substitutions(self) -> list[tuple[str, str]]:
        """The docs' example host, credentials, database names and port -> the test's."""
        return [
            (r"127\.0\.0\.1:8000\b", f"127.0.0.1:{self.port}"),
            (r"--port 8000\b", f"--port {self.port}"),
            (r"^TOKEN=sl_\.\.\.", 'TOKEN="$DEMO_TOKEN"'),
            (r"\bdb\.internal\b", "127.0.0.1"),
            (r"\bstockledger:secret@", "postgres@"),
            (r"-U stockledger\b", "-U postgres"),
            (r"\bstockledger_restored\b", f"{self.pg_name}_restored"),
            (r"(?<=:5432/)stockledger\b|(?<=-d )stockledger\b|(?<= )stockledger$", self.pg_name),
            (r"/run/stockledger/metrics\b", "$DOCS_TMP/run/stockledger/metrics"),
        ]


# `stockledger serve` in a block: in the background until /healthz answers; stopped after the doc.
PRELUDE = """
set -euo pipefail
stockledger() {
  if [ "${1:-}" = serve ]; then
    command stockledger "$@" </dev/null >>"$DOCS_TMP/serve.log" 2>&1 &
    echo $! >>"$DOCS_PIDS"
    local deadline=$((SECONDS + 120))
    until curl -sf "http://127.0.0.1:$DOCS_PORT/healthz" >/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "no answer from serve" >&2; cat "$DOCS_TMP/serve.log" >&2; return 1
      fi
      sleep 0.2
    done
    return 0
  fi
  command stockledger "$@"
}
"""


def run_block(place: Place, body: str) -> subprocess.CompletedProcess[str]:
    script = body
    for pattern, replacement in place.substitutions():
        script = re.sub(pattern, replacement, script, flags=re.MULTILINE)
    return subprocess.run(
        ["bash", "-c", PRELUDE + script],
        cwd=place.tmp,
        env=place.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def stop_serves(place: Place) -> None:
    pids_file = place.tmp / "serve.pids"
    if not pids_file.exists():
        return
    pids = [int(p) for p in pids_file.read_text().split()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + 20
    for pid in pids:
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
    pids_file.unlink()


def expected_json(body: str) -> list[object]:
    """`# {…}` comment lines (continued by `#  …` lines) under a command: its expected output."""
    found, current = [], None
    for line in body.splitlines():
        if line.startswith("# {"):
            current = [line[2:]]
            found.append(current)
        elif current is not None and line.startswith("#  "):
            current.append(line[2:])
        else:
            current = None
    return [json.loads(" ".join(lines)) for lines in found]


def json_objects(text: str) -> Iterator[object]:
    decoder = json.JSONDecoder()
    position = text.find("{")
    while position >= 0:
        try:
            value, end = decoder.raw_decode(text, position)
        except ValueError:
            position = text.find("{", position + 1)
            continue
        yield value
        position = text.find("{", end)


def check_key_output(command_text: str, output: str) -> None:
    for command, expected in KEY_OUTPUT.items():
        if re.search(rf"(^|\s){re.escape(command)}(\s|$)", command_text, re.MULTILINE):
            assert expected in output, f"{command}: expected {expected!r} in\n{output}"


def setup_readme(place: Place) -> None:
    """What `make run` does (its stockledger lines, as `make -n run` prints them), minus install."""
    dry = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    commands = [
        line.replace(".venv/bin/", "")
        for line in dry.splitlines()
        if line.startswith(".venv/bin/stockledger")
    ]
    assert commands == ["stockledger demo", "stockledger serve --host 127.0.0.1 --port 8000"], commands
    demo = run_block(place, commands[0])
    assert demo.returncode == 0, demo.stderr
    (place.tmp / "demo.token").write_text(demo.stdout.strip().splitlines()[-1])
    serve = run_block(place, commands[1])
    assert serve.returncode == 0, serve.stderr


def setup_operations(place: Place) -> None:
    """The SQLite backup block copies the database of the working directory: make one."""
    demo = run_block(place, "stockledger demo")
    assert demo.returncode == 0, demo.stderr


SETUP = {"README.md": setup_readme, "docs/operations.md": setup_operations}


def _uses_postgres(doc: Path) -> bool:
    return any("createdb" in body or "pg_dump" in body for reason, body in _blocks(doc) if reason is None)


def _doc_params() -> list[Any]:
    params = []
    for doc in DOCS:
        runnable = [body for reason, body in _blocks(doc) if reason is None]
        if runnable:
            marks = [pytest.mark.postgres] if _uses_postgres(doc) else []
            params.append(pytest.param(doc, marks=marks, id=_rel(doc)))
    return params


@pytest.fixture
def place(tmp_path: Path) -> Iterator[Place]:
    here = Place(tmp_path, _free_port(), f"stockledger_docs_{uuid.uuid4().hex[:8]}")
    yield here
    stop_serves(here)
    if here.uses_postgres:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            for name in (here.pg_name, f"{here.pg_name}_restored"):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _assert_ledgers_hold(place: Place) -> None:
    """Every database the blocks wrote obeys the ledger rule (what the `db` fixture checks)."""
    urls = [f"sqlite:///{p}" for p in place.tmp.glob("*.db")]
    if place.uses_postgres:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            names = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (place.pg_name + "%",)
            )
            urls += [PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}" for (name,) in names.fetchall()]
    assert urls, "the blocks wrote no database"
    for url in urls:
        db = Database(url)
        try:
            with db.reading() as session:
                assert find_mismatches(session) == [], url
        finally:
            db.dispose()


def test_the_blocks_not_run_are_the_listed_ones() -> None:
    found = {
        (_rel(doc), body.splitlines()[0]): reason for doc in DOCS for reason, body in _blocks(doc) if reason
    }
    assert found == NOT_RUN
    for (doc, _), reason in found.items():
        body = next(b for r, b in _blocks(ROOT / doc) if r == reason)
        for target in re.findall(r"^make (\w+)", body, re.MULTILINE):
            subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, check=True)


@pytest.mark.parametrize("doc", _doc_params())
def test_every_block_of_the_doc_runs(doc: Path, place: Place) -> None:
    place.uses_postgres = _uses_postgres(doc)
    setup = SETUP.get(_rel(doc))
    if setup:
        setup(place)
    for number, (reason, body) in enumerate(_blocks(doc), 1):
        if reason is not None:
            continue
        started = time.monotonic()
        done = run_block(place, body)
        print(f"{_rel(doc)} block {number}: {time.monotonic() - started:.1f} s")
        where = f"{_rel(doc)} block {number}:\n{body}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        assert done.returncode == 0, where
        check_key_output(body, done.stdout)
        printed = list(json_objects(done.stdout))
        for expected in expected_json(body):
            assert expected in printed, f"{where}\nexpected output {expected}"
    stop_serves(place)
    _assert_ledgers_hold(place)


def _is_group(command: Any) -> bool:
    return hasattr(command, "commands")  # typer vendors click: duck-type its Group


def _subcommands(group: Any) -> dict[str, Any]:
    """A group's commands as the CLI resolves them (cli.py imports the features' commands when
    named, so they are not in `group.commands` before)."""
    ctx = typer.Context(group)
    return {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}


def _command_path(args: list[str]) -> tuple[Any, list[str], list[str]]:
    """The CLI command an argument list names, the names walked, and the rest of the list."""
    command: Any = typer.main.get_command(cli_app)
    names: list[str] = []
    rest = list(args)
    while _is_group(command) and rest and rest[0] in _subcommands(command):
        names.append(rest[0])
        command = _subcommands(command)[rest.pop(0)]
    return command, names, rest


def _options(command: Any) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}


def inline_commands() -> dict[str, str]:
    """Each distinct inline `stockledger …`/`make …` command and the first doc naming it."""
    found: dict[str, str] = {}
    for doc in DOCS:
        for command in INLINE.findall(doc.read_text()):
            found.setdefault(command, _rel(doc))
    return found


def test_every_inline_command_is_one_the_cli_takes() -> None:
    commands = inline_commands()
    assert len(commands) > 15
    for command, doc in commands.items():
        if command.startswith("make "):
            subprocess.run(["make", "-n", command.split()[1]], cwd=ROOT, capture_output=True, check=True)
            continue
        words = shlex.split(command)[1:]
        first = re.split(r"[|\[]", words[0])[0] if words else ""
        cli, names, rest = _command_path([first, *words[1:]] if words else [])
        assert names, f"{doc}: `{command}` names no stockledger command"
        if _is_group(cli) and "|" in words[1]:
            assert all(w in _subcommands(cli) for w in words[1].split("|")), f"{doc}: `{command}`"
            continue
        assert not _is_group(cli) or command in INLINE_NOT_RUN, f"{doc}: `{command}` is a group"
        for word in rest:
            for option in re.findall(r"--[a-z][a-z-]*", word):
                assert option in _options(cli), f"{doc}: `{command}`: {cli.name} has no option {option}"


def test_the_complete_inline_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STOCKLEDGER_NATS_URL", raising=False)
    for name, seed in SEED_FILES.items():
        document = dict(seed_documents())[seed]
        (tmp_path / name).write_text(json.dumps(document))
    (tmp_path / "erp-2026-11-25.csv").write_text(ERP_CSV)
    url = f"sqlite:///{tmp_path / 'stockledger.db'}"
    complete = [
        c
        for c in inline_commands()
        if c.startswith("stockledger ")
        and c not in INLINE_NOT_RUN
        and not c.startswith(RUNS_UNTIL_STOPPED)
        and not PLACEHOLDER.search(c)
    ]
    complete.sort(key=lambda c: c != "stockledger demo")  # the others work on the demo data
    assert "stockledger verify" in complete
    assert 'stockledger reset erp-2026-11-25.csv --source "ERP nightly"' in complete
    runner = CliRunner()
    for command in complete:
        result = runner.invoke(cli_app, shlex.split(command)[1:], env={"STOCKLEDGER_DATABASE_URL": url})
        assert result.exit_code == 0, f"`{command}`:\n{result.output}\n{result.exception!r}"
        check_key_output(command, result.output)
    db = Database(url)
    with db.reading() as session:
        assert find_mismatches(session) == []
    db.dispose()


# Dockerfile and compose.yaml: what can be checked without a Docker engine.


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def _compose() -> dict[str, object]:
    document = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(document, dict)
    return document


def _parses(args: list[str]) -> Any:
    """The CLI accepts `args` (the real parser: unknown options or bad values raise)."""
    assert args[0] == "stockledger", args
    cli, names, rest = _command_path(args[1:])
    assert names, args
    assert not _is_group(cli), args
    return cli.make_context(" ".join(["stockledger", *names]), rest)


def _dockerfile_cmd() -> list[str]:
    lines = [line for line in _dockerfile().splitlines() if line.startswith("CMD ")]
    assert len(lines) == 1
    return list(json.loads(lines[0][4:]))


def test_the_image_command_is_a_real_serve_command_on_the_exposed_port() -> None:
    context = _parses(_dockerfile_cmd())
    assert context.info_name == "stockledger serve"
    exposed = re.findall(r"^EXPOSE (\d+)$", _dockerfile(), re.MULTILINE)
    assert exposed == [str(context.params["port"])]
    assert context.params["host"] == "0.0.0.0"
    health = re.search(r"urlopen\('http://127\.0\.0\.1:(\d+)(/\w+)'", _dockerfile())
    assert health is not None
    assert health[1] == exposed[0]
    assert is_open(health[2])
    assert _dockerfile_cmd()[0] in {p.name for p in VENV_BIN.iterdir()}  # the entry point pip installs


def test_the_image_settings_and_tools_are_real() -> None:
    dockerfile = _dockerfile()
    fields = {f"STOCKLEDGER_{name.upper()}" for name in Settings.model_fields}
    named = set(re.findall(r"\b(STOCKLEDGER_[A-Z_]+)=", dockerfile))
    assert named
    assert named <= fields
    uv_make = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert uv_make is not None
    assert f"uv=={uv_make[1]}" in dockerfile
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.MULTILINE):
        for name in source.split():
            assert (ROOT / name).exists(), name
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert not {"src", "pyproject.toml", "uv.lock", "README.md"} & set(ignored)
    data_url = re.search(r"STOCKLEDGER_DATABASE_URL=(\S+)", dockerfile)
    assert data_url is not None
    assert data_url[1].startswith("sqlite:////data/")
    assert "VOLUME /data" in dockerfile
    assert "WORKDIR /data" in dockerfile


def test_the_compose_services_agree() -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    app, postgres, nats = services["app"], services["postgres"], services["nats"]
    context = _parses(app["command"])
    assert context.info_name == "stockledger serve"
    assert context.params["workers"] >= 1
    assert app["ports"] == [f"{context.params['port']}:{context.params['port']}"]
    assert app["image"] == f"stockledger:{__version__}"
    fields = {f"STOCKLEDGER_{name.upper()}" for name in Settings.model_fields}
    env = app["environment"]
    assert {k for k in env if k.startswith("STOCKLEDGER_")} <= fields
    pg = postgres["environment"]
    assert env["STOCKLEDGER_DATABASE_URL"] == (
        f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/{pg['POSTGRES_DB']}"
    )
    assert Database(env["STOCKLEDGER_DATABASE_URL"]).engine.dialect.name == "postgresql"
    assert env["STOCKLEDGER_NATS_URL"] == "nats://nats:4222"
    assert "-js" in nats["command"]
    assert env["PROMETHEUS_MULTIPROC_DIR"] in app["tmpfs"]
    assert postgres["image"] == "postgres:15"
    assert app["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_docker_comments_name_real_commands() -> None:
    """`docker compose exec app stockledger …` in the files' comments: real CLI commands."""
    text = (ROOT / "compose.yaml").read_text() + _dockerfile()
    commands = re.findall(r"exec app (stockledger [^\n]+)", text)
    assert len(commands) >= 2
    for command in commands:
        _parses(shlex.split(command))


def test_the_docs_say_the_image_was_not_built_here() -> None:
    assert "not built" in (ROOT / "docs" / "operations.md").read_text()
