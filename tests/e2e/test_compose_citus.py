"""compose.citus.yaml and docs/scaling.md agree: the services, the image, the cluster's join, the
app's database, and the tables' placement (no Docker engine here: the file is parsed, not run)."""

import re
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from stockledger.core import citus

ROOT = Path(__file__).resolve().parents[2]
SCALING = (ROOT / "docs" / "scaling.md").read_text()
CITUS_VERSION = re.search(r"^CITUS_VERSION=(\S+)$", (ROOT / "scripts" / "citus.sh").read_text(), re.M)


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "compose.citus.yaml").read_text()))


def _section(heading: str) -> str:
    return SCALING.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def _table(section: str) -> dict[str, str]:
    """The first column of a doc table (backticks off) -> its second."""
    rows = re.findall(r"^\| ([^|]+?) \| (.+?) \|$", section, re.M)
    return {name.strip("`"): text for name, text in rows[1:] if not set(name) <= {"-"}}  # [0]: the header


def test_the_services_are_the_documented_ones() -> None:
    assert set(_compose()["services"]) == set(_table(_section("Compose")))


def test_every_node_runs_the_citus_of_the_script_on_postgresql_15() -> None:
    assert CITUS_VERSION is not None
    services = _compose()["services"]
    images = {name: s["image"] for name, s in services.items() if name != "app"}
    assert set(images.values()) == {f"citusdata/citus:{CITUS_VERSION[1]}-pg15"}


def test_every_node_can_move_shards_online() -> None:
    """wal_level=logical on the coordinator and every worker, as scripts/citus.sh runs them."""
    services = _compose()["services"]
    nodes = [name for name in services if name == "coordinator" or name.startswith("worker")]
    assert nodes == ["coordinator", "worker1", "worker2"]
    assert all("wal_level=logical" in services[name]["command"] for name in nodes)


def test_the_setup_joins_every_worker_and_the_app_uses_the_coordinator() -> None:
    services = _compose()["services"]
    workers = {name for name in services if name.startswith("worker")}
    script = services["citus-setup"]["command"][-1]
    assert set(re.findall(r"citus_add_node\('(\w+)', 5432\)", script)) == workers
    assert "citus_set_coordinator_host('coordinator', 5432)" in script
    url = make_url(services["app"]["environment"]["STOCKLEDGER_DATABASE_URL"])
    assert (url.host, url.port) == ("coordinator", 5432)
    waits_for = services["app"]["depends_on"]["citus-setup"]["condition"]
    assert waits_for == "service_completed_successfully"


def test_the_documented_placement_is_core_citus_lists() -> None:
    table = _table(_section("What `stockledger migrate` does on Citus"))
    listed = {kind: set(tables.split(", ")) for kind, tables in table.items()}
    assert listed == {
        "distributed by `facility_id`, co-located with inventory_item": set(citus.DISTRIBUTED_TABLES),
        "reference (replicated to every node)": set(citus.REFERENCE_TABLES),
        "coordinator only": set(citus.COORDINATOR_TABLES),
    }


def test_the_nodes_can_sign_in_to_each_other() -> None:
    """The image answers password connections with scram-sha-256; the connections Citus opens
    between nodes carry the password only when the node's environment gives it to libpq (PGUSER,
    PGPASSWORD), or citus_add_node fails with "fe_sendauth: no password supplied"."""
    services = _compose()["services"]
    for name in ("coordinator", "worker1", "worker2"):
        env = services[name]["environment"]
        assert env.get("POSTGRES_HOST_AUTH_METHOD") == "trust" or (
            env["PGUSER"] == env["POSTGRES_USER"] and env["PGPASSWORD"] == env["POSTGRES_PASSWORD"]
        ), name
    published = services["coordinator"]["ports"]
    assert all(port.startswith("127.0.0.1:") for port in published)  # not on every interface
