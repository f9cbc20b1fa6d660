"""What schemathesis cannot read from the contract, given as strategies (SCHEMATHESIS_HOOKS):
real cursors for the `seq-cursor`, `id-cursor`, `key-cursor` and `key3-cursor` formats (a cursor
is opaque: one this service did not issue is a 422, so a random string is not a valid request), and
CSV text for the ERP reset's application/octet-stream body (random bytes are no CSV)."""

import schemathesis
from hypothesis import strategies as st

from stockledger.core.pagination import MAX_KEY_INT, encode_cursor

IDS = st.sampled_from(["FACILITY_1", "FG001", "FG002", "FG003", "NO_SUCH"]) | st.from_regex(
    r"\A[A-Za-z0-9_]{1,20}\Z"
)

schemathesis.openapi.format("seq-cursor", st.integers(0, MAX_KEY_INT).map(lambda n: encode_cursor([n])))
schemathesis.openapi.format("key-cursor", st.tuples(IDS, IDS).map(lambda key: encode_cursor(list(key))))
schemathesis.openapi.format("id-cursor", IDS.map(lambda key: encode_cursor([key])))
schemathesis.openapi.format("key3-cursor", st.tuples(IDS, IDS, IDS).map(lambda key: encode_cursor(list(key))))

CSV_LINE = st.tuples(IDS, IDS, st.integers(0, 10**6)).map(lambda cells: f"{cells[0]},{cells[1]},{cells[2]},")
CSV_RESET = st.lists(CSV_LINE, min_size=1, max_size=5).map(
    lambda lines: (
        "facilityId,productId,quantityOnHand,availableToPromise\n" + "\n".join(lines) + "\n"
    ).encode()
)
schemathesis.openapi.media_type("application/octet-stream", CSV_RESET)
