"""Every SQLite/PostgreSQL difference lives in core/ (docs/architecture.md, Layers and folders).

A module outside core/ (and the migrations, which are written per database) asks core what the
database can do (`core.dialects.writes_through_ctes`, `binds_arrays`, `Database.runs_alone`, …)
and hands core a session or an engine to bind values for; it never names a database, never asks
for the dialect, and never builds a dialect's own statement. Read from the source (ast), so a
branch inside a function counts too; comments and docstrings may name the databases.
"""

import ast
import re
from pathlib import Path

import pytest

import stockledger

SOURCE = Path(stockledger.__file__).parent
EXEMPT = ("core", "migrations")  # core/ holds the differences; a migration is written per database

NAMES = {"is_postgres", "is_sqlite"}  # asking which database, by name
ATTRIBUTES = {"dialect", "get_bind"}  # `session.get_bind().dialect`, `engine.dialect`
MODULES = ("sqlalchemy.dialects",)  # a dialect's own insert (ON CONFLICT) and types
DATABASE_NAME = re.compile(r"\b(postgresql|postgres|sqlite|sqlite3|psycopg)\b", re.IGNORECASE)
DRIVERS = ("psycopg", "psycopg2", "psycopg_pool", "sqlite3", "asyncpg", "pysqlite2")  # core/ talks to them
DRIVER_ATTRIBUTES = {"driver_connection", "dbapi_connection"}  # the driver's own connection
# A driver's error details (psycopg's `diag`, `sqlstate`, psycopg2's `pgcode`), read as attributes
# or through getattr: core.statements.violates_not_null reads them.
DRIVER_ERROR_DETAILS = {"diag", "sqlstate", "pgcode"}
# SQL that only PostgreSQL runs (casts, arrays, JSON functions, FILTER, LATERAL, temporary tables
# dropped at commit, COPY, SET LOCAL, regular-expression operators, data-modifying CTEs…): outside
# core/ it lives in a module named `*_pg.py`, reached only behind a core capability
# (docs/architecture.md, "SQL that only PostgreSQL runs").
POSTGRES_ONLY_SQL = re.compile(
    r"::\s*[a-z]|\b(unnest|to_jsonb?|jsonb?_\w+|btrim|string_agg|lpad|generate_series|set_config|any)\s*\("
    r"|\bFILTER\s*\(\s*WHERE|\bLATERAL\b|\bON COMMIT DROP\b|\bFROM STDIN\b|\bSET LOCAL\b|\bDISTINCT ON\b"
    r"|\bILIKE\b|\sI?~\*?\s|\bFOR (NO KEY )?UPDATE\b|\bAS (NOT )?MATERIALIZED\b"
    r"|\bAS\s*\(\s*(UPDATE|INSERT|DELETE)\b",
    re.IGNORECASE,
)
PG_MODULE = re.compile(r"_pg\.py$")
# SQL that only SQLite runs (JSON functions, printf, GLOB, UPDATE … FROM an aliased table…) lives in
# a module named `*_sqlite.py` (the set-based reset's), reached behind the same capabilities.
SQLITE_MODULE = re.compile(r"_sqlite\.py$")
CAPABILITIES = (
    "writes_through_ctes",
    "binds_arrays",
    "stages_set_based",
    "runs_alone",
    "shards_by_facility",
    "serialises_writers",
)


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are docstrings."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _is_driver(module: str) -> bool:
    return module.split(".")[0] in DRIVERS


def _is_copy_on_a_cursor(node: ast.AST) -> bool:
    """`….cursor().copy(…)`: COPY through the driver's cursor."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "copy"
        and isinstance(node.func.value, ast.Call)
        and isinstance(node.func.value.func, ast.Attribute)
        and node.func.value.func.attr == "cursor"
    )


def differences(source: str, postgres_module: bool = False) -> list[str]:
    """What in `source` tells the databases apart, one line each (line number: what).
    `postgres_module`: the module is a `*_pg.py`, whose SQL may be PostgreSQL's own."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name) and node.id in NAMES:
            found.append(f"{line}: {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in NAMES | ATTRIBUTES | DRIVER_ATTRIBUTES:
            found.append(f"{line}: .{node.attr}")
        elif isinstance(node, ast.Attribute) and node.attr in DRIVER_ERROR_DETAILS:
            found.append(f"{line}: .{node.attr} (a driver's error detail)")
        elif isinstance(node, ast.Constant) and node.value in DRIVER_ERROR_DETAILS:
            found.append(f"{line}: {node.value!r} (a driver's error detail)")
        elif _is_copy_on_a_cursor(node):
            found.append(f"{line}: COPY on the driver's cursor")
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            module = node.module or ""
            if module.startswith(MODULES):
                found.append(f"{line}: from {module}")
            if _is_driver(module):
                found.append(f"{line}: from {module} (a driver)")
            found.extend(f"{line}: imports {a.name}" for a in node.names if a.name in NAMES)
        elif isinstance(node, ast.Import):
            found.extend(f"{line}: import {a.name}" for a in node.names if a.name.startswith(MODULES))
            found.extend(f"{line}: import {a.name} (a driver)" for a in node.names if _is_driver(a.name))
        elif (
            not postgres_module
            and isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and (match := POSTGRES_ONLY_SQL.search(node.value))
        ):
            found.append(f"{line}: SQL only PostgreSQL runs ({match.group(0).strip()!r}) outside a *_pg.py")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and DATABASE_NAME.search(node.value)
        ):
            found.append(f"{line}: names a database: {node.value[:60]!r}")
    return sorted(found, key=lambda f: int(f.split(":")[0]))


def _outside_core() -> list[Path]:
    return sorted(path for path in SOURCE.rglob("*.py") if path.relative_to(SOURCE).parts[0] not in EXEMPT)


