"""Totals past what the database can add: PostgreSQL sums exactly; SQLite (64-bit integers) answers
422 quantity_overflow, never a 500 or a 503, and an import that would cause it is refused."""

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from stockledger.catalog.import_bounds import MAX_IMPORT_RECORDS
from stockledger.core.db import Database
from stockledger.core.quantities import MAX_ITEM_TOTAL
from stockledger.ledger import post as ledger_post
from stockledger.ledger.post import Posting, post
from tests.e2e.test_web_pages import _as
from tests.shipping_support import snapshot

PRODUCT = {"facilityId": "FACILITY_1", "productId": "FG002"}
BILLION = 1_000_000_000


def _problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "retry-after" not in response.headers
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


def _item(n: int, details: int = 0) -> dict[str, Any]:
    rows = [{"quantityOnHandDiff": BILLION, "availableToPromiseDiff": BILLION}] * details
    return {"inventoryItemId": f"BIG-{n}", **PRODUCT, "inventoryItemDetails": rows}


def _fill(client: TestClient, db: Database, items: int) -> None:
    """`items` items of FG002 holding MAX_ITEM_TOTAL each, straight through the ledger, as rows
    written before writes were refused for leaving totals SQLite cannot add (ledger.post)."""
    response = client.post("/v1/import", json=[_item(n) for n in range(items)])
    assert response.status_code == 200, response.text
    with pytest.MonkeyPatch.context() as before_the_guard, db.transaction() as session:
        before_the_guard.setattr(ledger_post, "require_summable_items", lambda *_: None)
        for n in range(items):
            post(session, Posting("FACILITY_1", f"BIG-{n}", "VAR_FOUND", MAX_ITEM_TOTAL, MAX_ITEM_TOTAL))


def test_an_import_of_millions_of_bare_values_is_refused_before_validation(seeded_client: TestClient) -> None:
    body = json.dumps([1] * 3_000_000).encode()
    response = seeded_client.post("/v1/import", content=body, headers={"content-type": "application/json"})
    assert _problem(response, 422, "validation_failed")["maxRecords"] == MAX_IMPORT_RECORDS


def test_an_item_whose_details_pass_the_item_bound_is_refused(
    seeded_client: TestClient, seeded: Database
) -> None:
    before = snapshot(seeded)
    document = [{**_item(0, details=1001), "quantityOnHandTotal": 1}]
    refused = _problem(seeded_client.post("/v1/import", json=document), 422, "quantity_overflow")
    assert (refused["inventoryItemId"], refused["maxItemTotal"]) == ("BIG-0", int(MAX_ITEM_TOTAL))
    assert snapshot(seeded) == before


@pytest.mark.posts_without_events  # _fill posts straight through the ledger
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_refuses_what_it_cannot_add(seeded_client: TestClient, seeded: Database) -> None:
    _fill(seeded_client, seeded, 9)  # 9 * 10^12 units: SQLite still adds them
    before = snapshot(seeded)
    response = seeded_client.post("/v1/import", json=[_item(9, details=300)])  # past 9.2 * 10^12
    assert "SQLite" in _problem(response, 422, "quantity_overflow")["detail"]
    assert snapshot(seeded) == before


@pytest.mark.posts_without_events  # _fill posts straight through the ledger
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_totals_it_cannot_add_are_a_422_not_a_500_or_503(
    seeded_client: TestClient, seeded: Database
) -> None:
    _fill(seeded_client, seeded, 10)  # written before the import refused it: reads and writes on it
    for path, params in (
        ("/v1/availability", PRODUCT),
        ("/v1/product-facility-inventory", {"facilityId": "FACILITY_1"}),
    ):
        _problem(seeded_client.get(path, params=params), 422, "quantity_overflow")
    before = snapshot(seeded)
    reset = {"lines": [{**PRODUCT, "quantityOnHand": 5}]}
    _problem(seeded_client.post("/v1/external-inventory-resets", json=reset), 422, "quantity_overflow")
    assert snapshot(seeded) == before
    # A count is the way out: it sets each sellable item (no sum over them), and then the
    # product's totals are small again and every read answers.
    count = {
        "physicalInventoryId": "PI-BIG",
        "facilityId": "FACILITY_1",
        "counts": [{"productId": "FG002", "quantityCounted": 1}],
    }
    assert seeded_client.post("/v1/physical-inventories", json=count).status_code == 200
    availability = seeded_client.get("/v1/availability", params=PRODUCT)
    assert availability.status_code == 200
    assert (
        availability.json()["quantityOnHandTotal"] - sum(availability.json()["notPromisable"].values()) == 1
    )


@pytest.mark.posts_without_events
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_postgresql_adds_them_exactly(seeded_client: TestClient, seeded: Database) -> None:
    start = seeded_client.get("/v1/availability", params=PRODUCT).json()["quantityOnHandTotal"]
    _fill(seeded_client, seeded, 9)
    response = seeded_client.post("/v1/import", json=[_item(9, details=300)])
    assert response.status_code == 200, response.text
    expected = start + 9 * int(MAX_ITEM_TOTAL) + 300 * BILLION
    for _ in range(2):  # the second from the fast path
        availability = seeded_client.get("/v1/availability", params=PRODUCT)
        assert availability.json()["quantityOnHandTotal"] == expected
    assert Decimal(expected) > Decimal(2**63 - 1) / 1_000_000


@pytest.mark.posts_without_events
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_stock_page_lists_the_other_products_beside_one_sqlite_cannot_add(
    seeded_client: TestClient, seeded: Database
) -> None:
    """One product's totals past what SQLite adds took the stock page down for every product."""
    _fill(seeded_client, seeded, 10)
    _as(seeded_client, seeded, "admin")
    for params in ({}, {"sort": "qoh", "direction": "desc"}):
        page = seeded_client.get("/ui/facilities/FACILITY_1", params=params)
        assert page.status_code == 200, page.text[:500]
        listed = re.findall(r'data-product-id="([^"]+)"', page.text)
        assert {"FG001", "FG002", "FG003"} <= set(listed), params
        fg002 = page.text.split('data-product-id="FG002"', 1)[1].split("</tr>", 1)[0]
        assert 'data-col="too-large"' in fg002
        fg001 = page.text.split('data-product-id="FG001"', 1)[1].split("</tr>", 1)[0]
        assert re.search(r'data-col="qoh">\d+<', fg001), fg001
