import pytest

from stockledger.core.errors import ValidationFailed
from stockledger.core.pagination import decode_cursor, encode_cursor, page_of


def test_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor(["FACILITY_1", "FG001"]), str, str) == ["FACILITY_1", "FG001"]


@pytest.mark.parametrize("cursor", ["not base64 !!", encode_cursor(["only-one"]), "e30"])
def test_a_foreign_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor, str, str)


def test_page_of_splits_the_extra_row_into_a_cursor() -> None:
    page, nxt = page_of([1, 2, 3], 2, lambda r: (r,))
    assert page == [1, 2]
    assert nxt is not None
    assert decode_cursor(nxt, int) == [2]
    assert page_of([1, 2], 2, lambda r: (r,)) == ([1, 2], None)


@pytest.mark.parametrize("key", [["a"], [None], [[1]], [10**30], [1, 2], [-1], [True], [1.5]])
def test_a_cursor_of_the_wrong_shape_is_refused(key: list[object]) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(encode_cursor(key), int)


@pytest.mark.parametrize("key", [[1, "FG001"], ["F\x00", "FG001"], ["F" * 256, "FG001"]])
def test_a_text_cursor_holds_short_text_without_nul(key: list[object]) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(encode_cursor(key), str, str)
