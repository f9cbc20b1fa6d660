"""No event payload is over 64 KB: a bulk change's event comes in parts (docs/events.md)."""

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from stockledger.core.db import Database
from stockledger.events.feed import FeedEvent
from stockledger.events.models import OutboxEvent
from stockledger.events.outbox import EVENT_BYTES, PAYLOAD_BYTES, payload_parts
from stockledger.events.schemas import event_body
from stockledger.ledger.models import Product
from stockledger.reservations.lines import ReserveLine
from stockledger.reservations.service import reserve_stock
from stockledger.resets.rules import RawLine
from stockledger.resets.service import reset_inventory

F = "FACILITY_1"
PRODUCTS = 700  # about 160 KB of changed lines: three parts


def test_a_payload_that_fits_is_one_part_and_its_json_unchanged() -> None:
    payload = {"facilityId": F, "changes": [{"productId": "P1", "quantity": 2}]}
    assert payload_parts(payload) == [
        '{"facilityId":"FACILITY_1","changes":[{"productId":"P1","quantity":2}]}'
    ]


def test_a_large_payload_is_cut_along_its_longest_list_into_numbered_parts() -> None:
    lines = [{"productId": f"P{n:05d}", "note": "é" * 40} for n in range(3_000)]
    payload = {"facilityId": F, "inventoryResetId": "IR1", "tags": ["a"], "changes": lines}
    parts = [json.loads(text) for text in payload_parts(payload)]
    assert all(len(text) <= PAYLOAD_BYTES for text in payload_parts(payload))
    assert len({p["partOf"] for p in parts}) == 1  # one series
    assert len(parts) > 2
    assert [(p["part"], p["parts"]) for p in parts] == [(n, len(parts)) for n in range(1, len(parts) + 1)]
    assert all((p["facilityId"], p["inventoryResetId"], p["tags"]) == (F, "IR1", ["a"]) for p in parts)
    assert [line for p in parts for line in p["changes"]] == lines  # every line once, in order


def test_a_payload_at_the_limit_is_one_part_and_one_byte_over_is_cut() -> None:
    """Its list's items alone fit (so the whole is dumped and measured): the whole decides."""

    def payload(note: int) -> dict[str, Any]:
        lines = [{"productId": f"P{n:05d}", "note": "x" * 50} for n in range(600)]
        return {"facilityId": F, "note": "y" * note, "changes": lines}

    fits = PAYLOAD_BYTES - len(json.dumps(payload(0), separators=(",", ":")))
    assert fits > 0
    assert payload_parts(payload(fits)) == [json.dumps(payload(fits), separators=(",", ":"))]
    over = payload_parts(payload(fits + 1))
    assert len(over) == 2
    assert all(len(text) <= PAYLOAD_BYTES for text in over)
    assert [line for text in over for line in json.loads(text)["changes"]] == payload(0)["changes"]


def _events(db: Database, event_type: str) -> list[tuple[int, str]]:
    with db.reading() as session:
        rows = session.execute(
            select(OutboxEvent.event_seq, OutboxEvent.payload)
            .where(OutboxEvent.event_type == event_type)
            .order_by(OutboxEvent.event_seq)
        )
        return [(int(seq), payload) for seq, payload in rows]


def test_a_bulk_reset_records_its_changes_in_parts_under_64_kb(seeded: Database) -> None:
    with seeded.transaction() as session:
        session.add_all(Product(product_id=f"BULK-{n:04d}") for n in range(PRODUCTS))
    lines = [RawLine(n + 1, F, f"BULK-{n:04d}", 5) for n in range(PRODUCTS)]
    with seeded.transaction() as session:
        outcome = reset_inventory(session, lines, source="bulk")
    assert outcome.lines_changed == PRODUCTS
    events = _events(seeded, "InventoryChanged")
    payloads: list[dict[str, Any]] = [json.loads(text) for _, text in events]
    assert len(events) >= 3
    assert max(len(text.encode()) for _, text in events) <= EVENT_BYTES
    assert [seq for seq, _ in events] == sorted(seq for seq, _ in events)
    assert {(p["inventoryResetId"], p["parts"]) for p in payloads} == {
        (outcome.inventory_reset_id, len(events))
    }
    changed = [c["productId"] for p in payloads for c in p["changes"]]
    assert sorted(changed) == [f"BULK-{n:04d}" for n in range(PRODUCTS)]


