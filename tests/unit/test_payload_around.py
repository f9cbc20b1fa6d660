"""An event payload around an id the statement learns: its JSON before and after that id."""

import json
from decimal import Decimal
from typing import Any

import pytest

from stockledger.events.outbox import payload_around, payload_parts


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
