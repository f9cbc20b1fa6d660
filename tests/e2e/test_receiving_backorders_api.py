"""Over HTTP (both databases): a new lot fills a backorder and the pick list points at the lot."""

from fastapi.testclient import TestClient

FAC = "FACILITY_1"


def test_a_backorder_filled_by_a_new_lot_is_picked_from_the_lot(seeded_client: TestClient) -> None:
    everything = {"orderId": "ALL", "orderItemSeqId": "1", "productId": "FG002", "facilityId": FAC}
    assert seeded_client.post("/v1/reservations", json=everything | {"quantity": 31}).status_code == 201
    backorder = everything | {"orderId": "BO", "quantity": 2, "fill": "BACKORDER"}
    assert seeded_client.post("/v1/reservations", json=backorder).json()["quantityNotAvailable"] == 2
    nothing_yet = seeded_client.get("/v1/orders/BO/pick-suggestions")
    assert (nothing_yet.status_code, nothing_yet.json()["items"]) == (200, [])
    line = {"shipmentItemSeqId": "1", "productId": "FG002", "quantityAccepted": 5, "lotId": "L-NEW"}
    answer = seeded_client.post(
        "/v1/receipts", json={"shipmentId": "PO-1", "facilityId": FAC, "items": [line]}
    )
    assert answer.status_code == 201, answer.text
    [received] = answer.json()["items"]
    assert received["backordersFilled"] == 2
    picks = seeded_client.get("/v1/orders/BO/pick-suggestions").json()["items"]
    assert [(p["lotId"], p["quantityToPick"]) for p in picks] == [("L-NEW", 2)]
    lot_item = picks[0]["inventoryItemId"]
    assert lot_item != "FG002-INV-001"
    lot = seeded_client.get(f"/v1/inventory-items/{lot_item}").json()
    assert (lot["quantityOnHandTotal"], lot["availableToPromiseTotal"]) == (5, 3)
    facility_item = seeded_client.get("/v1/inventory-items/FG002-INV-001").json()
    assert facility_item["availableToPromiseTotal"] == 0  # its −2 went back up when the promise moved
    moved = seeded_client.get(f"/v1/inventory-items/{lot_item}/details").json()["items"][-1]
    assert (moved["reasonEnumId"], moved["availableToPromiseDiff"], moved["orderId"]) == (
        "RESERVATION_MOVED",
        -2,
        "BO",
    )
    availability = seeded_client.get(f"/v1/availability?facilityId={FAC}&productId=FG002").json()
    assert (availability["quantityOnHandTotal"], availability["availableToPromiseTotal"]) == (36, 3)
