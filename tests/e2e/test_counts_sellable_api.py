"""SPEC §11 Counts: a count by productId sets the product's sellable (INV_AVAILABLE) items,
non-sellable items are counted by inventoryItemId, and after a count each item's ATP is its
QOH − the units reserved on it (reserved units never vanish)."""

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from stockledger.core.db import Database
from stockledger.ledger.post import Posting, post
from tests.promisable_support import EXPIRED, FACILITY, FAR, add_item


def _item(client: TestClient, item_id: str) -> tuple[Any, Any]:
    body = client.get(f"/v1/inventory-items/{item_id}").json()
    return body["quantityOnHandTotal"], body["availableToPromiseTotal"]


def _count(client: TestClient, count_id: str, *lines: dict[str, Any]) -> Any:
    body = {"physicalInventoryId": count_id, "facilityId": FACILITY, "counts": list(lines)}
    return client.post("/v1/physical-inventories", json=body)


def _reserve(client: TestClient, order_id: str, product_id: str, quantity: int) -> str:
    body = {
        "orderId": order_id,
        "orderItemSeqId": "00001",
        "productId": product_id,
        "facilityId": FACILITY,
        "quantity": quantity,
    }
    answer = client.post("/v1/reservations", json=body)
    assert answer.status_code == 201, answer.text
    (row,) = answer.json()["reservations"]
    return str(row["inventoryItemId"])


def test_a_product_count_sets_its_sellable_items_and_keeps_their_reservations(
    seeded_client: TestClient, seeded: Database
) -> None:
    """The reproduction: FG002 counted 52, 2 units in returned/defective items, 2 reserved."""
    add_item(seeded, "FG002", "FG002-RET", 1, status_id="INV_RETURNED", atp=0)
    add_item(seeded, "FG002", "FG002-BAD", 1, status_id="INV_DEFECTIVE", atp=0)
    reserved_on = _reserve(seeded_client, "O-CNT", "FG002", 2)
    sellable = ["FG002-INV-001", "FG002-INV-002"]
    before = {i: _item(seeded_client, i) for i in sellable}
    answer = _count(seeded_client, "PI_FG002", {"productId": "FG002", "quantityCounted": 52})
    assert answer.status_code == 200, answer.text
    after = {i: _item(seeded_client, i) for i in sellable}
    assert sum(qoh for qoh, _ in after.values()) == 52
    for item_id, (qoh, atp) in after.items():
        assert atp == qoh - (2 if item_id == reserved_on else 0), item_id
    counted = answer.json()["variances"][0]
    assert (counted["inventoryItemId"], counted["quantityCounted"]) == ("FG002-INV-001", 52)
    moved = 52 - sum(qoh for qoh, _ in before.values())
    assert counted["quantityOnHandVar"] == moved
    assert (_item(seeded_client, "FG002-RET"), _item(seeded_client, "FG002-BAD")) == ((1, 0), (1, 0))
    summary = seeded_client.get(f"/v1/availability?facilityId={FACILITY}&productId=FG002").json()
    assert (
        summary["quantityOnHandTotal"],
        summary["availableToPromiseTotal"],
        summary["reservedQuantity"],
    ) == (
        54,
        50,
        2,
    )
    assert (summary["notPromisable"]["returned"], summary["notPromisable"]["defective"]) == (1, 1)
    again = _count(seeded_client, "PI_FG002", {"productId": "FG002", "quantityCounted": 52})
    assert again.status_code == 200
    assert again.json()["alreadyRecorded"] is True
    assert again.json()["variances"] == [
        {k: v for k, v in row.items() if k != "inventoryItemDetailSeqId"} | {"inventoryItemDetailSeqId": None}
        for row in sorted(answer.json()["variances"], key=lambda r: r["inventoryItemId"])
    ]
    assert {i: _item(seeded_client, i) for i in sellable} == after


