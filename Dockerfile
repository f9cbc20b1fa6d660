# stockledger: the API server. Build: docker build -t stockledger .
# Run alone (SQLite in the /data volume): docker run -p 8000:8000 -v stockledger-data:/data stockledger
# With PostgreSQL and NATS: docker compose up (compose.yaml).

FROM python:3.11-slim AS build
ENV UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv
# the same uv as the Makefile
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
# dependencies first (their layer is reused while only the code changes), exactly as locked
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-install-project
COPY src ./src
RUN uv sync --frozen --no-editable

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /home/stockledger stockledger \
    && mkdir /data && chown stockledger /data
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    STOCKLEDGER_DATABASE_URL=sqlite:////data/stockledger.db
USER stockledger
WORKDIR /data
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# serve migrates first, then starts uvicorn; add --workers N (and set PROMETHEUS_MULTIPROC_DIR)
CMD ["stockledger", "serve", "--host", "0.0.0.0", "--port", "8000"]
