"""availability_json: the answer of GET /v1/availability written from a template when it can
(now, plain ids, whole quantities), the model's own bytes in every case (ledger.api)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from stockledger.core.exact_marks import exact_numbers
from stockledger.ledger.api import _whole_availability_json, availability_json
from stockledger.ledger.schemas import AvailabilityOut
from stockledger.ledger.views import Availability, NotPromisable

D = Decimal


def _model_bytes(found: Availability) -> bytes:
    return exact_numbers(AvailabilityOut.model_validate(found).model_dump_json(by_alias=True).encode())


def _found(
    facility: str = "FACILITY_1", product: str = "FG001", *quantities: Decimal, as_of=None
) -> Availability:
    q = list(quantities) + [D(0)] * (10 - len(quantities))
    return Availability(facility, product, q[0], q[1], q[2], q[3], q[4], as_of, NotPromisable(*q[5:]))


TEMPLATED = [
    _found(),
    _found("FACILITY_1", "FG001", D("31"), D("31.000000"), D(0), D(10), D(21)),
    _found(
        "F 1!#$%&'()*+,-./:;<=>?@[]^_`{|}~", "P", D(-5), D("1E+3"), D("-0"), D(7), *[D(n) for n in range(6)]
    ),
    _found(
        "F", "P", D("999999999"), D("-999999999"), D("123456789012"), D(1), D(2), D(3), D(4), D(5), D(6), D(7)
    ),
]
MODELLED = [
    _found("F", "P", D("1.5")),  # a fraction: a float or a marked exact number
    _found("F", "P", D(0), D(0), D(0), D(0), D(0), D(0), D(0), D(0), D(0), D("0.000001")),
    _found("F", "P", D("999999999999.999999")),  # too exact for a float
    _found('F"1', "P"),  # JSON escapes the quote
    _found("F\\1", "P"),
    _found("F", "Pé"),  # not ASCII
    _found("F", "P\x01"),  # a control character
    _found("F", "P\x7f"),
    _found(as_of=datetime(2026, 12, 6, 20, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize("found", TEMPLATED)
def test_the_template_writes_the_models_bytes(found: Availability) -> None:
    assert _whole_availability_json(found) == _model_bytes(found)
    assert availability_json(found) == _model_bytes(found)


@pytest.mark.parametrize("found", MODELLED)
def test_anything_else_is_written_by_the_model(found: Availability) -> None:
    assert _whole_availability_json(found) is None
    assert availability_json(found) == _model_bytes(found)
