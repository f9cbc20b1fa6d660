"""Which shipment a receipt may name: a purchase shipment, never a sales shipment of this ledger.

Every shipment this ledger holds is a sales shipment (`POST /v1/shipments`, a POS sale): stock
leaves with it, none arrives, so a receipt naming one is refused, `409 conflict` (the id is well
formed; the shipment it names does not fit), or `403` naming nothing for a token that may not
touch the facility that holds it (ids of held shipments are global, SECURITY.md "No oracles").

A purchase shipment belongs to the purchasing system and is known here only by the receipts that
name it, which are keyed per facility (SPEC §9: the facility is the distribution key, and no
facility's transaction reads another's rows). Its id is therefore the facility's: receiving
PO-1 in FACILITY_2 after FACILITY_1 received a PO-1 is that facility's own first receipt, and
`already_received` counts the lines received in the same facility only. A global check would read
every facility's receipts on each receipt (no index serves it: ~0.5 s at 500,000 receipts on
PostgreSQL, a fan-out to every shard on Citus) and would tell a scoped token that another facility
received that id.
"""

from sqlalchemy.orm import Session

from stockledger.core.errors import Conflict
from stockledger.core.scope import check_owner
from stockledger.shipping.service import find_shipment


class NotAPurchaseShipment(Conflict):
    title = "Not a purchase shipment"


def check_receivable(session: Session, shipment_id: str, facility_id: str) -> None:
    """Refuse a sales shipment of this ledger (any facility's)."""
    shipment = find_shipment(session, shipment_id)
    if shipment is None:
        return
    check_owner(session, shipment.facility_id, f"shipment {shipment_id}", shipmentId=shipment_id)
    raise NotAPurchaseShipment(
        f"Shipment {shipment_id} is a sales shipment of facility {shipment.facility_id}: "
        "a receipt names a purchase shipment",
        shipmentId=shipment_id,
        facilityId=facility_id,
    )
