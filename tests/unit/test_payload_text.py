"""An event payload's JSON text is json.dumps's, byte for byte (events.outbox encodes it with the
C encoder made once, not an encoder per call)."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stockledger.core.exact_marks import exact_numbers_text
from stockledger.core.quantities import json_number
from stockledger.events.outbox import payload_parts

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.decimals(allow_nan=False, allow_infinity=False, places=6, max_value=10**13, min_value=-(10**13)),
    st.datetimes(timezones=st.just(UTC)),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _as_json_dumps_writes(payload: dict[str, Any]) -> str:
    def default(value: object) -> object:
        if isinstance(value, Decimal):
            return json_number(value)
        assert isinstance(value, datetime)
        return value.isoformat()

    return exact_numbers_text(json.dumps(payload, default=default, separators=(",", ":")))


# No list among a payload's own values: payload_parts then writes the whole as it is encoded (with
# one, it splices the longest list's items into the rest's text, not the encoding under test).
_PAYLOADS = st.dictionaries(
    st.text(max_size=8), _SCALARS | st.dictionaries(st.text(max_size=8), _VALUES, max_size=4), max_size=6
)


@settings(max_examples=300, deadline=None)
@given(_PAYLOADS)
def test_a_payloads_text_is_json_dumps_byte_for_byte(payload: dict[str, Any]) -> None:
    assert payload_parts(payload) == [_as_json_dumps_writes(payload)]
