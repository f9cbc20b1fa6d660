import pytest

from stockledger.auth.middleware import PrincipalCache, body_facilities
from stockledger.auth.rules import Principal, is_open, may_call
from tests.clock_support import FakeClock


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("viewer", "GET", "/v1/availability", True),
        ("viewer", "POST", "/v1/reservations", False),
        ("oms", "POST", "/v1/reservations", True),
        ("oms", "DELETE", "/v1/reservations/O1/00001", True),
        ("oms", "POST", "/v1/orders/O1/reserve", True),
        ("oms", "POST", "/v1/receipts", False),
        ("store", "POST", "/v1/receipts", True),
        ("store", "POST", "/v1/pos-sales", True),
        ("store", "POST", "/v1/reservations", False),
        ("store", "POST", "/v1/import", False),
        ("oms", "POST", "/v1/import", False),
        ("admin", "POST", "/v1/import", True),
        ("store", "POST", "/v1/facilities/F1/products/P1/inventory-item", True),
        ("store", "PATCH", "/v1/facilities/F1", False),
        ("oms", "POST", "/v1/some-future-endpoint", False),
        ("admin", "POST", "/v1/some-future-endpoint", True),
        ("nobody", "GET", "/v1/availability", False),
    ],
)
def test_write_policy(role: str, method: str, path: str, allowed: bool) -> None:
    assert may_call(role, method, path) is allowed


def test_open_paths() -> None:
    assert is_open("/healthz")
    assert is_open("/docs")
    assert not is_open("/v1/availability")
    assert not is_open("/healthzz")


def test_facility_scope() -> None:
    scoped = Principal("t", "store", frozenset({"F1"}))
    assert scoped.may_touch("F1")
    assert not scoped.may_touch("F2")
    assert Principal("t", "admin").may_touch("anything")


def test_facility_ids_are_found_anywhere_in_a_body() -> None:
    body = b'{"facilityId": "F1", "lines": [{"facilityId": "F2"}, {"originFacilityId": "F3"}]}'
    assert sorted(body_facilities(body)) == ["F1", "F2", "F3"]
    assert list(body_facilities(b"not json")) == []


def test_a_cached_principal_is_trusted_for_its_window_and_not_a_moment_longer() -> None:
    clock = FakeClock()
    cache = PrincipalCache(seconds=5.0, clock=clock)
    viewer = Principal("T1", "viewer", None)
    cache.put("sl_T1_secret", viewer)
    cache.put("sl_nope", None)  # an unknown token is cached too
    clock.advance(4.75)
    assert cache.fresh("sl_T1_secret") == (True, viewer)
    assert cache.fresh("sl_nope") == (True, None)
    clock.advance(0.25)
    assert cache.fresh("sl_T1_secret") == (False, None)
    assert cache.fresh("sl_nope") == (False, None)
    assert cache.fresh("sl_never_seen") == (False, None)


def test_a_full_cache_starts_again_empty() -> None:
    cache = PrincipalCache(max_entries=2, clock=FakeClock())
    cache.put("a", None)
    cache.put("b", None)
    cache.put("c", None)
    assert [cache.fresh(raw)[0] for raw in ("a", "b", "c")] == [False, False, True]
