"""GET /v1/events: the outbox feed over HTTP."""

from fastapi.testclient import TestClient

from stockledger.core.db import Database
from stockledger.events.outbox import record_event


def test_the_feed_pages_in_sequence_order(client: TestClient, db: Database) -> None:
    with db.transaction() as session:
        seqs = [record_event(session, "FACILITY_1", "StockReserved", {"orderId": f"O{n}"}) for n in range(3)]
    page = client.get("/v1/events", params={"limit": 2}).json()
    assert [e["eventSeq"] for e in page["items"]] == seqs[:2]
    assert isinstance(page["next"], str)
    item = page["items"][0]
    assert set(item) == {"eventSeq", "eventType", "facilityId", "payload", "createdStamp"}
    assert (item["eventType"], item["facilityId"], item["payload"]) == (
        "StockReserved",
        "FACILITY_1",
        {"orderId": "O0"},
    )
    rest = client.get("/v1/events", params={"cursor": page["next"]}).json()
    assert [e["eventSeq"] for e in rest["items"]] == seqs[2:]
    assert rest["next"] is None
    # a consumer's stored position still starts the feed where it left off
    resumed = client.get("/v1/events", params={"after": seqs[1]}).json()
    assert [e["eventSeq"] for e in resumed["items"]] == seqs[2:]


def test_bad_paging_parameters_are_422(client: TestClient, db: Database) -> None:
    for params in ({"after": -1}, {"after": "x"}, {"after": 2**63}, {"limit": 0}, {"limit": 1001}):
        response = client.get("/v1/events", params=params)
        assert response.status_code == 422
        assert response.json()["code"] == "validation_failed"
