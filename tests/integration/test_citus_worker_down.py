"""A Citus worker stopped under HTTP load (issue 18, item 6).

A fresh database on the cluster, one facility whose shards live on each worker, a real
`stockledger serve`, and a bounded load of reservations and availability reads on both
facilities. One worker is stopped (`scripts/citus.sh stop-node`) while the load runs: the reads
of the facility on the other worker keep being served; the stopped worker's facility answers
503 database_unavailable with Retry-After (never a 500); and once the worker is started again
(`start-node`) its facility's reservations succeed. Reservations in the other facility may
answer 503 too while the worker is down: a reservation reads the order item's claims in the
other facilities, on every worker (docs/scaling.md, "What a reservation costs on Citus"). At the
end nothing is half-applied: per facility, the ATP consumed equals the active reservations
equals the units the clients were told were reserved, QOH is unchanged, and `stockledger
verify` is clean.
"""

import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from stockledger.core.db import Database
from tests.citus_load import (
    PRODUCTS,
    STOCK,
    Load,
    Tally,
    citus_script,
    facilities_by_worker,
    facility_state,
    reserve,
    stock_facilities,
    wait_for,
)
from tests.databases import fresh_citus
from tests.stress.support import Server, create_token, verify_clean

pytestmark = pytest.mark.citus  # needs the cluster: deselected without STOCKLEDGER_TEST_CITUS_URL
CLIENTS = 3
BUDGET = 400  # requests per client at most


def _back_again(base_url: str, token: str, tally: Tally, facility: str) -> httpx.Response:
    """Reservations in `facility` until one is answered with something other than 503 (the
    coordinator may still hold connections to the worker from before it stopped)."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
        for n in range(100):
            answer = reserve(http, tally, "back", facility, f"BACK-{n:03d}", 1)
            if answer.status_code != 503:
                return answer
            time.sleep(0.5)  # Retry-After, shortened
    raise AssertionError(f"{facility} still 503 after its worker came back")


def test_a_stopped_worker_is_503_for_its_facility_only_and_serves_again(tmp_path: Path) -> None:
    with fresh_citus("stockledger_down") as db_url:
        db = Database(db_url)
        try:
            placed = facilities_by_worker(db, 1)
            (_, [up]), (down_port, [down]) = sorted(placed.items())
            stock_facilities(db, [up, down])
            token = create_token(db_url, "oms", up, down)
            server = Server(db_url, workers=1, log=tmp_path / "serve.log")
            try:
                with Load(server.base_url, token, [up, down], CLIENTS, BUDGET, reads=True) as load:
                    wait_for(lambda: load.sent >= 30, "30 requests before the stop")
                    load.phase = "down"
                    citus_script("stop-node", str(down_port))
                    try:
                        mark = load.sent
                        wait_for(lambda: load.sent >= mark + 60, "60 requests while the worker is down")
                    finally:
                        load.phase = "restarting"
                        citus_script("start-node", str(down_port))
                    answer = _back_again(server.base_url, token, load.tally, down)
                    assert answer.status_code == 201, answer.text
                    load.phase = "after"
                    mark = load.sent
                    wait_for(lambda: load.sent >= mark + 30, "30 requests after the restart")
            finally:
                server.stop()
            tally = load.tally
            print(f"answers (phase, facility, status): {sorted(tally.statuses.items())}")  # with -s
            assert tally.unexpected == []
            assert {status for (_, _, status) in tally.statuses} <= {200, 201, 409, 503}, tally.statuses
            # Served throughout: the reads of the facility on the running worker, never a 503.
            assert tally.total(503, f"{up} read") == 0, tally.statuses
            assert tally.total(200, f"{up} read", "down") > 0, tally.statuses
            # The stopped worker's facility: 503 while down, 201 again after.
            assert tally.total(503, f"{down} read", "down") > 0, tally.statuses
            assert tally.total(503, down, "down") > 0, tally.statuses
            assert tally.total(201, down, "after") + tally.total(201, down, "back") > 0, tally.statuses
            for facility in (up, down):
                qoh, atp, active, negative = facility_state(db, facility)
                stocked = Decimal(STOCK * len(PRODUCTS))
                assert (qoh, negative) == (stocked, 0)
                assert stocked - atp == active == tally.reserved[facility], facility
            verify_clean(db_url)
        finally:
            db.dispose()
