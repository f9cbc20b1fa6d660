"""The outcome of a reservation request, read from its answer; route templates without a route."""

import json
from decimal import Decimal

from stockledger.metrics.middleware import (
    ANSWER_SCAN_LIMIT,
    reservation_outcome,
    route_template,
    served_outcome,
)


def _answer(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_outcomes_of_answers() -> None:
    assert reservation_outcome(201, _answer(quantityNotAvailable=0, quantityUnreserved=0)) == "reserved"
    assert reservation_outcome(201, _answer(quantityNotAvailable=0, quantityUnreserved=9)) == "partial"
    assert reservation_outcome(200, _answer(quantityNotAvailable=5, quantityUnreserved=0)) == "backorder"
    assert reservation_outcome(409, _answer(code="insufficient_stock")) == "insufficient"
    assert reservation_outcome(409, _answer(code="conflict")) == "refused"
    assert reservation_outcome(401, _answer(code="unauthorized")) == "refused"
    assert reservation_outcome(422, b"not json") == "refused"


def test_an_answer_too_big_to_read_counts_as_reserved() -> None:
    assert reservation_outcome(200, b" " * (ANSWER_SCAN_LIMIT + 1)) == "reserved"
    assert reservation_outcome(200, b"[1, 2]") == "reserved"


def test_an_unrouted_request_is_unmatched() -> None:
    assert route_template({"type": "http", "path": "/nowhere", "method": "GET"}) == "unmatched"


def test_a_served_line_counts_as_its_answer_reads() -> None:
    for not_available, unreserved in [(0, 0), (0, 9), (5, 0), (Decimal("0.5"), Decimal(1))]:
        answer = _answer(quantityNotAvailable=float(not_available), quantityUnreserved=float(unreserved))
        assert served_outcome(not_available, unreserved) == reservation_outcome(201, answer)
