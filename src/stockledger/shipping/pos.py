"""POS sale (seed 000): the online sale process, a shipment created and shipped at once."""

from sqlalchemy.orm import Session

from stockledger.shipping.confirm import ShipmentShipped, confirm_shipment
from stockledger.shipping.schemas import PosSaleIn, ShipmentCreate, ShipmentItemIn
from stockledger.shipping.service import create_shipment


def record_pos_sale(session: Session, sale: PosSaleIn) -> ShipmentShipped:
    """Create the sale's shipment and ship it: QOH − n, ATP − n (guarded), issuances with COGS.

    A POS sale has no reservation, so its units are unreserved: they come only from what a new
    reservation could take (never units promised to other orders, never more than the product's
    net promisable ATP, expired lots only with `allowExpired`), else 409 insufficient_stock.
    Should the order item hold a reservation after all (e.g. buy online, pick up in store),
    shipping consumes it exactly as an online shipment would.
    """
    new = ShipmentCreate(
        primary_order_id=sale.order_id,
        origin_facility_id=sale.facility_id,
        items=[
            ShipmentItemIn(
                shipment_item_seq_id=f"{n:05d}",
                order_id=sale.order_id,
                order_item_seq_id=line.order_item_seq_id,
                product_id=line.product_id,
                quantity=line.quantity,
            )
            for n, line in enumerate(sale.items, start=1)
        ],
    )
    shipment = create_shipment(session, new)
    return confirm_shipment(
        session,
        shipment.shipment_id,
        allow_unreserved=True,
        event_extra={"posSale": True},
        allow_expired=sale.allow_expired,
    )
