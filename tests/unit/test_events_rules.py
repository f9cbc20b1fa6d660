"""Pure rules of the feed and the subjects."""

from stockledger.events.rules import event_subject, inbound_type


def test_subjects_keep_one_token_per_id() -> None:
    assert (
        event_subject("stockledger", "FACILITY_1", "StockReserved") == "stockledger.FACILITY_1.StockReserved"
    )
    assert (
        event_subject("stockledger", "store.7", "InventoryChanged") == "stockledger.store_7.InventoryChanged"
    )
    assert inbound_type("oms.FACILITY_1.OrderConfirmed") == "OrderConfirmed"
