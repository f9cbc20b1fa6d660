"""The ERP reset's 415 names every media type the route takes (issue 20 F6), over HTTP on both
databases: JSON, and CSV as text/csv, application/csv or application/octet-stream."""

from fastapi.testclient import TestClient

from tests.e2e.test_shipping_api import problem

SEND = "Send application/json, or CSV as text/csv, application/csv or application/octet-stream"
CSV = "facilityId,productId,quantityOnHand,availableToPromise\nFACILITY_1,FG001,5,\n"


def test_the_415_names_every_media_type_the_reset_takes(seeded_client: TestClient) -> None:
    refused = seeded_client.post(
        "/v1/external-inventory-resets", content=CSV.encode(), headers={"Content-Type": "text/plain"}
    )
    assert problem(refused, 415, "unsupported_media_type")["detail"] == f"{SEND}, not text/plain"
    for media in ("text/csv", "application/csv", "application/octet-stream"):
        taken = seeded_client.post(
            "/v1/external-inventory-resets", content=CSV.encode(), headers={"Content-Type": media}
        )
        assert taken.status_code == 200, (media, taken.text)
