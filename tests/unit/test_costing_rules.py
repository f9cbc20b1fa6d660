"""COGS rules without a database: FIFO, LIFO and AVERAGE over layers, worked out by hand."""

from datetime import datetime
from decimal import Decimal

import pytest

from stockledger.costing.rules import Layer, average_unit_cost, cost_of_issue

D = Decimal
# Three receipts of one product at rising costs (value 40 + 25 + 52 = 117 over 23 units).
LAYERS = [
    Layer("L2", datetime(2024, 2, 1), D(5), D("5.00")),
    Layer("L1", datetime(2024, 1, 1), D(10), D("4.00")),  # listed out of order on purpose
    Layer("L3", datetime(2024, 3, 1), D(8), D("6.50")),
]


def _draws(result: object) -> list[tuple[str, Decimal]]:
    return [(d.layer_id, d.quantity) for d in result.draws]  # type: ignore[attr-defined]


def test_fifo_draws_the_oldest_layers_first() -> None:
    result = cost_of_issue(LAYERS, D(12), "FIFO", D("99"))
    # 10 × 4.00 (L1) + 2 × 5.00 (L2) = 40 + 10 = 50.00
    assert _draws(result) == [("L1", D(10)), ("L2", D(2))]
    assert result.cost == D("50.000000")
    assert result.uncovered == 0


def test_lifo_draws_the_newest_layers_first() -> None:
    result = cost_of_issue(LAYERS, D(12), "LIFO", D("99"))
    # 8 × 6.50 (L3) + 4 × 5.00 (L2) = 52 + 20 = 72.00
    assert _draws(result) == [("L3", D(8)), ("L2", D(4))]
    assert result.cost == D("72.000000")


def test_fractional_quantities_are_priced_exactly() -> None:
    result = cost_of_issue(LAYERS, D("10.5"), "FIFO", None)
    # 10 × 4.00 + 0.5 × 5.00 = 42.50
    assert result.cost == D("42.5")
    assert _draws(result) == [("L1", D(10)), ("L2", D("0.5"))]


def test_uncovered_quantity_falls_back_to_the_item_unit_cost() -> None:
    result = cost_of_issue(LAYERS, D(25), "FIFO", D("3.00"))
    # the layers hold 23: 117 from them, then 2 × 3.00 = 6 at the item's cost -> 123
    assert result.uncovered == D(2)
    assert (result.covered_cost, result.uncovered_cost, result.cost) == (D(117), D(6), D(123))


def test_no_fallback_cost_prices_the_uncovered_part_at_zero() -> None:
    result = cost_of_issue([], D(4), "LIFO", None)
    assert (result.draws, result.uncovered, result.cost) == ((), D(4), D(0))


def test_average_prices_at_the_weighted_average_and_draws_proportionally() -> None:
    result = cost_of_issue(LAYERS, D(10), "AVERAGE", None)
    # 117 / 23 = 5.0869565… per unit; 10 units = 1170 / 23 = 50.869565 (6 decimals)
    assert result.cost == D("50.869565")
    # 10/23 of each layer: 4.347826 + 2.173913 + 3.478261 = 10
    assert dict(_draws(result)) == {"L1": D("4.347826"), "L2": D("2.173913"), "L3": D("3.478261")}
    assert sum(d.quantity for d in result.draws) == D(10)


def test_average_of_everything_takes_each_layer_whole() -> None:
    result = cost_of_issue(LAYERS, D(23), "AVERAGE", None)
    assert result.cost == D(117)
    assert dict(_draws(result)) == {"L1": D(10), "L2": D(5), "L3": D(8)}


def test_average_rounding_residue_never_overdraws_a_layer() -> None:
    layers = [Layer(f"L{i}", datetime(2024, 1, i), D("0.000001"), D(1)) for i in range(1, 4)]
    result = cost_of_issue(layers, D("0.000002"), "AVERAGE", None)
    assert sum(d.quantity for d in result.draws) == D("0.000002")
    assert all(d.quantity <= D("0.000001") for d in result.draws)


def test_empty_layers_are_skipped() -> None:
    layers = [Layer("L0", datetime(2023, 1, 1), D(0), D(1)), *LAYERS]
    assert _draws(cost_of_issue(layers, D(1), "FIFO", None)) == [("L1", D(1))]


@pytest.mark.parametrize(("method", "quantity"), [("FIFO", D(-1)), ("MAGIC", D(1))])
def test_bad_method_or_negative_quantity_is_refused(method: str, quantity: Decimal) -> None:
    with pytest.raises(ValueError, match=r"negative|unknown"):
        cost_of_issue(LAYERS, quantity, method, None)


def test_average_unit_cost_of_issuances() -> None:
    # 3 units for 15.00 and 1 unit for 7.00: 22 / 4 = 5.50
    assert average_unit_cost([(D(3), D(15)), (D(1), D(7))]) == D("5.5")
    assert average_unit_cost([]) is None
