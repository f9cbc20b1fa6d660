"""SECURITY.md's table of writes by role is the one the code enforces, for every write in OpenAPI."""

import re
from pathlib import Path

from stockledger.app import create_app
from stockledger.auth.rules import OPEN_PATHS, ROLES, may_call

SECURITY = Path(__file__).resolve().parents[2] / "SECURITY.md"
ROW = re.compile(r"^\| `(POST|PUT|PATCH|DELETE) (/v1/[^`]*)` \|(.*)\|$")


def _documented() -> dict[tuple[str, str], set[str]]:
    table = {}
    for line in SECURITY.read_text().splitlines():
        match = ROW.match(line.strip())
        if match:
            marks = [cell.strip() for cell in match.group(3).split("|")]
            table[(match.group(1), match.group(2))] = {r for r, m in zip(ROLES, marks, strict=True) if m}
    return table


def _enforced(tmp_path: Path) -> dict[tuple[str, str], set[str]]:
    schema = create_app(f"sqlite:///{tmp_path / 'unused.db'}").openapi()
    table = {}
    for path, operations in schema["paths"].items():
        for method in operations:
            if method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
                concrete = re.sub(r"\{[^}]+\}", "X", path)
                table[(method.upper(), path)] = {r for r in ROLES if may_call(r, method.upper(), concrete)}
    return table


def test_the_documented_roles_match_the_write_policy(tmp_path: Path) -> None:
    assert _documented() == _enforced(tmp_path)


def test_every_open_path_is_listed() -> None:
    text = SECURITY.read_text()
    assert [p for p in OPEN_PATHS if f"`{p}`" not in text] == []


API_MD = SECURITY.parent / "docs" / "api.md"
ERROR_ROW = re.compile(r"^\| (\d{3}) \| `([a-z_]+)` \|")
STATUS_CODE = re.compile(r"`?\b(\d{3}) `?([a-z]+_[a-z_]+)`")


def test_every_status_and_code_in_security_md_is_the_one_the_api_answers() -> None:
    """`422 idempotency_mismatch` in SECURITY.md while the server answers 409 is a doc that lies."""
    answered = {}
    for line in API_MD.read_text().splitlines():
        match = ERROR_ROW.match(line)
        if match:
            answered[match.group(2)] = int(match.group(1))
    named = [(int(s), code) for s, code in STATUS_CODE.findall(SECURITY.read_text())]
    assert named, "the pattern no longer finds the statuses SECURITY.md names"
    assert [(s, code) for s, code in named if answered.get(code, s) != s] == []
