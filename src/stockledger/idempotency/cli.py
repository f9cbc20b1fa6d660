"""`stockledger idempotency purge`."""

import typer
from rich.console import Console

from stockledger.core.cli_database import database_command, open_database
from stockledger.core.model_base import utcnow
from stockledger.core.transactions import command_transaction
from stockledger.idempotency.service import purge_expired

idempotency_app = typer.Typer(help="Stored Idempotency-Key answers.", no_args_is_help=True)
console = Console()


@idempotency_app.command("purge")
@database_command
def purge() -> None:
    """Delete Idempotency-Key answers past their expiry (24 h after the first request)."""
    db = open_database()
    with command_transaction(db) as session:
        purged = purge_expired(session, utcnow())
    db.dispose()
    console.print(f"purged {purged} expired idempotency keys")
