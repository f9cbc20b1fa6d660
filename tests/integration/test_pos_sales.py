"""POS sales on both databases: a shipment created and shipped at once, QOH and ATP − n."""

import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from stockledger.core.db import Database
from stockledger.core.errors import InsufficientStock, NotFound
from stockledger.events.models import OutboxEvent
from stockledger.ledger.models import InventoryItem, InventoryItemDetail, ItemIssuance, Shipment
from stockledger.shipping.pos import record_pos_sale
from stockledger.shipping.schemas import PosSaleIn

D = Decimal


def sale(order_id: str = "POS1", **lines: Any) -> PosSaleIn:
    items = [
        {"orderItemSeqId": f"{n:05d}", "productId": product, "quantity": quantity}
        for n, (product, quantity) in enumerate(lines.items(), start=1)
    ]
    return PosSaleIn.model_validate({"orderId": order_id, "facilityId": "FACILITY_1", "items": items})


def totals(db: Database, item_id: str) -> tuple[Decimal, Decimal]:
    with db.reading() as session:
        item = session.get(InventoryItem, ("FACILITY_1", item_id))
        assert item is not None
        return item.quantity_on_hand_total, item.available_to_promise_total


def last_detail(db: Database, item_id: str) -> InventoryItemDetail:
    with db.reading() as session:
        row = session.scalars(
            select(InventoryItemDetail)
            .where(InventoryItemDetail.inventory_item_id == item_id)
            .order_by(InventoryItemDetail.seq_num.desc())
        ).first()
        assert row is not None
        return row


def events(db: Database, event_type: str) -> list[dict[str, Any]]:
    with db.reading() as session:
        rows = session.scalars(
            select(OutboxEvent.payload)
            .where(OutboxEvent.event_type == event_type)
            .order_by(OutboxEvent.event_seq)
        )
        return [json.loads(r) for r in rows]


def counts(db: Database) -> tuple[int, ...]:
    with db.reading() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Shipment, ItemIssuance, InventoryItemDetail, OutboxEvent)
        )


def test_a_pos_sale_ships_at_once_and_lowers_qoh_and_atp(seeded: Database) -> None:
    assert totals(seeded, "FG001-INV-001") == (13, 13)
    with seeded.transaction() as session:
        shipped = record_pos_sale(session, sale(FG001=5))
    assert shipped.status_id == "SHIPMENT_SHIPPED"
    # FEFO: FG001-INV-001 (received 2024-07-10) before FG001-INV-002 (2024-07-12)
    assert totals(seeded, "FG001-INV-001") == (8, 8)
    assert totals(seeded, "FG001-INV-002") == (18, 18)
    [issuance] = shipped.issuances
    # no cost layers for seed stock: the item's unitCost 10.50 × 5 = 52.50
    assert (issuance.inventory_item_id, issuance.quantity, issuance.cogs) == ("FG001-INV-001", 5, D("52.5"))
    assert shipped.total_cogs == D("52.5")
    row = last_detail(seeded, "FG001-INV-001")
    assert (row.quantity_on_hand_diff, row.available_to_promise_diff) == (-5, -5)
    assert (row.order_id, row.order_item_seq_id, row.shipment_id, row.shipment_item_seq_id) == (
        "POS1",
        "00001",
        shipped.shipment_id,
        "00001",
    )
    assert row.item_issuance_id == issuance.item_issuance_id
    with seeded.reading() as session:
        stored = session.get(ItemIssuance, ("FACILITY_1", issuance.item_issuance_id))
        assert stored is not None
        assert (stored.order_id, stored.shipment_id, stored.quantity, stored.cogs) == (
            "POS1",
            shipped.shipment_id,
            5,
            D("52.5"),
        )
    [event] = events(seeded, "ShipmentConfirmed")
    assert event["posSale"] is True
    assert event["shipmentId"] == shipped.shipment_id
    assert event["issuances"][0]["quantity"] == 5
    assert event["totalCogs"] == 52.5


def test_a_pos_sale_spreads_over_items_fefo(seeded: Database) -> None:
    with seeded.transaction() as session:
        shipped = record_pos_sale(session, sale(FG001=20, FG002=1))
    assert [(i.product_id, i.inventory_item_id, i.quantity) for i in shipped.issuances] == [
        ("FG001", "FG001-INV-001", 13),
        ("FG001", "FG001-INV-002", 7),
        ("FG002", "FG002-INV-001", 1),
    ]
    assert totals(seeded, "FG001-INV-001") == (0, 0)
    assert totals(seeded, "FG001-INV-002") == (11, 11)
    # 20 × 10.50 + 1 × 12.00 = 222
    assert shipped.total_cogs == 222


def test_a_pos_sale_beyond_atp_is_refused_and_changes_nothing(seeded: Database) -> None:
    before = (counts(seeded), totals(seeded, "FG001-INV-001"), totals(seeded, "FG001-INV-002"))
    with pytest.raises(InsufficientStock), seeded.transaction() as session:
        record_pos_sale(session, sale(FG002=1, FG001=32))  # FG001 has 13 + 18 = 31
    assert (counts(seeded), totals(seeded, "FG001-INV-001"), totals(seeded, "FG001-INV-002")) == before


def test_a_pos_sale_of_an_unknown_product_changes_nothing(seeded: Database) -> None:
    before = counts(seeded)
    with pytest.raises(NotFound), seeded.transaction() as session:
        record_pos_sale(session, sale(FG001=1, NOPE=1))
    assert counts(seeded) == before
