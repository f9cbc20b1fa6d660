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


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are docstrings."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def differences(source: str) -> list[str]:
    """What in `source` tells the databases apart, one line each (line number: what)."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name) and node.id in NAMES:
            found.append(f"{line}: {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in NAMES | ATTRIBUTES:
            found.append(f"{line}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            module = node.module or ""
            if module.startswith(MODULES):
                found.append(f"{line}: from {module}")
            found.extend(f"{line}: imports {a.name}" for a in node.names if a.name in NAMES)
        elif isinstance(node, ast.Import):
            found.extend(f"{line}: import {a.name}" for a in node.names if a.name.startswith(MODULES))
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
        for what in differences(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_check_reads_every_module_outside_core() -> None:
    names = {str(path.relative_to(SOURCE)) for path in _outside_core()}
    assert {"reservations/service.py", "ledger/sole_item.py", "events/outbox.py", "app.py"} <= names
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
