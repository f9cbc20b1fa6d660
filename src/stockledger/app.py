"""The FastAPI application: routers of every feature, error handlers, health."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from stockledger import __version__
from stockledger.catalog.api import router as catalog_router
from stockledger.core import problems
from stockledger.core.config import get_settings
from stockledger.core.db import Database
from stockledger.core.deps import ReadSession
from stockledger.ledger.api import router as ledger_router


def create_app(database_url: str | None = None) -> FastAPI:
    """Build the app on `database_url` (default: STOCKLEDGER_DATABASE_URL). Does not migrate."""
    settings = get_settings()
    db = Database(database_url or settings.database_url, pool_size=settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        db.dispose()

    app = FastAPI(
        title="stockledger",
        version=__version__,
        summary="Inventory ledger: QOH and ATP per facility and product, every change a ledger row.",
        lifespan=lifespan,
    )
    app.state.db = db
    problems.install(app)
    app.include_router(catalog_router)
    app.include_router(ledger_router)

    @app.get("/healthz", tags=["operations"])
    def healthz(session: ReadSession) -> dict[str, str]:
        session.execute(text("SELECT 1"))
        return {"status": "ok", "database": db.engine.dialect.name}

    return app
