import pytest

from stockledger.core.errors import ValidationFailed
from stockledger.core.pagination import decode_cursor, encode_cursor, page_of


def test_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor(["FACILITY_1", "FG001"]), 2) == ["FACILITY_1", "FG001"]


@pytest.mark.parametrize("cursor", ["not base64 !!", encode_cursor(["only-one"]), "e30"])
def test_a_foreign_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor, 2)


def test_page_of_splits_the_extra_row_into_a_cursor() -> None:
    page, nxt = page_of([1, 2, 3], 2, lambda r: (r,))
    assert page == [1, 2]
    assert nxt is not None
    assert decode_cursor(nxt, 1) == [2]
    assert page_of([1, 2], 2, lambda r: (r,)) == ([1, 2], None)