def test_each_batch_of_a_reset_is_a_series_of_its_own_and_every_event_fits(seeded: Database) -> None:
    """Found by an outside tester: a 21,000-line reset (5,000-line batches) gave five series all
    numbered 1..n under one inventoryResetId; a consumer joining by (id, part) lost 16,000 lines.
    And the event item (eventSeq, type, facility and payload: what /v1/events and NATS carry) was
    a few dozen bytes over 64 KB."""
    with seeded.transaction() as session:
        session.add_all(Product(product_id=f"BULK-{n:04d}") for n in range(PRODUCTS))
    lines = [RawLine(n + 1, F, f"BULK-{n:04d}", 5) for n in range(PRODUCTS)]
    with seeded.transaction() as session:
        reset_inventory(session, lines, source="bulk", batch_size=PRODUCTS // 2)
    with seeded.reading() as session:
        rows = session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == "InventoryChanged")).all()
        feed = [
            FeedEvent(r.event_seq, r.event_type, r.facility_id, json.loads(r.payload), r.created_stamp)
            for r in rows
        ]
        bodies = [event_body(event) for event in feed]  # the NATS message, the /v1/events item
    payloads = [json.loads(row.payload) for row in rows]
    series: dict[str, list[int]] = {}
    for p in payloads:
        series.setdefault(p["partOf"], []).append(p["part"])
    assert len(series) == 2
    assert all(sorted(parts) == list(range(1, len(parts) + 1)) for parts in series.values())
    assert max(len(body) for body in bodies) <= EVENT_BYTES
    changed = sorted(c["productId"] for p in payloads for c in p["changes"])
    assert changed == [f"BULK-{n:04d}" for n in range(PRODUCTS)]


def test_the_list_cut_is_the_longest_by_text_not_by_count() -> None:
    """Found by bench/reserve_order_10k.py (81 s where it took 0.9 s): a StockReserved event has
    `productIds` and `lines`, as many of each; the ids (first, short) were cut, so every part
    carried all the lines (each part over 64 KB, one part per id, all the lines dumped again for
    each: quadratic)."""
    lines = [
        {"orderItemSeqId": f"{n:05d}", "productId": f"P{n:05d}", "note": "x" * 100} for n in range(1_500)
    ]
    payload = {"orderId": "O1", "productIds": [f"P{n:05d}" for n in range(1_500)], "lines": lines}
    texts = payload_parts(payload)
    parts = [json.loads(text) for text in texts]
    assert all(len(text) <= PAYLOAD_BYTES for text in texts)
    whole = len(json.dumps(payload, separators=(",", ":")))
    assert len(parts) <= whole // (PAYLOAD_BYTES - len(json.dumps(payload["productIds"]))) + 1
    assert [line for p in parts for line in p["lines"]] == lines
    assert all(p["productIds"] == payload["productIds"] for p in parts)


def test_a_large_order_reserves_in_few_stock_reserved_events_each_under_64_kb(seeded: Database) -> None:
    """2,000 lines of products with 60-character ids: each StockReserved event fits, its
    productIds name only its own lines' products, and every line is in exactly one event."""
    ids = [f"{n:04d}".ljust(60, "x") for n in range(2_000)]
    with seeded.transaction() as session:
        session.add_all(Product(product_id=p) for p in ids)
    resets = [RawLine(n + 1, F, p, 5) for n, p in enumerate(ids)]
    with seeded.transaction() as session:
        reset_inventory(session, resets, source="stock")
    order = [ReserveLine(f"{n:05d}", p, Decimal(1)) for n, p in enumerate(ids)]
    with seeded.transaction() as session:
        reserve_stock(session, "BIG-ORDER", F, order)
    payloads = [json.loads(text) for _, text in _events(seeded, "StockReserved")]
    assert all(len(json.dumps(p, separators=(",", ":"))) <= PAYLOAD_BYTES for p in payloads)
    assert len(payloads) <= 20
    series: dict[str, list[dict[str, Any]]] = {}
    for p in payloads:
        series.setdefault(p.get("partOf", str(id(p))), []).append(p)
    reserved = []
    for parts in series.values():
        own = {line["productId"] for part in parts for line in part["lines"]}
        assert all(set(part["productIds"]) == own for part in parts)
        reserved += [line["orderItemSeqId"] for part in parts for line in part["lines"]]
    assert sorted(reserved) == [line.order_item_seq_id for line in order]
