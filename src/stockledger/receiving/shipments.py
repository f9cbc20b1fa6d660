"""Which shipment a receipt may name: a purchase shipment, received in one facility.

Every shipment this ledger holds is a sales shipment (`POST /v1/shipments`, a POS sale): stock
leaves with it, none arrives, so a receipt naming one is refused. A purchase shipment comes from
another system (the ERP) and is known here only by the receipts that name it. Shipment ids are
global (SECURITY.md, "No oracles"), so a purchase shipment is received in one facility: its id
received in another facility before is refused too. Both are `409 conflict` (the id is well
formed; the shipment it names does not fit), or `403` naming nothing for a token that may not
touch the facility holding the shipment or its receipts.

Nothing in the ledger holds a purchase shipment, so no row lock orders two first receipts of one
into two facilities: on PostgreSQL a transaction-level advisory lock on the shipment id does
(the two-key form, apart from core/fence.py's one-key locks), taken before the check, so the
second waits for the first to commit and then sees its receipt. SQLite writers queue anyway
(BEGIN IMMEDIATE, core/db.py).
"""

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from stockledger.core.errors import Conflict
from stockledger.core.scope import check_owner
from stockledger.core.statements import is_postgres
from stockledger.ledger.models import ShipmentReceipt
from stockledger.shipping.service import find_shipment

LOCK_SPACE = 0x52435054  # "RCPT": the first key of the receipts' shipment locks


class NotAPurchaseShipment(Conflict):
    title = "Not a purchase shipment"


def check_receivable(session: Session, shipment_id: str, facility_id: str) -> None:
    """Refuse a sales shipment, and a purchase shipment already received in another facility."""
    what = f"shipment {shipment_id}"
    if is_postgres(session):
        session.execute(
            text("SELECT pg_advisory_xact_lock(CAST(:space AS integer), hashtext(:id))"),
            {"space": LOCK_SPACE, "id": shipment_id},
        )
    shipment = find_shipment(session, shipment_id)
    if shipment is not None:
        check_owner(session, shipment.facility_id, what, shipmentId=shipment_id)
        raise NotAPurchaseShipment(
            f"Shipment {shipment_id} is a sales shipment of facility {shipment.facility_id}: "
            "a receipt names a purchase shipment",
            shipmentId=shipment_id,
            facilityId=facility_id,
        )
    r = ShipmentReceipt
    elsewhere = session.scalar(
        select(r.facility_id)
        .where(r.shipment_id == shipment_id, r.facility_id != facility_id)
        .order_by(r.facility_id)
        .limit(1)
    )
    if elsewhere is not None:
        check_owner(session, elsewhere, what, shipmentId=shipment_id)
        raise NotAPurchaseShipment(
            f"Shipment {shipment_id} was received in facility {elsewhere}: a purchase shipment "
            f"is received in one facility, not also in {facility_id}",
            shipmentId=shipment_id,
            facilityId=facility_id,
        )