def test_every_sellable_items_atp_becomes_its_qoh_less_its_reservations(
    seeded_client: TestClient, seeded: Database
) -> None:
    with seeded.transaction() as session:  # ATP lowered without a reservation (as a rejection does)
        post(session, Posting(FACILITY, "FG002-INV-002", "REJECT", available_to_promise_diff=Decimal(-3)))
    qoh_2, _ = _item(seeded_client, "FG002-INV-002")
    answer = _count(seeded_client, "PI_ATP", {"productId": "FG002", "quantityCounted": 31})
    assert answer.status_code == 200, answer.text
    assert _item(seeded_client, "FG002-INV-002") == (qoh_2, qoh_2)
    correction = [v for v in answer.json()["variances"] if v["inventoryItemId"] == "FG002-INV-002"]
    assert [
        (v["quantityCounted"], v["quantityOnHandVar"], v["availableToPromiseVar"]) for v in correction
    ] == [(None, 0, 3)]


def test_non_sellable_items_are_counted_by_item_beside_the_product(
    seeded_client: TestClient, seeded: Database
) -> None:
    add_item(seeded, "FG002", "FG002-RET", 1, status_id="INV_RETURNED", atp=0)
    answer = _count(
        seeded_client,
        "PI_BOTH",
        {"productId": "FG002", "quantityCounted": 40},
        {"inventoryItemId": "FG002-RET", "quantityCounted": 3},
    )
    assert answer.status_code == 200, answer.text
    assert _item(seeded_client, "FG002-RET") == (3, 3)
    summary = seeded_client.get(f"/v1/availability?facilityId={FACILITY}&productId=FG002").json()
    assert (summary["quantityOnHandTotal"], summary["availableToPromiseTotal"]) == (43, 40)
    assert summary["notPromisable"]["returned"] == 3


