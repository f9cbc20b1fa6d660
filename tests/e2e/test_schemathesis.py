"""Schemathesis against the live /openapi.json: generated requests never get a 5xx, and every
response matches its documented schema. Bounded examples, SQLite, seeded data, admin token."""

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from stockledger.app import create_app
from stockledger.core.db import Database

EXAMPLES_PER_OPERATION = 6


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_api_never_fails_and_keeps_its_schema(seeded: Database, db_url: str, admin_token: str) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(db_url))
    headers = {"Authorization": f"Bearer {admin_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        _explore(operation, headers)


def _explore(operation: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

    check()