def test_no_module_outside_core_tells_the_databases_apart() -> None:
    found = [
        f"{path.relative_to(SOURCE)}:{what}"
        for path in _outside_core()
        for what in differences(
            path.read_text(encoding="utf-8"),
            bool(PG_MODULE.search(path.name) or SQLITE_MODULE.search(path.name)),
        )
    ]
    assert found == []


def test_a_postgres_or_sqlite_module_says_which_capability_reaches_it() -> None:
    """A `*_pg.py` (`*_sqlite.py`) is run only where a core capability says the database can: its
    docstring names that capability (and the code calling into it asks it)."""
    modules = [path for path in _outside_core() if PG_MODULE.search(path.name)]
    assert modules, "the set-based reset's SQL, at least, lives in *_pg.py modules"
    sqlite_modules = [path for path in _outside_core() if SQLITE_MODULE.search(path.name)]
    assert sqlite_modules, "the set-based reset's SQLite SQL, at least, lives in *_sqlite.py modules"
    modules += sqlite_modules
    silent = [
        str(path.relative_to(SOURCE))
        for path in modules
        if not any(
            c in (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "") for c in CAPABILITIES
        )
    ]
    assert silent == []


def test_the_check_reads_every_module_outside_core() -> None:
    names = {str(path.relative_to(SOURCE)) for path in _outside_core()}
    assert {"reservations/service.py", "ledger/sole_item_pg.py", "events/outbox.py", "app.py"} <= names
    assert not any(name.startswith(("core/", "migrations/")) for name in names)


@pytest.mark.parametrize(
    "source",
    [
        # the forms that were in the tree (reservations, ledger, events, app.py)
        "from stockledger.core.db import is_postgres\nif is_postgres(session):\n    pass\n",
        "if db.is_postgres and not tried:\n    pass\n",
        "dialect = session.get_bind().dialect\n",
        "name = db.engine.dialect.name\n",
        "kind = session.get_bind().dialect.name\n",
        "now = UTC_NOW_SQL['postgresql']\n",
        "from sqlalchemy.dialects.postgresql import insert\n",
        "import sqlalchemy.dialects.sqlite\n",
        "def f(bind):\n    return bind.dialect.name == 'sqlite'\n",
        # the driver's own API (resets/staging_pg.py's COPY before core/bulk.py)
        "import psycopg\n",
        "import sqlite3\n",
        "import asyncpg\n",
        "from psycopg import sql\n",
        "from psycopg.types.json import Jsonb\n",
        "driver = connection.connection.driver_connection\n",
        "raw = connection.connection.dbapi_connection\n",
        "with driver.cursor().copy(SQL) as copy:\n    pass\n",
        # a driver's error details (ledger/post.py, sole_item_steps_pg.py before violates_not_null)
        "diag = getattr(getattr(error, 'orig', None), 'diag', None)\n",
        "ok = getattr(diag, 'sqlstate', None) == '23502'\n",
        "table = error.orig.diag.table_name\n",
        "if error.orig.pgcode == '23502':\n    pass\n",
        # SQL only PostgreSQL runs, outside a *_pg.py (the forms that were in the tree)
        "SQL = 'SELECT x FROM t WHERE p = ANY(:p::text[]) ORDER BY x FOR UPDATE'\n",
        "SQL = 'SELECT count(*) FILTER (WHERE code IS NOT NULL) FROM reset_checked'\n",
        'SQL = f"CREATE TEMP TABLE {NAME} (ord bigint) ON COMMIT DROP"\n',
        "SQL = 'UPDATE t SET a = d.a FROM unnest(:a) AS d (a)'\n",
        'SQL = "\'{\\"id\\":\' || to_json(d.p)::text"\n',
        "SQL = 'CROSS JOIN LATERAL (SELECT btrim(s.fac, :ws) AS f) v'\n",
        "SQL = \"SELECT 1 WHERE c.t ~* '^inf$'\"\n",
        "run(text(f\"SET LOCAL work_mem = '{WORK_MEM}'\"))\n",
        "SQL = 'WITH moved AS (UPDATE t SET a = 1 RETURNING a) SELECT a FROM moved'\n",
    ],
)
def test_the_check_sees_a_database_told_apart(source: str) -> None:
    assert differences(source) != []


def test_the_check_lets_docstrings_and_capabilities_be() -> None:
    source = (
        '"""PostgreSQL runs it as one statement; SQLite in turn."""\n'
        "def f(session):\n"
        '    """On PostgreSQL: one array."""\n'
        "    if binds_arrays(session) and db.runs_alone:\n"
        "        return fetched_rows(session, COLUMNS, rows)\n"
    )
    assert differences(source) == []


@pytest.mark.parametrize(
    "source",
    [
        "SQL = 'SELECT x FROM t WHERE p = ANY(:p::text[]) ORDER BY x FOR UPDATE'\n",
        'SQL = f"CREATE TEMP TABLE {NAME} (ord bigint) ON COMMIT DROP"\n',
    ],
)
def test_a_postgres_module_may_hold_postgres_sql(source: str) -> None:
    assert differences(source) != []
    assert differences(source, postgres_module=True) == []


def test_portable_sql_is_no_difference() -> None:
    source = (
        "SQL = 'INSERT INTO t (a) VALUES (:a) ON CONFLICT (a) DO NOTHING RETURNING a'\n"
        "TWO = 'SELECT a, b FROM t WHERE a IN (SELECT a FROM u) ORDER BY a LIMIT :n'\n"
        "TIME = f'{hours:02d}:{minutes:02d}'\n"
        "new = items.copy()\n"
    )
    assert differences(source) == []
