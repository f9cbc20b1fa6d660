from decimal import Decimal

from stockledger.ledger.postings import Posting, format_seq


def test_accounting_follows_qoh_unless_given() -> None:
    p = Posting("F", "I", "R", quantity_on_hand_diff=Decimal(5))
    assert p.accounting_diff == Decimal(5)
    q = Posting("F", "I", "R", quantity_on_hand_diff=Decimal(5), accounting_quantity_diff=Decimal(0))
    assert q.accounting_diff == Decimal(0)


def test_generated_seq_ids_are_zero_padded() -> None:
    assert format_seq(2) == "00002"
    assert format_seq(123456) == "123456"
