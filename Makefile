# Everything a fresh machine needs: Python 3.11 and this file.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run demo test lint bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

install: $(UV)
	$(UV) sync --frozen --extra dev

run: install  ## migrate, load the seed demo data, serve on 127.0.0.1:8000 (SQLite)
	.venv/bin/stockledger demo
	.venv/bin/stockledger serve --host 127.0.0.1 --port 8000

test: install  ## the whole suite, on SQLite and the PostgreSQL server at 127.0.0.1:5432
	.venv/bin/pytest

bench: install  ## every benchmark on PostgreSQL (slow: the 1M-line reset alone takes ~15 min); appends to bench/RESULTS.md
	.venv/bin/python bench/reserve_service.py
	.venv/bin/python bench/availability_p99.py
	.venv/bin/python bench/reset_1m.py

lint: install
	.venv/bin/ruff check src tests
	.venv/bin/ruff format --check src tests
	.venv/bin/mypy

clean:
	rm -rf .venv .tools stockledger.db stockledger.db-wal stockledger.db-shm
