"""An order's lines to reserve and what was reserved for them: the types every entry shares,
the checks of a request, the StockReserved event's payload, and a line as the ledger's
one-statement reservation (ledger/sole_item_pg.py)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from stockledger.core.errors import ValidationFailed, listed_errors
from stockledger.core.fixed import ZERO
from stockledger.core.quantities import json_number
from stockledger.core.schemas import DUPLICATE_LINE
from stockledger.ledger.post import SoleItemReservation
from stockledger.reservations.rules import RESERVE_REASON


@dataclass(frozen=True, slots=True)
class ReserveLine:
    order_item_seq_id: str
    product_id: str
    quantity: Decimal
    lot_id: str | None = None
    allow_expired: bool = False  # FEFO may take an expired lot (SPEC §11: only when asked)


@dataclass(frozen=True, slots=True)
class ReservedFrom:
    inventory_item_id: str
    quantity: Decimal
    quantity_not_available: Decimal


@dataclass(frozen=True, slots=True)
class LineOutcome:
    order_item_seq_id: str
    product_id: str
    lot_id: str | None
    quantity_requested: Decimal
    reservations: list[ReservedFrom]

    @property
    def quantity_reserved(self) -> Decimal:
        return sum((r.quantity for r in self.reservations), ZERO)

    @property
    def quantity_not_available(self) -> Decimal:
        return sum((r.quantity_not_available for r in self.reservations), ZERO)

    @property
    def quantity_unreserved(self) -> Decimal:
        """PARTIAL: what could not be promised at all."""
        return self.quantity_requested - self.quantity_reserved


@dataclass(frozen=True, slots=True)
class ReserveOutcome:
    order_id: str
    facility_id: str
    fill: str
    lines: list[LineOutcome] = field(default_factory=list)


def check_lines(lines: Sequence[ReserveLine]) -> None:
    if not lines:
        raise ValidationFailed("An order to reserve needs at least one line")
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.quantity.is_finite() or line.quantity <= 0:
            sent = {"quantity": line.quantity} if line.quantity.is_finite() else {}  # a number, as sent
            raise ValidationFailed(
                "quantity must be a positive number", orderItemSeqId=line.order_item_seq_id, **sent
            )
        if line.order_item_seq_id in seen:
            # The shape of the API's refusal (core.schemas.unique_lines), for the other callers.
            seq_id = line.order_item_seq_id
            msg = f"orderItemSeqId {seq_id} appears twice: on lines {seen[seq_id]} and {number}"
            raise ValidationFailed(
                f"body.items: {msg}",
                orderItemSeqId=line.order_item_seq_id,
                **listed_errors([{"loc": ["body", "items"], "msg": msg, "type": DUPLICATE_LINE}]),
            )
        seen[line.order_item_seq_id] = number


def whole_line(line: ReserveLine, item_id: str) -> LineOutcome:
    reserved = [ReservedFrom(item_id, line.quantity, ZERO)]
    return LineOutcome(line.order_item_seq_id, line.product_id, line.lot_id, line.quantity, reserved)


def sole_item_outcome(
    order_id: str, facility_id: str, fill: str, line: ReserveLine, item_id: str
) -> ReserveOutcome:
    """The line reserved whole from the sole item `item_id`."""
    return ReserveOutcome(order_id, facility_id, fill, [whole_line(line, item_id)])


_ZERO_JSON = json_number(ZERO)


def sole_item(order_id: str, facility_id: str, line: ReserveLine, fill: str) -> SoleItemReservation:
    """The line as the ledger's one-statement reservation; its event as the general path's."""

    def payload(item_id: str) -> dict[str, Any]:
        # reserved_event of the line reserved whole from `item_id`, its quantities already the JSON
        # numbers the outbox writes for them (json_number): the same text, and the encoder calls
        # no `default` for them (≈ 8 µs warm, about 3 times that cold, of every reservation's CPU)
        requested, none = json_number(line.quantity), _ZERO_JSON
        return {
            "facilityId": facility_id,
            "orderId": order_id,
            "fill": fill,
            "productIds": [line.product_id],
            "lines": [
                {
                    "orderItemSeqId": line.order_item_seq_id,
                    "productId": line.product_id,
                    "quantityRequested": requested,
                    "quantityReserved": json_number(ZERO + line.quantity),  # as LineOutcome sums
                    "quantityNotAvailable": none,
                    "reservations": [
                        {"inventoryItemId": item_id, "quantity": requested, "quantityNotAvailable": none}
                    ],
                }
            ],
        }

    return SoleItemReservation(
        facility_id,
        order_id,
        line.order_item_seq_id,
        line.product_id,
        line.lot_id,
        line.quantity,
        RESERVE_REASON,
        "StockReserved",
        payload,
        line.allow_expired,
    )


# A StockReserved event's productIds stay this small, so that its lines, cut into parts by
# events.outbox.payload_parts, have the room of a part (ids are at most 60 characters).
PRODUCT_IDS_BYTES = 16 * 1024


def reserved_events(outcome: ReserveOutcome, most_lines: int) -> list[dict[str, Any]]:
    """The StockReserved payloads of an order's reserved lines: at most `most_lines` lines each,
    and no more than PRODUCT_IDS_BYTES of product ids."""
    payloads: list[dict[str, Any]] = []
    run: list[LineOutcome] = []
    ids: set[str] = set()
    size = 0
    for line in outcome.lines:
        if not line.reservations:
            continue
        grows = line.product_id not in ids
        full = grows and size + len(line.product_id) + 3 > PRODUCT_IDS_BYTES
        if run and (len(run) == most_lines or full):
            payloads.append(reserved_event(outcome, run))
            run, ids, size = [], set(), 0
            grows = True
        run.append(line)
        if grows:
            ids.add(line.product_id)
            size += len(line.product_id) + 3
    if run:
        payloads.append(reserved_event(outcome, run))
    return payloads


def reserved_event(outcome: ReserveOutcome, lines: Sequence[LineOutcome]) -> dict[str, Any]:
    """The StockReserved payload of some lines of an order."""
    return {
        "facilityId": outcome.facility_id,
        "orderId": outcome.order_id,
        "fill": outcome.fill,
        "productIds": sorted({line.product_id for line in lines}),
        "lines": [
            {
                "orderItemSeqId": line.order_item_seq_id,
                "productId": line.product_id,
                "quantityRequested": line.quantity_requested,
                "quantityReserved": line.quantity_reserved,
                "quantityNotAvailable": line.quantity_not_available,
                "reservations": [
                    {
                        "inventoryItemId": r.inventory_item_id,
                        "quantity": r.quantity,
                        "quantityNotAvailable": r.quantity_not_available,
                    }
                    for r in line.reservations
                ],
            }
            for line in lines
        ],
    }
