"""A variance by productId refused by the negative-stock guard names no phantom item (an outside
tester, session 11): the product's only item was on hold, so the variance went to a new sellable
item that the refusal rolled back, and the 409 named that item's id (a GET of it was 404). The
refusal names the product and facility with the quantity on hand it judged, and nothing is
created. Both databases."""

from fastapi.testclient import TestClient
from sqlalchemy import select

from stockledger.core.db import Database
from stockledger.ledger.models import InventoryItem, ProductFacility
from tests.promisable_support import EXPIRED, FACILITY, add_item


def _items_and_link(db: Database, product_id: str) -> tuple[list[str], str | None]:
    with db.reading() as session:
        items = session.scalars(
            select(InventoryItem.inventory_item_id).where(InventoryItem.product_id == product_id)
        ).all()
        link = session.get(ProductFacility, (FACILITY, product_id))
        return sorted(items), None if link is None else link.inventory_item_id


def _lose(client: TestClient, product_id: str, quantity: int) -> dict[str, object]:
    body = {
        "facilityId": FACILITY,
        "productId": product_id,
        "quantity": -quantity,
        "varianceReasonId": "VAR_LOST",
    }
    answer = client.post("/v1/variances", json=body)
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, object] = answer.json()
    return problem


def test_a_refused_variance_by_product_names_the_product_and_creates_nothing(
    seeded_client: TestClient, seeded: Database
) -> None:
    add_item(seeded, "HOLDV", "HOLDV-1", 4, status_id="INV_ON_HOLD")
    before = _items_and_link(seeded, "HOLDV")
    problem = _lose(seeded_client, "HOLDV", 2)
    assert problem["code"] == "negative_stock"
    assert "inventoryItemId" not in problem
    assert (problem["productId"], problem["facilityId"]) == ("HOLDV", FACILITY)
    assert (problem["quantityOnHandTotal"], problem["quantityOnHandDiff"]) == (0, -2)
    assert problem["retryWith"] == "allowNegative"
    assert "HOLDV" in str(problem["detail"])
    assert "II" not in str(problem["detail"])
    assert _items_and_link(seeded, "HOLDV") == before


def test_an_expired_only_item_is_refused_the_same_way(seeded_client: TestClient, seeded: Database) -> None:
    add_item(seeded, "EXPV", "EXPV-1", 4, expire_date=EXPIRED)
    before = _items_and_link(seeded, "EXPV")
    problem = _lose(seeded_client, "EXPV", 1)
    assert "inventoryItemId" not in problem
    assert problem["productId"] == "EXPV"
    assert _items_and_link(seeded, "EXPV") == before
