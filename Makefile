# Everything a fresh machine needs: Python 3.11 and this file.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run demo test test-citus citus-start citus-stop lint bench stress clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

install: $(UV)
	$(UV) sync --frozen --extra dev --compile-bytecode  # as pip does: each command starts without compiling (0.43 s, not 1.2, with PYTHONDONTWRITEBYTECODE)
	.venv/bin/python -m compileall -q src >/dev/null  # our own modules too (the editable install is not compiled by uv)

run: install  ## migrate, load the seed demo data, serve on 127.0.0.1:8000 (SQLite)
	.venv/bin/stockledger demo
	.venv/bin/stockledger serve --host 127.0.0.1 --port 8000

test: install  ## the whole suite, on SQLite and the PostgreSQL server at 127.0.0.1:5432
	.venv/bin/pytest

# The Citus backend, on the local cluster of scripts/citus.sh (coordinator :9700, workers :9701-9702).
# A declared subset, and why, in docs/scaling.md ("What CI runs on Citus").
CITUS_TESTS := \
	tests/integration/test_citus.py tests/integration/test_citus_move.py \
	tests/integration/test_citus_cli.py tests/integration/test_citus_transactions.py \
	tests/integration/test_citus_script.py \
	tests/e2e/test_docs_api.py \
	tests/integration/test_cli.py tests/integration/test_resets_cli.py tests/integration/test_tokens.py \
	tests/integration/test_events_feed.py tests/integration/test_outbox.py \
	tests/integration/test_reservations_concurrency.py tests/integration/test_reservations_sole_item.py \
	tests/integration/test_order_items.py \
	tests/integration/test_ledger_post.py tests/integration/test_resets.py \
	tests/integration/test_receiving_backorders.py \
	tests/e2e/test_idempotency_api.py tests/e2e/test_api_reads.py tests/e2e/test_scenario_store_day.py \
	tests/e2e/test_hot_routes_event_loop.py \
	tests/integration/test_citus_growth.py tests/integration/test_citus_worker_down.py

citus-start:  ## build Citus if missing, start the local cluster, print the coordinator URL
	scripts/citus.sh start

citus-stop:
	scripts/citus.sh stop

test-citus: install citus-start  ## the Citus subset on the local cluster (tests selected by their [citus] backend)
	STOCKLEDGER_TEST_CITUS_URL=$$(scripts/citus.sh url) .venv/bin/pytest -k citus $(CITUS_TESTS)

bench: install  ## every benchmark (PostgreSQL; SQLite where stated); RATIO lines on stdout, appended to bench/RESULTS.md (≈ 20 min on a quiet 2-CPU machine, session 12: the 10M-row ledger ≈ 6 min, the 1M-line reset ≈ 4 min)
	command -v wrk >/dev/null || apt-get install -y wrk  # the HTTP benchmarks' load generator
	.venv/bin/python bench/reserve_service.py
	.venv/bin/python bench/reserve_order_10k.py
	.venv/bin/python bench/reserve_http.py --clients 8 16 --load api  # issue 19: 8 and 16 connections, right after a load through the API
	.venv/bin/python bench/hot_items.py
	.venv/bin/python bench/availability_p99.py
	.venv/bin/python bench/availability_p99.py --workers 2  # for comparison: the connections split unevenly
	.venv/bin/python bench/reserve_sqlite.py
	.venv/bin/python bench/reserve_ledger_10m.py
	.venv/bin/python bench/reset_1m.py
	.venv/bin/python bench/reset_1m.py --lines 100000 --prefix stockledger_bench_reset_100k  # issue 19 target 4: ≤ 1.5× at 100,000 lines too (RATIO reset_100k)
	.venv/bin/python bench/reset_sqlite.py
	.venv/bin/python bench/load_products.py  # issue 19 item 5: stockledger load and POST /v1/import of 100,000 products
	.venv/bin/python bench/events_publish.py  # issue 19 item 6: a 1,000,000-line reset's events on NATS

stress: install  ## tests/stress at full size on PostgreSQL: 100,000 reservation attempts over HTTP, kill -9 in a 1,000,000-line reset, 20,000 requests while connections are killed (~45 min)
	STOCKLEDGER_STRESS_ATTEMPTS=100000 STOCKLEDGER_STRESS_RESET_LINES=1000000 STOCKLEDGER_STRESS_KILL_REQUESTS=20000 \
		.venv/bin/pytest tests/stress -m stress -s

lint: install
	.venv/bin/ruff check src tests bench docs
	.venv/bin/ruff format --check src tests bench docs
	.venv/bin/mypy
	.venv/bin/mypy --strict bench/*.py docs/gen_api.py

clean:
	rm -rf .venv .tools stockledger.db stockledger.db-wal stockledger.db-shm
