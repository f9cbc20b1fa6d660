"""docs/api.md cannot drift: its endpoints are those of /openapi.json, and its answers are the app's.

The page is written by docs/gen_api.py from real requests; here it is generated again on a fresh
SQLite database, on a fresh PostgreSQL database, and on a fresh Citus database when a cluster is
configured (every endpoint, distributed), and compared with the committed file,
volatile values (timestamps, generated ids, tokens, metric values) aside. On a difference:
`.venv/bin/python docs/gen_api.py`.
"""

import difflib
import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from stockledger.app import create_app
from stockledger.core.db import Database
from stockledger.ledger.verify import find_mismatches
from tests.databases import fresh_citus, fresh_postgres

ROOT = Path(__file__).resolve().parents[2]
API_MD = ROOT / "docs" / "api.md"
HEADING = re.compile(r"^### `(GET|POST|PUT|PATCH|DELETE) (/\S*)`$", re.MULTILINE)
# Where the app names a problem code: `status, code, title = 404, "not_found", …`,
# `problem(409, "conflict", …)`, `HTTP_CODES = {405: ("method_not_allowed", "Method not allowed")}`,
# `code, title = "idempotency_in_progress", …`.
CODE_PATTERNS = (
    re.compile(r'\b[1-5]\d\d,\s*"([a-z_]+)",\s*"'),
    re.compile(r'\("([a-z_]+)", "[A-Z][A-Za-z ]+"\)'),
    re.compile(r'\bcode, title = "([a-z_]+)"'),
)


def _gen_api() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_api", ROOT / "docs" / "gen_api.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_api", module)
    spec.loader.exec_module(module)
    return module


def _openapi_endpoints(tmp_path: Path) -> set[tuple[str, str]]:
    schema = create_app(f"sqlite:///{tmp_path / 'unused.db'}").openapi()
    return {(method.upper(), path) for path, operations in schema["paths"].items() for method in operations}


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def problem_codes_in_source() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "src" / "stockledger").rglob("*.py"):
        source = path.read_text()
        for pattern in CODE_PATTERNS:
            codes.update(pattern.findall(source))
    return codes


def test_the_endpoints_documented_are_those_of_openapi(tmp_path: Path) -> None:
    documented = HEADING.findall(API_MD.read_text())
    assert len(documented) == len(set(documented)), "an endpoint is documented twice"
    assert set(documented) == _openapi_endpoints(tmp_path)


def test_every_problem_code_of_the_app_is_in_the_errors_table() -> None:
    codes = problem_codes_in_source()
    assert {"not_found", "insufficient_stock", "idempotency_mismatch", "payload_too_large"} <= codes
    table = _section(API_MD.read_text(), "Errors")
    assert {c for c in codes if f"| `{c}` |" not in table} == set()


def test_the_masking_keeps_what_matters() -> None:
    gen_api = _gen_api()
    masked = gen_api.without_volatile(
        '"createdStamp": "2026-11-25T16:23:41.984361Z", "inventoryItemId": "II1795623821973E747A1AA7D", '
        '"quantityOnHandTotal": 32\nstockledger_ledger_rows_posted_total 16.0'
    )
    assert masked == (
        '"createdStamp": "<timestamp>", "inventoryItemId": "<generated id>", '
        '"quantityOnHandTotal": 32\nstockledger_ledger_rows_posted_total <value>'
    )


def _assert_same_page(gen_api: ModuleType, database_url: str, dialect: str) -> None:
    committed = API_MD.read_text()
    generated = gen_api.generate(database_url, committed)
    want = gen_api.without_volatile(committed).replace('"database": "sqlite"', f'"database": "{dialect}"')
    got = gen_api.without_volatile(generated)
    diff = "\n".join(
        difflib.unified_diff(
            want.splitlines(), got.splitlines(), "docs/api.md", "regenerated", lineterm="", n=2
        )
    )
    assert want == got, f"docs/api.md is stale; run .venv/bin/python docs/gen_api.py\n{diff[:6000]}"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_page_is_what_the_app_answers(db: Database, db_url: str) -> None:
    _assert_same_page(_gen_api(), db_url, "sqlite")


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """A new database (the shared test database is truncated, but its sequences go on)."""
    with fresh_postgres("stockledger_apidoc") as url:
        yield url
        db = Database(url)
        with db.reading() as session:
            assert find_mismatches(session) == [], "ledger rule broken: totals != sum of details"
        db.dispose()


@pytest.mark.postgres
def test_postgresql_answers_the_same(fresh_pg_url: str) -> None:
    _assert_same_page(_gen_api(), fresh_pg_url, "postgresql")


@pytest.fixture
def fresh_citus_url() -> Iterator[str]:
    with fresh_citus("stockledger_apidoc") as url:
        yield url
        db = Database(url)
        with db.reading() as session:
            assert find_mismatches(session) == [], "ledger rule broken: totals != sum of details"
        db.dispose()


@pytest.mark.citus
def test_citus_answers_the_same(fresh_citus_url: str) -> None:
    """Every endpoint, on tables distributed by facility: the same page."""
    _assert_same_page(_gen_api(), fresh_citus_url, "postgresql")
