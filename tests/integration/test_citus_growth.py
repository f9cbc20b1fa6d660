"""Online growth of a Citus cluster under HTTP load (issue 18, item 5).

A fresh database on the cluster's two workers, four facilities, a real `stockledger serve`, and
a bounded reservation load. While it runs, a third worker (`scripts/citus.sh start-node`, the
database and the citus extension on it) joins the database (`citus_add_node`) and the shards
are rebalanced (`citus_rebalance_start`, `citus_rebalance_wait`). Shard moves use logical
replication (the script runs every node with wal_level = logical): writes to a moving shard go
on during the copy and wait only at the switch-over. Then: no request failed other than 409
insufficient_stock, nothing is oversold (per facility, ATP consumed == active reservations ==
units the clients were told were reserved; no ATP below zero), `stockledger verify` is clean,
and inventory_item has shards on all three workers.
"""

from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from stockledger.core.db import Database
from tests.citus_load import (
    PRODUCTS,
    Load,
    add_database_on_node,
    citus_script,
    drop_database_on_node,
    facility_state,
    stock_facilities,
    wait_for,
)
from tests.databases import CITUS_URL, fresh_citus
from tests.stress.support import Server, create_token, verify_clean

pytestmark = pytest.mark.citus  # needs the cluster: deselected without STOCKLEDGER_TEST_CITUS_URL
CLIENTS = 3
BUDGET = 600  # requests per client at most
FACILITIES = [f"CG{n}" for n in range(4)]
STOCK = 60  # units per product and facility: the load runs some of them out (409s), the edge of overselling
_ON_NODE = "SELECT count(*) FROM citus_shards WHERE table_name = %s::regclass AND nodeport = %s"
_NODES_OF = (
    "SELECT DISTINCT nodeport FROM citus_shards WHERE table_name = 'inventory_item'::regclass ORDER BY 1"
)


def test_a_third_worker_joins_and_takes_shards_under_load(tmp_path: Path) -> None:
    coordinator = make_url(str(CITUS_URL)).port or 5432
    third = coordinator + 3  # the script's workers are coordinator + 1 and + 2
    citus_script("start-node", str(third))
    with fresh_citus("stockledger_grow") as db_url:
        name = db_url.rsplit("/", 1)[1]
        db = Database(db_url)
        try:
            add_database_on_node(name, third)
            stock_facilities(db, FACILITIES, STOCK)
            token = create_token(db_url, "oms", *FACILITIES)
            with psycopg.connect(db_url, autocommit=True) as conn:
                assert [p for (p,) in conn.execute(_NODES_OF)] == [coordinator + 1, coordinator + 2]
            server = Server(db_url, workers=1, log=tmp_path / "serve.log")
            try:
                after = ("after", 20)  # each client keeps 20 requests for after the moves
                with Load(server.base_url, token, FACILITIES, CLIENTS, BUDGET, kept_for=after) as load:
                    wait_for(lambda: load.sent >= 30, "30 requests before the third worker joins")
                    load.phase = "rebalance"
                    with psycopg.connect(db_url, autocommit=True) as conn:
                        conn.execute("SELECT citus_add_node('127.0.0.1', %s)", (third,))
                        conn.execute("SELECT citus_rebalance_start()")
                        conn.execute("SELECT citus_rebalance_wait()")
                    load.phase = "after"
                    mark = load.sent
                    wait_for(lambda: load.sent >= mark + 30, "30 requests after the rebalance")
            finally:
                server.stop()
            tally = load.tally
            print(f"answers (phase, facility, status): {sorted(tally.statuses.items())}")  # with -s
            assert tally.unexpected == []
            assert {status for (_, _, status) in tally.statuses} <= {201, 409}, tally.statuses
            assert tally.total(201, phase="rebalance") > 0, tally.statuses  # the load ran during the moves
            assert tally.total(phase="after") > 0, tally.statuses  # answered after the moves too
            for facility in FACILITIES:
                qoh, atp, active, negative = facility_state(db, facility)
                stocked = Decimal(STOCK * len(PRODUCTS))
                assert (qoh, negative) == (stocked, 0)
                assert stocked - atp == active == tally.reserved[facility], facility
            with psycopg.connect(db_url, autocommit=True) as conn:
                assert [p for (p,) in conn.execute(_NODES_OF)] == [coordinator + n for n in (1, 2, 3)]
                # The reference tables were copied to the new worker before the moves.
                assert conn.execute(_ON_NODE, ("product", third)).fetchone() == (1,)
            verify_clean(db_url)
        finally:
            db.dispose()
            drop_database_on_node(name, third)
            citus_script("stop-node", str(third))  # the cluster as the script starts it
