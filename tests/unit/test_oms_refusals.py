"""Which inbound message ids are stored as they are, and which are refused under a hash."""

import hashlib

from stockledger.oms.refusals import id_problem, stored_id


def test_an_id_the_database_can_store_is_kept() -> None:
    for fine in ("oms-1", "x" * 255, "café:7", "a b"):
        assert id_problem(fine) is None, fine
        assert stored_id(fine, None) == (fine, None)
    assert stored_id("oms-1", "malformed_json: x") == ("oms-1", "malformed_json: x")


def test_an_id_it_cannot_store_is_refused_under_a_hash_of_the_whole_id() -> None:
    for bad in ("", "a\x00b", "a\x01b", "tab\there", "a\x7fb", "x" * 256, "a\ud800"):
        assert id_problem(bad) is not None, repr(bad)
    long_a, long_b = "x" * 255 + "a", "x" * 255 + "b"
    stored_a, problem = stored_id(long_a, None)
    assert problem == "invalid_message_id: Nats-Msg-Id is 256 characters, over 255"
    assert stored_a.startswith("invalid:sha256:")
    assert len(stored_a) == 15 + 64
    assert stored_id(long_b, None)[0] != stored_a  # two messages, not one cut to the same 255
    assert stored_id(long_a, "malformed_json: x")[1] == problem


def test_an_id_that_is_not_utf8_is_refused_under_a_hash_of_its_raw_bytes() -> None:
    ff, fe = (
        b"t17b-u2-\xff".decode("utf-8", "surrogateescape"),
        b"t17b-u2-\xfe".decode("utf-8", "surrogateescape"),
    )
    assert id_problem(ff) == "invalid_message_id: Nats-Msg-Id is not valid UTF-8"
    assert stored_id(ff, None)[0] == "invalid:sha256:" + hashlib.sha256(b"t17b-u2-\xff").hexdigest()
    assert stored_id(fe, None)[0] != stored_id(ff, None)[0]
    assert stored_id("t17b-u2-\ufffd", None) == ("t17b-u2-\ufffd", None)  # a real U+FFFD is an id
