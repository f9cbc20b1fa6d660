"""One transaction owner (docs/architecture.md, Transactions; core/transactions.py).

A request's transaction is core/deps.py's (WriteSession, write_session; with an Idempotency-Key
the middleware's session, ended by core.deps.commit_keyed), and the web pages write the same
way. A CLI command, or a runner a command starts, opens one with
core.transactions.command_transaction. Services receive a Session: outside core/ (and the
migrations, which Alembic runs in its own transaction) no module commits, rolls back, begins
(a savepoint included: core.transactions.savepoint) or opens a session itself, and only the
owners below call the owners' helpers. Read from the source (ast): a call inside any function
counts.
"""

import ast
from pathlib import Path

import pytest

import stockledger

SOURCE = Path(stockledger.__file__).parent
EXEMPT = ("core", "migrations")

# Methods that end, start or open a transaction (Session, SessionTransaction, Database).
TRANSACTION_METHODS = {
    "commit",
    "rollback",
    "begin",
    "begin_nested",
    "transaction",  # Database.transaction(): core.transactions.command_transaction wraps it
    "sessions",  # Database.sessions: a session whose transaction nobody owns
    "read_sessions",
}

# The owners' helpers, and the modules that may call each (module names; "*.cli": any package's
# cli module).
OWNERS: dict[str, set[str]] = {
    # a CLI command, or the runner it starts: the consumer's one message, the publisher's steps
    "command_transaction": {
        "stockledger.cli",
        "*.cli",
        "stockledger.oms.consumer",
        "stockledger.events.publisher",
    },
    # a request with an Idempotency-Key: the middleware's session, committed with the stored answer
    "keyed_session": {"stockledger.idempotency.middleware"},
    "commit_keyed": {"stockledger.idempotency.middleware"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


def _may_call(module: str, helper: str) -> bool:
    allowed = OWNERS[helper]
    return module in allowed or ("*.cli" in allowed and module.endswith(".cli"))


def transaction_calls(module: str, source: str) -> list[str]:
    """The calls in `source` (the module `module`) that own a transaction without being its owner."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _called(node)
        if isinstance(node.func, ast.Attribute) and name in TRANSACTION_METHODS:
            found.append(f"{node.lineno}: .{name}()")
        elif name in OWNERS and not _may_call(module, name):
            found.append(f"{node.lineno}: {name}()")
    return found


def _outside_core() -> list[Path]:
    return sorted(path for path in SOURCE.rglob("*.py") if path.relative_to(SOURCE).parts[0] not in EXEMPT)


def test_only_the_owners_open_commit_or_roll_back_a_transaction() -> None:
    found = [
        f"{path.relative_to(SOURCE)}:{call}"
        for path in _outside_core()
        for call in transaction_calls(_module_name(path), path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_every_declared_owner_exists() -> None:
    modules = {_module_name(path) for path in SOURCE.rglob("*.py")}
    declared = {m for owners in OWNERS.values() for m in owners if m != "*.cli"}
    assert declared <= modules
    assert {m for m in modules if m.endswith(".cli")} >= {"stockledger.auth.cli", "stockledger.catalog.cli"}


@pytest.mark.parametrize(
    ("module", "source"),
    [
        # the forms that were in the tree
        ("stockledger.idempotency.middleware", "session.commit()\n"),
        ("stockledger.reservations.release", "point = session.begin_nested()\npoint.rollback()\n"),
        ("stockledger.oms.inbound", "with session.begin_nested():\n    pass\n"),
        ("stockledger.catalog.seeds", "with db.transaction() as session:\n    pass\n"),
        ("stockledger.reservations.service", "def f(db):\n    with db.transaction() as s:\n        pass\n"),
        ("stockledger.idempotency.middleware", "session = database.sessions()\n"),
        ("stockledger.web.resets", "with database.transaction() as session:\n    pass\n"),
        # an owner's helper called by a service
        ("stockledger.reservations.service", "with command_transaction(db) as session:\n    pass\n"),
        ("stockledger.events.deployment", "with command_transaction(db) as s:\n    pass\n"),
        ("stockledger.web.forms", "commit_keyed(session, store)\n"),
    ],
)
def test_the_check_sees_a_transaction_owned_elsewhere(module: str, source: str) -> None:
    assert transaction_calls(module, source) != []


@pytest.mark.parametrize(
    "module",
    ["stockledger.cli", "stockledger.resets.cli", "stockledger.oms.consumer", "stockledger.events.publisher"],
)
def test_the_owners_may_open_a_command_transaction(module: str) -> None:
    source = (
        "with command_transaction(db) as session:\n"
        "    with savepoint(session) as point:\n"
        "        point.undo()\n"
    )
    assert transaction_calls(module, source) == []
