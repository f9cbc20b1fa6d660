"""A failed reset line shows what it gave, over HTTP (an outside tester: an `invalid_line` said
`facilityId: null` where the line named a facility): in the answer and in the run's stored
failures, JSON and CSV alike; and a run whose failed line gives another facility is read by
unscoped tokens only, as one whose applied lines do."""

from fastapi.testclient import TestClient

from stockledger.core.db import Database
from tests.scope_support import bearer, second_facility

RESET = "/v1/external-inventory-resets"
F = "FACILITY_1"


def _failures(client: TestClient, answer: dict[str, object]) -> list[tuple[object, ...]]:
    stored = client.get(f"{RESET}/{answer['inventoryResetId']}/failures").json()["items"]
    listed = answer["failures"]
    assert stored == listed
    return [(f["line"], f["code"], f["facilityId"], f["productId"]) for f in stored]


def test_a_failed_line_shows_the_ids_it_gave(seeded_client: TestClient) -> None:
    lines = [
        {"facilityId": F, "productId": "FG 001", "quantityOnHand": 5},
        {"facilityId": "FAC-ILITY/1", "productId": "FG001", "quantityOnHand": 3},
        {"facilityId": F, "quantityOnHand": 3},
    ]
    answer = seeded_client.post(RESET, json={"lines": lines})
    assert answer.status_code == 200, answer.text
    assert _failures(seeded_client, answer.json()) == [
        (1, "invalid_line", F, "FG 001"),
        (2, "invalid_line", "FAC-ILITY/1", "FG001"),
        (3, "invalid_line", F, None),
    ]
    assert answer.json()["failures"][1]["message"].startswith("facilityId 'FAC-ILITY/1' is not a valid id")
    csv = "facilityId,productId,quantityOnHand\nFACILITY_1,FG#1,4\nFACILITY_1,FG001,4,9\n"
    answer = seeded_client.post(RESET, content=csv.encode(), headers={"content-type": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert _failures(seeded_client, answer.json()) == [
        (2, "invalid_line", F, "FG#1"),
        (3, "invalid_line", F, "FG001"),
    ]


def test_a_run_whose_failed_line_gives_another_facility_is_for_unscoped_tokens_only(
    seeded_client: TestClient, seeded: Database
) -> None:
    second_facility(seeded)
    lines = [
        {"facilityId": F, "productId": "FG001", "quantityOnHand": 5},
        {"facilityId": "FACILITY_2", "productId": "FG 001", "quantityOnHand": 1},
    ]
    run = seeded_client.post(RESET, json={"lines": lines}).json()
    assert [f["facilityId"] for f in run["failures"]] == ["FACILITY_2"]
    viewer = bearer(seeded, "viewer", [F])
    refused = seeded_client.get(f"{RESET}/{run['inventoryResetId']}/failures", headers=viewer)
    assert refused.status_code == 403, refused.text
    assert "FACILITY_2" not in refused.text
    assert seeded_client.get(f"{RESET}/{run['inventoryResetId']}").json()["facilityId"] is None
