"""Return rules without a database: no more may come back than was shipped."""

from decimal import Decimal

import pytest

from stockledger.core.errors import Conflict
from stockledger.returns.rules import ShippedLine, check_returnable

D = Decimal


def test_up_to_what_was_shipped_less_what_came_back_may_return() -> None:
    shipped = ShippedLine(D(4), D(1), D(5))
    check_returnable("O1", "1", shipped, D(3))
    with pytest.raises(Conflict) as refused:
        check_returnable("O1", "1", shipped, D("3.5"))
    assert refused.value.extra["returnable"] == 3


def test_unknown_shipments_are_not_capped() -> None:
    check_returnable("O1", None, None, D(1000))
