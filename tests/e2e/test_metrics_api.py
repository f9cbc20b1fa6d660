"""GET /metrics: Prometheus text, open; reservations, latency by route template, ledger rows."""

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

RESERVE_ROUTE = "/v1/reservations"


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = TestClient(client.app).get("/metrics")  # no token
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def sample(values: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


def reserve(client: TestClient, seq: str, quantity: int, fill: str = "ALL_OR_NOTHING") -> httpx.Response:
    body = {
        "orderId": "METRICS-1",
        "orderItemSeqId": seq,
        "productId": "FG001",
        "facilityId": "FACILITY_1",
        "quantity": quantity,
        "fill": fill,
    }
    return client.post(RESERVE_ROUTE, json=body)


def test_metrics_is_open_and_in_prometheus_text_format(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    answer = TestClient(client.app).get("/metrics")  # no token
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE stockledger_request_duration_seconds histogram" in answer.text
    assert (
        'stockledger_request_duration_seconds_bucket{le="0.005",method="GET",route="/healthz"' in answer.text
    )
    assert "# TYPE stockledger_ledger_rows_posted_total counter" in answer.text


def test_reservation_counts_outcome_latency_by_route_template_and_ledger_rows(
    seeded_client: TestClient,
) -> None:
    before = scrape(seeded_client)
    assert reserve(seeded_client, "00001", 2).status_code == 201
    assert reserve(seeded_client, "00002", 10_000).status_code == 409
    after = scrape(seeded_client)

    def went_up(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert went_up("stockledger_reservations_total", outcome="reserved") == 1
    assert went_up("stockledger_reservations_total", outcome="insufficient") == 1
    for status in ("201", "409"):
        labels = {"method": "POST", "route": RESERVE_ROUTE, "status": status}
        assert went_up("stockledger_request_duration_seconds_count", **labels) == 1
    assert went_up("stockledger_ledger_rows_posted_total") >= 1  # the refused one wrote nothing
    assert (
        went_up(
            "stockledger_request_duration_seconds_count", method="POST", route=RESERVE_ROUTE, status="500"
        )
        == 0
    )


def test_latency_is_labelled_by_route_template_not_raw_path(seeded_client: TestClient) -> None:
    count = "stockledger_request_duration_seconds_count"
    template = "/v1/inventory-items/{inventory_item_id}"
    before = scrape(seeded_client)
    assert seeded_client.get("/v1/inventory-items/FG001-INV-001").status_code == 200
    assert seeded_client.get("/v1/inventory-items/NO-SUCH-ITEM").status_code == 404
    after = scrape(seeded_client)
    for status in ("200", "404"):
        labels = {"method": "GET", "route": template, "status": status}
        assert sample(after, count, **labels) - sample(before, count, **labels) == 1
    routes = {dict(labels).get("route") for (name, labels) in after if name == count}
    assert not any(r and ("FG001-INV-001" in r or "NO-SUCH-ITEM" in r) for r in routes)


def test_ledger_rows_are_not_counted_when_the_transaction_rolls_back(seeded_client: TestClient) -> None:
    before = scrape(seeded_client)
    assert reserve(seeded_client, "00003", 10_000).status_code == 409
    after = scrape(seeded_client)
    key = ("stockledger_ledger_rows_posted_total", ())
    assert after.get(key, 0.0) == before.get(key, 0.0)


def test_partial_and_backorder_reservations_have_their_own_outcome(seeded_client: TestClient) -> None:
    before = scrape(seeded_client)
    # FG001 has 31 available: PARTIAL takes 31 of 40, then BACKORDER promises 5 with none there
    partial = reserve(seeded_client, "00004", 40, "PARTIAL").json()
    assert (partial["quantityReserved"], partial["quantityUnreserved"]) == (31, 9)
    assert reserve(seeded_client, "00005", 5, "BACKORDER").json()["quantityNotAvailable"] == 5
    order = {
        "facilityId": "FACILITY_1",
        "items": [{"orderItemSeqId": "00001", "productId": "FG002", "quantity": 1}],
    }
    assert seeded_client.post("/v1/orders/METRICS-2/reserve", json=order).status_code == 200
    after = scrape(seeded_client)
    for outcome, count in (("partial", 1), ("backorder", 1), ("reserved", 1), ("insufficient", 0)):
        labels = {"outcome": outcome}
        assert (
            sample(after, "stockledger_reservations_total", **labels)
            - sample(before, "stockledger_reservations_total", **labels)
            == count
        ), outcome
