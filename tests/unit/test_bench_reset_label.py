"""bench/reset_1m.py names each size's RATIO lines apart: `make bench` runs 1,000,000 and 100,000 lines."""

from types import ModuleType

from tests.bench_support import BENCH, bench_module


def _bench() -> ModuleType:
    return bench_module("reset_1m")


def test_each_size_has_its_own_name() -> None:
    label = _bench().label
    assert label(1_000_000) == "reset_1m"
    assert label(100_000) == "reset_100k"
    assert label(2_000_000) == "reset_2m"
    assert label(12_345) == "reset_12345"


def test_make_bench_runs_both_sizes_on_databases_of_their_own() -> None:
    makefile = (BENCH.parent / "Makefile").read_text()
    runs = [line.split("#")[0].split() for line in makefile.splitlines() if "bench/reset_1m.py" in line]
    runs = [run for run in runs if run]
    assert len(runs) == 2
    default = "stockledger_bench_reset"
    prefixes = {run[run.index("--prefix") + 1] if "--prefix" in run else default for run in runs}
    assert len(prefixes) == 2
    assert any("--lines" in run and run[run.index("--lines") + 1] == "100000" for run in runs)