def test_a_sellable_item_of_a_product_counted_whole_is_refused_and_nothing_changes(
    seeded_client: TestClient,
) -> None:
    before = _item(seeded_client, "FG002-INV-001")
    answer = _count(
        seeded_client,
        "PI_TWICE",
        {"productId": "FG002", "quantityCounted": 40},
        {"inventoryItemId": "FG002-INV-002", "quantityCounted": 3},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "validation_failed"
    assert _item(seeded_client, "FG002-INV-001") == before
    assert seeded_client.get("/v1/inventory-items/FG002-INV-001/details").json()["items"][-1][
        "physicalInventoryId"
    ] != ("PI_TWICE")


def test_a_product_with_no_sellable_item_is_counted_into_a_new_available_item(
    seeded_client: TestClient, seeded: Database
) -> None:
    add_item(seeded, "HELDC", "HELDC-1", 4, status_id="INV_ON_HOLD")  # its facility item
    answer = _count(seeded_client, "PI_NEW", {"productId": "HELDC", "quantityCounted": 5})
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["variances"]
    assert row["inventoryItemId"] != "HELDC-1"
    assert (row["quantityOnHandVar"], row["availableToPromiseVar"]) == (5, 5)
    new = seeded_client.get(f"/v1/inventory-items/{row['inventoryItemId']}").json()
    assert (new["statusId"], new["quantityOnHandTotal"], new["availableToPromiseTotal"]) == (
        "INV_AVAILABLE",
        5,
        5,
    )
    assert _item(seeded_client, "HELDC-1") == (4, 4)


def _product_c1(seeded: Database) -> None:
    """The tester's product: facility item 10, lot LC1 5, expired lot LC1x 2, 4 on hold."""
    add_item(seeded, "C1", "C1-FAC", 10)  # the first item: its facility item
    add_item(seeded, "C1", "LC1", 5, expire_date=FAR)
    add_item(seeded, "C1", "LC1x", 2, expire_date=EXPIRED)
    add_item(seeded, "C1", "C1-HOLD", 4, status_id="INV_ON_HOLD")


def test_a_product_count_takes_a_shortage_from_the_facility_item_and_leaves_expired_lots(
    seeded_client: TestClient, seeded: Database
) -> None:
    _product_c1(seeded)
    assert _reserve(seeded_client, "O-C1", "C1", 3) == "LC1"
    answer = _count(seeded_client, "PI_C1_6", {"productId": "C1", "quantityCounted": 6})
    assert answer.status_code == 200, answer.text
    items = ("C1-FAC", "LC1", "LC1x", "C1-HOLD")
    assert [_item(seeded_client, i) for i in items] == [(1, 1), (5, 2), (2, 2), (4, 4)]
    assert "LC1x" not in {v["inventoryItemId"] for v in answer.json()["variances"]}


def test_a_product_count_puts_no_item_below_zero_and_keeps_the_reserved_units(
    seeded_client: TestClient, seeded: Database
) -> None:
    _product_c1(seeded)
    _reserve(seeded_client, "O-C1", "C1", 3)
    answer = _count(seeded_client, "PI_C1_1", {"productId": "C1", "quantityCounted": 1})
    assert answer.status_code == 200, answer.text
    items = ("C1-FAC", "LC1", "LC1x", "C1-HOLD")
    assert [_item(seeded_client, i) for i in items] == [(0, 0), (1, -2), (2, 2), (4, 4)]
    rows = {v["inventoryItemId"]: v for v in answer.json()["variances"]}
    assert rows["C1-FAC"]["quantityCounted"] == 1  # the counted line stays on the facility item
    assert {i: v["quantityOnHandVar"] for i, v in rows.items()} == {"C1-FAC": -10, "LC1": -4}
    summary = seeded_client.get(f"/v1/availability?facilityId={FACILITY}&productId=C1").json()
    assert (summary["quantityOnHandTotal"], summary["reservedQuantity"]) == (7, 3)


def test_an_expired_facility_item_stays_and_the_count_goes_to_a_sellable_item(
    seeded_client: TestClient, seeded: Database
) -> None:
    """An outside tester (session 11): a count by product wrote an expired lot to 0 as VAR_LOST.
    Only promisable items are counted; an expired facility item gives way, as in a variance."""
    add_item(seeded, "EXP", "EXP-OLD", 3, expire_date=EXPIRED)  # its facility item
    answer = _count(seeded_client, "PI_EXP", {"productId": "EXP", "quantityCounted": 5})
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["variances"]
    assert row["inventoryItemId"] != "EXP-OLD"
    assert (row["quantityCounted"], row["quantityOnHandVar"]) == (5, 5)
    assert _item(seeded_client, "EXP-OLD") == (3, 3)
    add_item(seeded, "EXP", "EXP-NEW", 2, expire_date=FAR)
    answer = _count(seeded_client, "PI_EXP2", {"productId": "EXP", "quantityCounted": 4})
    assert answer.status_code == 200, answer.text
    assert {v["inventoryItemId"] for v in answer.json()["variances"]} & {"EXP-OLD"} == set()
    assert _item(seeded_client, "EXP-OLD") == (3, 3)
    summary = seeded_client.get(f"/v1/availability?facilityId={FACILITY}&productId=EXP").json()
    assert (summary["availableToPromiseTotal"], summary["notPromisable"]["expired"]) == (4, 3)


def test_an_expired_lot_is_counted_by_item_beside_its_product(
    seeded_client: TestClient, seeded: Database
) -> None:
    _product_c1(seeded)
    answer = _count(
        seeded_client,
        "PI_C1_LOT",
        {"productId": "C1", "quantityCounted": 15},
        {"inventoryItemId": "LC1x", "quantityCounted": 1},
    )
    assert answer.status_code == 200, answer.text
    items = ("C1-FAC", "LC1", "LC1x", "C1-HOLD")
    assert [_item(seeded_client, i) for i in items] == [(10, 10), (5, 5), (1, 1), (4, 4)]
