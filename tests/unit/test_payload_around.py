"""An event payload around an id the statement learns: its JSON before and after that id."""

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockledger.events.outbox import payload_around, payload_parts
from stockledger.reservations.lines import ReserveLine, reserved_event, sole_item, sole_item_outcome


def _payload(item_id: str) -> dict[str, Any]:
    return {
        "orderId": "O1",
        "lines": [{"reservations": [{"inventoryItemId": item_id, "quantity": Decimal(3)}]}],
    }


def test_head_the_ids_json_and_tail_are_the_payload_byte_for_byte() -> None:
    head, tail = payload_around("StockReserved", _payload, "someone")
    (whole,) = payload_parts({**_payload('I-"1"'), "changeByUserLoginId": "someone"})  # as written
    assert head + json.dumps('I-"1"') + tail == whole


@pytest.mark.parametrize("payload", [lambda _: {"orderId": "O1"}, lambda i: {"a": i, "b": i}])
def test_a_payload_must_name_the_id_exactly_once(payload: Any) -> None:
    with pytest.raises(ValueError, match="exactly once"):
        payload_around("StockReserved", payload, None)


def test_an_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        payload_around("StockReservd", _payload, None)


_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
_QUANTITIES = st.one_of(
    st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(10) ** 9, places=6),
    st.decimals(min_value=Decimal(1), max_value=Decimal(10) ** 13, allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("1E+1"), Decimal("2.50"), Decimal("999999999999.999999"), Decimal("0.1")]),
)


@settings(max_examples=300, deadline=None)
@given(
    order_id=_TEXT,
    facility_id=_TEXT,
    product_id=_TEXT,
    seq_id=_TEXT,
    item_id=_TEXT,
    quantity=_QUANTITIES,
    fill=st.sampled_from(["ALL_OR_NOTHING", "PARTIAL", "BACKORDER"]),
    user=st.none() | _TEXT,
)
def test_a_sole_item_reservations_event_is_the_general_paths_byte_for_byte(
    order_id: str,
    facility_id: str,
    product_id: str,
    seq_id: str,
    item_id: str,
    quantity: Decimal,
    fill: str,
    user: str | None,
) -> None:
    line = ReserveLine(seq_id, product_id, quantity)
    reservation = sole_item(order_id, facility_id, line, fill)
    head, tail = payload_around(reservation.event_type, reservation.event_payload, user)
    outcome = sole_item_outcome(order_id, facility_id, fill, line, item_id)  # as the general path
    general = reserved_event(outcome, outcome.lines)
    (written,) = payload_parts(general if user is None else {**general, "changeByUserLoginId": user})
    assert head + json.dumps(item_id) + tail == written
