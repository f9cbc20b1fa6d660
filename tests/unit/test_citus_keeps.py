"""Which foreign keys Citus keeps once both tables are placed (stockledger.core.citus)."""

import pytest

from stockledger.core.citus import ForeignKey, citus_keeps


def _fk(table: str, columns: tuple[str, ...], referred: str, referred_columns: tuple[str, ...]) -> ForeignKey:
    return ForeignKey(table, "fk", "FOREIGN KEY …", referred, columns, referred_columns)


@pytest.mark.parametrize(
    ("fk", "kept"),
    [
        (_fk("cost_layer", ("product_id",), "product", ("product_id",)), True),  # distributed -> reference
        (_fk("api_token", ("x",), "facility", ("facility_id",)), True),  # reference -> reference
        (
            _fk(
                "inventory_item_detail",
                ("facility_id", "inventory_item_id"),
                "inventory_item",
                ("facility_id", "inventory_item_id"),
            ),
            True,
        ),  # co-located, on the distribution column
        (_fk("shipment_item", ("shipment_id",), "shipment", ("shipment_id",)), False),  # no facility_id
        (
            _fk("shipment_item", ("facility_id", "shipment_id"), "shipment", ("shipment_id", "facility_id")),
            False,
        ),  # facility_id paired with another column
        (
            _fk("facility", ("facility_id",), "inventory_item", ("facility_id",)),
            False,
        ),  # reference -> distributed
        (_fk("alembic_version", ("x",), "facility", ("facility_id",)), False),  # coordinator-only table
    ],
)
def test_citus_keeps(fk: ForeignKey, kept: bool) -> None:
    assert citus_keeps(fk) is kept
