"""Two first receipts of one purchase shipment into two facilities at once (PostgreSQL): the second
waits for the first to commit, then sees its receipt and is refused (409); nothing of it is
written. Without the advisory lock on the shipment id both would be stocked."""

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from stockledger.core.db import Database
from stockledger.core.errors import Conflict
from stockledger.ledger.models import ShipmentReceipt
from stockledger.receiving.schemas import ReceiptDoc
from stockledger.receiving.service import receive_purchase_shipment
from stockledger.receiving.shipments import NotAPurchaseShipment
from tests.conftest import POSTGRES_LIKE
from tests.scope_support import second_facility


def _doc(facility_id: str) -> ReceiptDoc:
    line = {"shipmentItemSeqId": "00001", "productId": "FG001", "quantityAccepted": 4}
    return ReceiptDoc.model_validate({"shipmentId": "PO-RACE", "facilityId": facility_id, "items": [line]})


@pytest.mark.parametrize("backend", POSTGRES_LIKE, indirect=True)
def test_the_second_facility_waits_for_the_first_then_is_refused(seeded: Database) -> None:
    second_facility(seeded)
    workers = Database(str(seeded.engine.url.render_as_string(hide_password=False)), pool_size=4)
    first_checked = threading.Event()
    release_first = threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with workers.transaction() as session:
            receive_purchase_shipment(session, _doc("FACILITY_1"))
            first_checked.set()
            assert release_first.wait(10)  # hold the transaction (and its lock) open

    def second() -> None:
        try:
            with workers.transaction() as session:
                receive_purchase_shipment(session, _doc("FACILITY_2"))
            outcome["second"] = "stocked"
        except Conflict as exc:
            outcome["second"] = exc

    one = threading.Thread(target=first)
    one.start()
    assert first_checked.wait(10)
    two = threading.Thread(target=second)
    two.start()
    two.join(timeout=1.0)
    assert two.is_alive(), "the second receipt did not wait for the first"
    release_first.set()
    one.join(timeout=10)
    two.join(timeout=10)
    workers.dispose()
    refused = outcome["second"]
    assert isinstance(refused, NotAPurchaseShipment), refused
    assert refused.detail.startswith("Shipment PO-RACE was received in facility FACILITY_1")
    with seeded.reading() as session:
        rows = session.execute(
            select(ShipmentReceipt.facility_id, func.sum(ShipmentReceipt.quantity_accepted))
            .where(ShipmentReceipt.shipment_id == "PO-RACE")
            .group_by(ShipmentReceipt.facility_id)
        ).all()
    assert [(f, Decimal(q)) for f, q in rows] == [("FACILITY_1", Decimal(4))]
