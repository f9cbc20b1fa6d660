"""Shipments on both databases: create, patch, reset (seed 002); no inventory moves."""

from typing import Any

import pytest
from sqlalchemy import func, select

from stockledger.core.db import Database
from stockledger.core.errors import Conflict, NotFound
from stockledger.ledger.models import (
    InventoryItemDetail,
    OrderItemShipGroup,
    Shipment,
    ShipmentItem,
    ShipmentRouteSegment,
)
from stockledger.shipping import service
from stockledger.shipping.schemas import ShipmentCreate


def shipment_doc(shipment_id: str = "SH1", order_id: str = "ORD1", **extra: Any) -> dict[str, Any]:
    return {
        "shipmentId": shipment_id,
        "primaryOrderId": order_id,
        "originFacilityId": "FACILITY_1",
        "items": [
            {"shipmentItemSeqId": "00001", "orderItemSeqId": "00001", "productId": "FG001", "quantity": 3},
            {"shipmentItemSeqId": "00002", "orderItemSeqId": "00002", "productId": "FG002", "quantity": 2},
        ],
        "shipGroup": {"shipGroupSeqId": "00001", "carrierPartyId": "UPS", "shipmentMethodTypeId": "GROUND"},
        "routeSegments": [
            {"shipmentRouteSegmentId": "00001"},
            {"shipmentRouteSegmentId": "00002", "carrierPartyId": "DHL", "shipmentMethodTypeId": "AIR"},
        ],
        **extra,
    }


def _create(db: Database, doc: dict[str, Any]) -> service.ShipmentView:
    with db.transaction() as session:
        return service.create_shipment(session, ShipmentCreate.model_validate(doc))


def _snapshot(db: Database) -> tuple[Any, ...]:
    """Everything a shipment call could touch, to prove a refusal changed nothing."""
    with db.reading() as session:
        shipments = session.execute(
            select(
                Shipment.shipment_id,
                Shipment.status_id,
                Shipment.carrier_party_id,
                Shipment.shipment_method_type_id,
            )
        ).all()
        segments = session.execute(
            select(
                ShipmentRouteSegment.shipment_route_segment_id,
                ShipmentRouteSegment.carrier_party_id,
                ShipmentRouteSegment.shipment_method_type_id,
            )
        ).all()
        counts = [
            session.scalar(select(func.count()).select_from(m))
            for m in (ShipmentItem, OrderItemShipGroup, InventoryItemDetail)
        ]
        return (sorted(shipments), sorted(segments), counts)


def _carriers(view: service.ShipmentView) -> list[tuple[str | None, str | None]]:
    return [(view.carrier_party_id, view.shipment_method_type_id)] + [
        (s.carrier_party_id, s.shipment_method_type_id) for s in view.route_segments
    ]


def test_a_shipment_starts_in_input_with_its_ship_group_carrier_and_method(seeded: Database) -> None:
    view = _create(seeded, shipment_doc())
    assert (view.shipment_id, view.status_id, view.origin_facility_id) == (
        "SH1",
        "SHIPMENT_INPUT",
        "FACILITY_1",
    )
    assert (view.primary_order_id, view.primary_ship_group_seq_id) == ("ORD1", "00001")
    # the first segment takes the ship group's carrier and method, the second keeps its own
    assert _carriers(view) == [("UPS", "GROUND"), ("UPS", "GROUND"), ("DHL", "AIR")]
    assert [(i.shipment_item_seq_id, i.order_id, i.quantity) for i in view.items] == [
        ("00001", "ORD1", 3),
        ("00002", "ORD1", 2),
    ]
    with seeded.reading() as session:
        group = session.get(OrderItemShipGroup, ("FACILITY_1", "ORD1", "00001"))
        assert group is not None
        assert (group.carrier_party_id, group.shipment_method_type_id) == ("UPS", "GROUND")


def test_a_shipment_id_is_generated_when_absent(seeded: Database) -> None:
    doc = shipment_doc()
    del doc["shipmentId"]
    view = _create(seeded, doc)
    assert view.shipment_id.startswith("SH")
    with seeded.reading() as session:
        assert service.get_shipment(session, view.shipment_id).items[0].product_id == "FG001"


