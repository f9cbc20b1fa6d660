"""Test helpers for promisable ATP: items in a given status or with a given expiry."""

from datetime import UTC, datetime
from decimal import Decimal

from stockledger.catalog.inventory_items import link_product_facility
from stockledger.core.db import Database
from stockledger.events.outbox import record_event
from stockledger.ledger.models import InventoryItem, Product
from stockledger.ledger.post import Posting, post

FACILITY = "FACILITY_1"
EXPIRED = datetime(2020, 1, 1, tzinfo=UTC)  # the reproduction's lot
FAR = datetime(2097, 1, 1, tzinfo=UTC)


def add_item(
    db: Database,
    product_id: str,
    item_id: str,
    quantity: int,
    status_id: str = "INV_AVAILABLE",
    expire_date: datetime | None = None,
    received: datetime | None = None,
    atp: int | None = None,
) -> str:
    """A new item of `product_id` (created if unknown) in FACILITY, `quantity` on hand and ATP
    (or `atp`),
    posted through the ledger (effective at `received`, else now); its id. A new product's
    first item becomes its facility item."""
    with db.transaction() as session:
        if session.get(Product, product_id) is None:
            session.add(Product(product_id=product_id, product_name=f"Product {product_id}"))
            session.flush()
        session.add(
            InventoryItem(
                facility_id=FACILITY,
                inventory_item_id=item_id,
                product_id=product_id,
                status_id=status_id,
                expire_date=expire_date,
                datetime_received=received,
            )
        )
        session.flush()
        link_product_facility(session, FACILITY, product_id, item_id)  # a new product's first item
        q = Decimal(quantity)
        posting = Posting(
            FACILITY,
            item_id,
            "INV_RECEIPT",
            quantity_on_hand_diff=q,
            available_to_promise_diff=q if atp is None else Decimal(atp),
            effective_date=received,
        )
        post(session, posting)
        payload = {"facilityId": FACILITY, "productId": product_id, "inventoryItemId": item_id}
        record_event(session, FACILITY, "InventoryChanged", payload)  # as every service does
    return item_id
