"""bench/reset_1m.py names each size's RATIO lines apart: `make bench` runs 1,000,000 and 100,000 lines."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "reset_1m.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reset_1m_under_test", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_each_size_has_its_own_name() -> None:
    label = _bench().label
    assert label(1_000_000) == "reset_1m"
    assert label(100_000) == "reset_100k"
    assert label(2_000_000) == "reset_2m"
    assert label(12_345) == "reset_12345"


def test_make_bench_runs_both_sizes_on_databases_of_their_own() -> None:
    makefile = (BENCH.parents[1] / "Makefile").read_text()
    runs = [line.split("#")[0].split() for line in makefile.splitlines() if "bench/reset_1m.py" in line]
    runs = [run for run in runs if run]
    assert len(runs) == 2
    default = "stockledger_bench_reset"
    prefixes = {run[run.index("--prefix") + 1] if "--prefix" in run else default for run in runs}
    assert len(prefixes) == 2
    assert any("--lines" in run and run[run.index("--lines") + 1] == "100000" for run in runs)