def test_patch_changes_status_and_carrier_on_the_shipment_and_every_segment(seeded: Database) -> None:
    _create(seeded, shipment_doc())
    with seeded.transaction() as session:
        view = service.patch_shipment(session, "SH1", "SHIPMENT_APPROVED", "FEDEX", "NEXT_DAY")
    assert view.status_id == "SHIPMENT_APPROVED"
    assert _carriers(view) == [("FEDEX", "NEXT_DAY")] * 3
    with seeded.transaction() as session:
        view = service.patch_shipment(session, "SH1", shipment_method_type_id="TWO_DAY")
    assert _carriers(view) == [("FEDEX", "TWO_DAY")] * 3
    assert view.status_id == "SHIPMENT_APPROVED"


def test_reset_restores_input_and_the_ship_group_carrier_everywhere(seeded: Database) -> None:
    _create(seeded, shipment_doc())
    with seeded.transaction() as session:
        service.patch_shipment(session, "SH1", "SHIPMENT_PACKED", "FEDEX", "NEXT_DAY")
    details_before = _snapshot(seeded)[2][2]
    with seeded.transaction() as session:
        view = service.reset_shipment(session, "SH1")
    assert view.status_id == "SHIPMENT_INPUT"
    # seed 002: carrier and method from the OrderItemShipGroup on the shipment AND every segment
    assert _carriers(view) == [("UPS", "GROUND")] * 3
    assert _snapshot(seeded)[2][2] == details_before  # no inventory change on reset


@pytest.mark.parametrize("final_status", ["SHIPMENT_CANCELLED", "SHIPMENT_SHIPPED"])
def test_a_final_shipment_cannot_be_reset_or_patched(seeded: Database, final_status: str) -> None:
    _create(seeded, shipment_doc())
    with seeded.transaction() as session:
        service.patch_shipment(session, "SH1", carrier_party_id="FEDEX")
        service.update_open_shipment(session, "SH1", "closed", status_id=final_status)
    before = _snapshot(seeded)
    with pytest.raises(Conflict, match=final_status), seeded.transaction() as session:
        service.reset_shipment(session, "SH1")
    with pytest.raises(Conflict), seeded.transaction() as session:
        service.patch_shipment(session, "SH1", "SHIPMENT_PACKED")
    assert _snapshot(seeded) == before


def test_reset_without_a_ship_group_is_a_conflict_and_changes_nothing(seeded: Database) -> None:
    doc = shipment_doc()
    del doc["shipGroup"]
    view = _create(seeded, doc)
    assert _carriers(view) == [(None, None), (None, None), ("DHL", "AIR")]
    with seeded.transaction() as session:
        service.patch_shipment(session, "SH1", "SHIPMENT_PACKED")
    before = _snapshot(seeded)
    with pytest.raises(Conflict, match="OrderItemShipGroup"), seeded.transaction() as session:
        service.reset_shipment(session, "SH1")
    assert _snapshot(seeded) == before


def test_a_second_shipment_of_the_order_updates_its_ship_group(seeded: Database) -> None:
    _create(seeded, shipment_doc())
    doc = shipment_doc("SH2")
    doc["shipGroup"] = {"shipGroupSeqId": "00001", "carrierPartyId": "USPS"}
    view = _create(seeded, doc)
    assert _carriers(view)[0] == ("USPS", "GROUND")  # the method it left out is kept


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({}, Conflict),  # SH1 exists already
        ({"originFacilityId": "NOWHERE"}, NotFound),
        (
            {
                "items": [
                    {"shipmentItemSeqId": "1", "orderItemSeqId": "1", "productId": "NOPE", "quantity": 1}
                ]
            },
            NotFound,
        ),
    ],
)
def test_bad_shipments_are_refused_and_write_nothing(
    seeded: Database, change: dict[str, Any], error: type[Exception]
) -> None:
    _create(seeded, shipment_doc())
    before = _snapshot(seeded)
    with pytest.raises(error), seeded.transaction() as session:
        service.create_shipment(session, ShipmentCreate.model_validate({**shipment_doc(), **change}))
    assert _snapshot(seeded) == before


def test_an_unknown_shipment_is_not_found(seeded: Database) -> None:
    with pytest.raises(NotFound), seeded.transaction() as session:
        service.reset_shipment(session, "NOPE")
