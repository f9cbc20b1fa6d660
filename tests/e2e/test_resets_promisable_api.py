"""An ERP reset of availableToPromise is measured against the promisable ATP that availability
reports (SPEC §11), not the ATP of every item: after a reset, availability shows what was sent."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from stockledger.core.db import Database
from tests.promisable_support import EXPIRED, FACILITY, add_item

pytestmark = pytest.mark.posts_without_events  # add_item posts the setup's stock directly


def _availability(client: TestClient, product: str) -> tuple[Any, Any]:
    answer = client.get("/v1/availability", params={"facilityId": FACILITY, "productId": product})
    assert answer.status_code == 200, answer.text
    return answer.json()["quantityOnHandTotal"], answer.json()["availableToPromiseTotal"]


def _reset(client: TestClient, **line: Any) -> dict[str, Any]:
    body = {"lines": [{"facilityId": FACILITY, "productId": "R1", **line}]}
    answer = client.post("/v1/external-inventory-resets", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _r1(client: TestClient, db: Database) -> None:
    """Facility item 10, an expired lot of 4, a held item of 3: QOH 17, promisable ATP 10."""
    add_item(db, "R1", "R1-FAC", 10)
    add_item(db, "R1", "R1-OLD", 4, expire_date=EXPIRED)
    add_item(db, "R1", "R1-HOLD", 3, status_id="INV_ON_HOLD")
    assert _availability(client, "R1") == (17, 10)


def test_resending_the_reported_atp_changes_nothing(seeded_client: TestClient, seeded: Database) -> None:
    _r1(seeded_client, seeded)
    run = _reset(seeded_client, availableToPromise=10)
    assert (run["linesChanged"], run["linesUnchanged"]) == (0, 1)
    assert _availability(seeded_client, "R1") == (17, 10)


def test_after_a_reset_availability_shows_the_atp_or_qoh_sent(
    seeded_client: TestClient, seeded: Database
) -> None:
    _r1(seeded_client, seeded)
    assert _reset(seeded_client, availableToPromise=12)["linesChanged"] == 1
    assert _availability(seeded_client, "R1") == (19, 12)
    assert _reset(seeded_client, quantityOnHand=15)["linesChanged"] == 1
    assert _availability(seeded_client, "R1") == (15, 8)
    assert _reset(seeded_client, availableToPromise=8)["linesUnchanged"] == 1
    facility_item = seeded_client.get("/v1/inventory-items/R1-FAC").json()
    assert (facility_item["quantityOnHandTotal"], facility_item["availableToPromiseTotal"]) == (8, 8)


def test_a_reset_whose_facility_item_is_held_sets_the_atp_sent_once(
    seeded_client: TestClient, seeded: Database
) -> None:
    """Found by an outside tester: each run posted +5 to the held facility item (QOH 10 → 15 →
    20, ATP 0). The diff goes to a new promisable item, which the link then names."""
    add_item(seeded, "R1", "R1-HELD", 10, status_id="INV_ON_HOLD")  # the first item: the facility item
    assert [_reset(seeded_client, availableToPromise=5)["linesChanged"] for _ in range(3)] == [1, 0, 0]
    assert _availability(seeded_client, "R1") == (15, 5)
    linked = seeded_client.post(f"/v1/facilities/{FACILITY}/products/R1/inventory-item")
    assert linked.status_code == 200, linked.text
    item = linked.json()
    assert item["inventoryItemId"] != "R1-HELD"
    assert (item["statusId"], item["quantityOnHandTotal"], item["availableToPromiseTotal"]) == (
        "INV_AVAILABLE",
        5,
        5,
    )
