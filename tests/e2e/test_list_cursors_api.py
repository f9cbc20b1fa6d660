"""Every list, paged by a cursor of the service's own form (base64url JSON) that it did not issue:
422 `validation_failed`, never 500 or 503, for scoped and unscoped tokens alike (red team F5)."""

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database
from tests.e2e.test_bad_input_api import _problem
from tests.e2e.test_web_pages import _as
from tests.scope_support import bearer, second_facility

CRAFTED = [
    [None],
    [[1]],
    [None, None],
    ["FACILITY_1", None],
    [1, 2],
    [{"x": 1}, "y"],
    [1e308],
    ["FACILITY_2"],
]
# (path, the query parameter its `next` value goes back in)
LISTS = [
    ("/v1/orders/O1/pick-suggestions", "cursor"),
    ("/v1/product-facility-inventory", "cursor"),
    ("/v1/product-facility-inventory?facilityId=FACILITY_1", "cursor"),
    ("/v1/inventory-items/FG001-INV-001/details", "cursor"),
    ("/v1/events", "cursor"),
]
# (page, the one crafted key that is well formed there: a product id to list the facility after)
PAGES = [("/ui/facilities/FACILITY_1", ["FACILITY_2"]), ("/ui/items/FG001-INV-001", [])]


def _crafted(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize("scoped", [False, True], ids=["unscoped", "scoped"])
@pytest.mark.parametrize(("path", "param"), LISTS, ids=[p for p, _ in LISTS])
def test_a_crafted_cursor_is_a_422_on_every_list(
    seeded_client: TestClient, seeded: Database, path: str, param: str, scoped: bool
) -> None:
    second_facility(seeded)
    headers = bearer(seeded, "viewer", ["FACILITY_1"]) if scoped else {}
    for key in CRAFTED:
        response = seeded_client.get(path, params={param: _crafted(key)}, headers=headers)
        assert response.status_code == 422, (key, response.text)
        _problem(response, 422, "validation_failed")


@pytest.mark.parametrize(("path", "valid"), PAGES, ids=[p for p, _ in PAGES])
def test_a_crafted_cursor_is_a_422_on_every_paged_page(
    seeded_client: TestClient, seeded: Database, path: str, valid: list[Any]
) -> None:
    client = _as(seeded_client, seeded, "viewer", ["FACILITY_1"])
    for key in (k for k in CRAFTED if k != valid):
        response = client.get(path, params={"after": _crafted(key)})
        assert response.status_code == 422, (key, response.text)
        assert "cursor" in response.text
