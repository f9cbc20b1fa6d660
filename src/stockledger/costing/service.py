"""Cost layers: price an issue by the facility's costing method, add layers, set the method."""

from datetime import datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from stockledger.catalog.inventory_items import require_facility
from stockledger.core.errors import ValidationFailed
from stockledger.core.ids import new_id
from stockledger.core.model_base import utcnow
from stockledger.costing.rules import COSTING_METHODS, DEFAULT_METHOD, IssueCost, Layer, cost_of_issue
from stockledger.ledger.models import CostLayer, Facility

LAYER = cast(Table, CostLayer.__table__)


def issue_cost(
    session: Session,
    facility_id: str,
    product_id: str,
    quantity: Decimal,
    fallback_unit_cost: Decimal | None,
) -> IssueCost:
    """Price an issue of `quantity` from the facility's layers and consume what it draws."""
    method = costing_method(session, facility_id)
    result = cost_of_issue(
        _locked_layers(session, facility_id, product_id), quantity, method, fallback_unit_cost
    )
    for draw in result.draws:
        session.execute(
            update(LAYER)
            .where(LAYER.c.facility_id == facility_id, LAYER.c.cost_layer_id == draw.layer_id)
            .values(quantity_remaining=LAYER.c.quantity_remaining - draw.quantity)
        )
    return result


def add_layer(
    session: Session,
    facility_id: str,
    product_id: str,
    inventory_item_id: str,
    quantity: Decimal,
    unit_cost: Decimal,
    received: datetime | None = None,
) -> str:
    """A new layer of `quantity` at `unit_cost` (e.g. returned units put back into stock)."""
    layer_id = new_id("CL")
    session.add(
        CostLayer(
            facility_id=facility_id,
            cost_layer_id=layer_id,
            product_id=product_id,
            inventory_item_id=inventory_item_id,
            received_datetime=received or utcnow(),
            quantity_received=quantity,
            quantity_remaining=quantity,
            unit_cost=unit_cost,
        )
    )
    session.flush()
    return layer_id


def costing_method(session: Session, facility_id: str) -> str:
    method = session.scalar(select(Facility.costing_method_id).where(Facility.facility_id == facility_id))
    return method if method in COSTING_METHODS else DEFAULT_METHOD


def set_costing_method(session: Session, facility_id: str, method: str) -> Facility:
    """Change how the facility prices what it issues from now on (FIFO, LIFO or AVERAGE)."""
    if method not in COSTING_METHODS:
        raise ValidationFailed(f"costingMethodId must be one of {', '.join(COSTING_METHODS)}")
    facility = require_facility(session, facility_id)
    facility.costing_method_id = method
    session.flush()
    return facility


def _locked_layers(session: Session, facility_id: str, product_id: str) -> list[Layer]:
    """Live layers, locked (in id order, so concurrent issues queue instead of deadlocking)."""
    rows = session.execute(
        select(
            LAYER.c.cost_layer_id, LAYER.c.received_datetime, LAYER.c.quantity_remaining, LAYER.c.unit_cost
        )
        .where(
            LAYER.c.facility_id == facility_id,
            LAYER.c.product_id == product_id,
            LAYER.c.quantity_remaining > 0,
        )
        .order_by(LAYER.c.cost_layer_id)
        .with_for_update()
    ).all()
    return [Layer(r[0], r[1], r[2], r[3]) for r in rows]
