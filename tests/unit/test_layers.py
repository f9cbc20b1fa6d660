"""The write path goes down only: api → service → ledger → db (issue 21). The ledger and the
outbox never import the reservations (nor the OMS entry that calls the services)."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "stockledger"


def _imports(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in sorted((SRC / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add((path.name, node.module))
            elif isinstance(node, ast.Import):
                found.update((path.name, alias.name) for alias in node.names)
    return found


@pytest.mark.parametrize("package", ["ledger", "events"])
def test_the_ledger_and_the_outbox_never_climb_back_to_reservations(package: str) -> None:
    above = ("stockledger.reservations", "stockledger.oms", "stockledger.orders")
    climbs = sorted((name, module) for name, module in _imports(package) if module.startswith(above))
    assert climbs == []
