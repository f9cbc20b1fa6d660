"""The layer rule (docs/architecture.md, Layers): no import runs back up.

Every package of src/stockledger sits in one layer; a module may import its own layer and the
layers below, never one above. Imports are read from the source (ast), so an import inside a
function or under TYPE_CHECKING counts too.
"""

import ast
from pathlib import Path

import pytest

import stockledger

SOURCE = Path(stockledger.__file__).parent

# Lowest first.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("core", frozenset({"core", "stockledger"})),  # shared plumbing; `stockledger` is __init__.py
    ("outbox and metrics", frozenset({"events", "metrics"})),
    ("ledger", frozenset({"ledger"})),
    (
        "features",
        frozenset(
            {
                "auth",
                "catalog",
                "costing",
                "counts",
                "idempotency",
                "orders",
                "receiving",
                "rejection",
                "reservations",
                "resets",
                "returns",
                "shipping",
                "variances",
            }
        ),
    ),
    ("entry points", frozenset({"app", "cli", "__main__", "web", "oms", "migrations"})),
)

# Modules that sit above their package's layer, and why.
ENTRY_MODULES = {
    # GET /v1/availability before app.py's middleware stack: the route's twin (beside it in
    # ledger/), it checks the token cache as auth's middleware does and records the same metric
    "stockledger.ledger.fast_availability": "entry points",
}

LAYER_OF = {package: n for n, (_, packages) in enumerate(LAYERS) for package in packages}
LAYER_NUMBER = {name: n for n, (name, _) in enumerate(LAYERS)}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _layer(module: str) -> int:
    if module in ENTRY_MODULES:
        return LAYER_NUMBER[ENTRY_MODULES[module]]
    return LAYER_OF[_package(module)]


def _imports(path: Path) -> set[str]:
    """The stockledger modules `path` imports (for `from a.b import c`: a.b)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "stockledger"}


def _modules() -> list[Path]:
    return sorted(SOURCE.rglob("*.py"))


def test_every_package_has_a_layer() -> None:
    packages = {_package(_module_name(path)) for path in _modules()}
    assert packages - LAYER_OF.keys() == set(), "place the new package in LAYERS"


def test_no_import_runs_back_up() -> None:
    upward = [
        f"{module} ({LAYERS[_layer(module)][0]}) imports {target} ({LAYERS[_layer(target)][0]})"
        for path in _modules()
        for module in [_module_name(path)]
        for target in sorted(_imports(path))
        if _layer(target) > _layer(module)
    ]
    assert upward == []


@pytest.mark.parametrize(
    ("module", "target"),
    [
        ("stockledger.ledger.api", "stockledger.catalog.service"),
        ("stockledger.events.outbox", "stockledger.reservations.service"),
        ("stockledger.events.cli", "stockledger.idempotency.service"),
        ("stockledger.core.db", "stockledger.ledger.models"),
    ],
)
def test_the_rule_sees_imports_that_climb(module: str, target: str) -> None:
    """The check itself: each of these would be refused (the first three were in the tree)."""
    assert _layer(target) > _layer(module)


def test_imports_are_read_wherever_they_are_written(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import os\nimport stockledger.core.db\nfrom stockledger.ledger import post\n"
        "def f():\n    from stockledger.reservations.service import reserve_stock\n"
        "from . import sibling\n"
    )
    expected = {"stockledger.core.db", "stockledger.ledger", "stockledger.reservations.service"}
    assert _imports(source) == expected
