"""`stockledger reset` starts on what it needs (issue 19, item 4): each command is imported when
it runs, so the reset's start is close to `import sqlalchemy, psycopg`, not the whole app's.

Checked by the modules a fresh interpreter holds (never by timing): the reset command, resolved
and built as `stockledger reset` does, imports no web framework, no Alembic, no other feature.
"""

import json
import subprocess
import sys

import pytest

# Resolve a command as `stockledger <name> ...` does (without running it), then report every
# module the interpreter holds.
PROBE = """
import json, sys
from typer.main import get_command
from stockledger.cli import app
root = get_command(app)
ctx = root.make_context("stockledger", [{name!r}], resilient_parsing=True)
command = root.get_command(ctx, {name!r})
assert command is not None and command.name == {name!r}, command
print(json.dumps(sorted(sys.modules)))
"""

# Nothing the reset uses: the HTTP stack, migrations, NATS, the pages, the other features.
NOT_FOR_RESET = (
    "fastapi",
    "starlette",
    "uvicorn",
    "alembic",
    "mako",
    "nats",
    "jinja2",
    "httpx",
    "prometheus_client",
    "opentelemetry",
    "stockledger.app",
    "stockledger.web",
    "stockledger.oms",
    "stockledger.catalog",
    "stockledger.auth",
    "stockledger.events.publisher",
    "stockledger.reservations.service",
    "stockledger.core.schemas",
    "stockledger.core.migrate",
    # the app's async pool (psycopg_pool) and SQLite's dialect: not on a PostgreSQL command line
    "psycopg_pool",
    "stockledger.core.async_pool",
    "sqlalchemy.dialects.sqlite",
)


def _modules_after(code: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


def _loaded(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


def test_the_reset_command_imports_only_what_it_needs() -> None:
    modules = _modules_after(PROBE.format(name="reset"))
    assert "stockledger.resets.service" in modules  # the probe did build the reset command
    assert {p: _loaded(modules, p) for p in NOT_FOR_RESET if _loaded(modules, p)} == {}


def test_the_load_command_imports_no_web_framework() -> None:
    """`stockledger load` validates its documents with the catalogue's models, and writes them:
    no FastAPI, Starlette or Alembic (at the schema's head) on the way."""
    load = PROBE.format(name="load").replace(
        "print(", "import stockledger.catalog.cli, stockledger.catalog.load_progress\nprint("
    )
    modules = _modules_after(load)
    assert "stockledger.catalog.plain_products" in modules  # the probe did import the load's modules
    assert {p: _loaded(modules, p) for p in ("fastapi", "starlette", "alembic") if _loaded(modules, p)} == {}


def test_the_root_imports_no_feature_before_a_command_is_named() -> None:
    modules = _modules_after("import json, sys, stockledger.cli; print(json.dumps(sorted(sys.modules)))")
    features = ("resets", "auth", "catalog", "events", "idempotency", "oms", "ledger", "app", "web")
    assert sorted(m for m in modules if m.split(".")[:2] in [["stockledger", f] for f in features]) == []
    assert _loaded(modules, "fastapi") == []


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("token", "stockledger.auth.cli"),
        ("events", "stockledger.oms.cli"),  # `events consume`, which cli.py adds
        ("idempotency", "stockledger.idempotency.cli"),
        ("reset", "stockledger.resets.cli"),
    ],
)
def test_each_lazy_command_resolves_to_its_module(name: str, module: str) -> None:
    assert module in _modules_after(PROBE.format(name=name))


def test_the_help_lists_every_command() -> None:
    from typer.testing import CliRunner

    from stockledger.cli import app

    shown = CliRunner().invoke(app, ["--help"], terminal_width=120)
    assert shown.exit_code == 0, shown.output
    listed = {line.split()[1] for line in shown.output.splitlines() if line.startswith("│ ")}
    commands = {"migrate", "demo", "load", "verify", "serve", "reset", "token", "events", "idempotency"}
    assert listed & commands == commands


def test_a_mistyped_lazy_command_is_suggested() -> None:
    from typer.testing import CliRunner

    from stockledger.cli import app

    mistyped = CliRunner().invoke(app, ["rest"])
    assert mistyped.exit_code == 2
    assert "No such command 'rest'. Did you mean 'reset'?" in mistyped.output


def test_the_start_up_is_set_aside_from_the_collector() -> None:
    """The modules a command starts on are made without collections and frozen (core.gc_pause
    .made_to_last): the collector is on again after, and walks none of them (gc.freeze)."""
    probe = PROBE.format(name="reset").replace(
        "print(json.dumps(sorted(sys.modules)))",
        "import gc\nprint(json.dumps([gc.isenabled(), gc.get_freeze_count(), len(gc.get_objects())]))",
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    enabled, frozen, tracked = json.loads(done.stdout)
    assert enabled is True
    assert frozen > 100_000  # SQLAlchemy's, pydantic's, Typer's and our modules' objects
    assert tracked < frozen // 10  # what the probe made after the start-up
