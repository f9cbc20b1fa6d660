"""A document's integer quantities are validated once per value and type
(core.schemas.integers_remembered): what each type accepts and refuses, and how, stays its own."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from stockledger.catalog.schemas import DetailDoc, ProductFacilityDoc


def _refusal(data: dict[str, object]) -> list[tuple[object, ...]]:
    with pytest.raises(ValidationError) as refused:
        ProductFacilityDoc.model_validate(data)
    return [(tuple(e["loc"]), e["type"]) for e in refused.value.errors()]


def test_each_type_keeps_its_own_bounds_and_a_refusal_is_refused_again() -> None:
    assert DetailDoc.model_validate({"quantityOnHandDiff": -5}).quantity_on_hand_diff == Decimal(-5)
    for _ in range(2):  # -5: a signed quantity above, never a non-negative one
        assert _refusal({"minimumStock": -5}) == [(("minimumStock",), "greater_than_equal")]
    assert DetailDoc.model_validate({"quantityOnHandDiff": -5}).quantity_on_hand_diff == Decimal(-5)


def test_a_remembered_integer_is_the_same_decimal_and_text_is_still_refused() -> None:
    first = ProductFacilityDoc.model_validate({"minimumStock": 7, "reorderQuantity": 7})
    again = ProductFacilityDoc.model_validate({"minimumStock": 7})
    assert type(again.minimum_stock) is Decimal
    assert first.minimum_stock == first.reorder_quantity == again.minimum_stock == Decimal(7)
    assert _refusal({"minimumStock": "7"}) == [(("minimumStock",), "value_error")]
    assert _refusal({"minimumStock": True}) == [(("minimumStock",), "decimal_type")]
    assert _refusal({"minimumStock": 10**10}) == [(("minimumStock",), "less_than_equal")]
