"""`stockledger verify` names each business rule with a count: 0 after real flows, and each
rule broken directly in the database (bypassing every service) is named, exit 1."""

from decimal import Decimal

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from stockledger.cli import app
from stockledger.core.db import Database
from stockledger.ledger.rules_check import RULES
from stockledger.reservations.service import ReserveLine, reserve_stock
from stockledger.shipping.pos import record_pos_sale
from stockledger.shipping.schemas import PosSaleIn
from tests.shipping_support import FACILITY

runner = CliRunner()
MICROS = 1_000_000  # quantities are stored as millionths

BREAKS = {
    "reservations_match_ledger": [
        f"UPDATE order_item_inventory_reservation SET quantity = quantity + {MICROS} WHERE order_id = 'O1'"
    ],
    "issuances_of_their_order_items_product": [
        "UPDATE item_issuance SET inventory_item_id = 'FG002-INV-001' WHERE order_id = 'P1'"
    ],
    "nothing_reserved_on_non_promisable_items": [
        "UPDATE inventory_item SET status_id = 'INV_ON_HOLD' WHERE inventory_item_id = 'FG001-INV-001'"
    ],
    "one_product_per_order_item": [  # the claim (a reservation's product is held to its item's by a key)
        "UPDATE order_item SET product_id = 'FG002' WHERE order_id = 'O1'"
    ],
    "an_event_for_every_ledger_row": ["DELETE FROM outbox_event WHERE event_type = 'StockReserved'"],
}
EXPIRED = (
    "UPDATE inventory_item SET expire_date = '2000-01-01 00:00:00' WHERE inventory_item_id = 'FG001-INV-001'"
)


@pytest.fixture
def flows(seeded: Database, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    """A reservation kept active and a POS sale shipped: every rule has rows to look at."""
    monkeypatch.setenv("STOCKLEDGER_DATABASE_URL", db_url)
    with seeded.transaction() as session:
        reserve_stock(session, "O1", FACILITY, [ReserveLine("00001", "FG001", Decimal(2))])
        items = [{"orderItemSeqId": "00001", "productId": "FG003", "quantity": 1}]
        record_pos_sale(
            session, PosSaleIn.model_validate({"orderId": "P1", "facilityId": FACILITY, "items": items})
        )
    return seeded


def _verify() -> tuple[int, dict[str, int]]:
    result = runner.invoke(app, ["verify"])
    counts = {}
    for line in result.output.splitlines():
        if line.startswith("verify: rule "):
            name, count = line.removeprefix("verify: rule ").split(": ")
            counts[name] = int(count)
    return result.exit_code, counts


def test_verify_names_every_rule_with_0_after_real_flows(flows: Database) -> None:
    assert _verify() == (0, dict.fromkeys(RULES, 0))


@pytest.mark.corrupts_ledger
@pytest.mark.parametrize("rule", sorted(BREAKS))
def test_verify_names_a_broken_rule_and_exits_1(flows: Database, rule: str) -> None:
    _break(flows, *BREAKS[rule])
    assert _verify() == (1, dict.fromkeys(RULES, 0) | {rule: 1})


def test_units_reserved_before_their_lot_expired_break_no_rule(flows: Database) -> None:
    """A lot that expires while units are reserved on it (or one reserved with allowExpired) is
    not a broken rule: new reservations skip it, the reserved units stay for their order."""
    _break(flows, EXPIRED)
    assert _verify() == (0, dict.fromkeys(RULES, 0))


def _break(db: Database, *statements: str) -> None:
    with db.engine.begin() as conn:  # bypass every service on purpose
        for sql in statements:
            conn.execute(text(sql))
