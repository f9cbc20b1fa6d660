"""Pure rules of the feed and the subjects."""

from stockledger.events.rules import event_subject, inbound_type, message_id, own_event_seq


def test_subjects_keep_one_token_per_id() -> None:
    assert (
        event_subject("stockledger", "FACILITY_1", "StockReserved") == "stockledger.FACILITY_1.StockReserved"
    )
    assert (
        event_subject("stockledger", "store.7", "InventoryChanged") == "stockledger.store_7.InventoryChanged"
    )
    assert inbound_type("oms.FACILITY_1.OrderConfirmed") == "OrderConfirmed"


def test_a_message_id_names_its_deployment_and_only_its_own_are_read_back() -> None:
    assert message_id("a1b2", 42) == "a1b2:42"
    assert own_event_seq("a1b2:42", "a1b2") == 42
    assert own_event_seq("1000000", "a1b2") is None  # another sender's bare number
    assert own_event_seq("other:1000000", "a1b2") is None
    assert own_event_seq("a1b2:x", "a1b2") is None
    assert own_event_seq("a1b2:", "a1b2") is None


def test_only_the_canonical_form_of_a_number_is_ours() -> None:
    """`a1b2:0048` is not our eventSeq 48 (we never send leading zeros), nor are signs, spaces,
    non-ASCII digits or 0 (eventSeqs start at 1)."""
    for foreign in (
        "a1b2:0048",
        "a1b2:0",
        "a1b2:00",
        "a1b2:+48",
        "a1b2: 48",
        "a1b2:48 ",
        "a1b2:\u0664\u0668",
        "a1b2:4\u00b2",
    ):
        assert own_event_seq(foreign, "a1b2") is None, foreign
    assert own_event_seq("a1b2:10", "a1b2") == 10
