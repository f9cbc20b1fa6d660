"""`stockledger token create|list|revoke`."""

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stockledger.auth import service
from stockledger.core.cli_database import database_command, open_database
from stockledger.core.errors import AppError
from stockledger.core.transactions import command_transaction

token_app = typer.Typer(help="API tokens (stored hashed; the token is shown once).", no_args_is_help=True)
console = Console()


@token_app.command("create")
@database_command
def create(
    role: Annotated[str, typer.Option(help="admin, oms, store or viewer")],
    facility: Annotated[list[str] | None, typer.Option(help="A facility it may touch (repeatable)")] = None,
    description: Annotated[str | None, typer.Option(help="What the token is for")] = None,
    user: Annotated[
        str | None, typer.Option(help="Whom it acts for: recorded on every row it writes (default: its id)")
    ] = None,
) -> None:
    """Create a token; prints it as the last line."""
    try:
        with command_transaction(open_database(migrate=True)) as session:
            service.require_facilities(session, facility)
            issued = service.create_token(session, role, facility, description, user)
    except AppError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from exc
    scope = ", ".join(issued.facilities) if issued.facilities else "all facilities"
    console.print(f"token {issued.token_id}: role {issued.role}, {scope}, user {issued.user_login_id}")
    print(issued.token)


@token_app.command("list")
@database_command
def list_() -> None:
    """List tokens (never their secrets)."""
    with open_database().reading() as session:
        tokens = service.list_tokens(session)
    table = Table()
    for name in ("id", "role", "user"):
        table.add_column(name, no_wrap=True)  # ids and users are copied from here whole
    for name in ("facilities", "created", "revoked", "description"):
        table.add_column(name)
    for t in tokens:
        table.add_row(
            t.token_id,
            t.role,
            t.user_login_id,
            ", ".join(t.facilities or ["(all)"]),
            str(t.created_stamp),
            str(t.revoked_stamp or ""),
            t.description or "",
        )
    console.print(table)


@token_app.command("revoke")
@database_command
def revoke(token_id: Annotated[str, typer.Argument(help="The token's id (see `token list`)")]) -> None:
    """Revoke a token at once."""
    try:
        with command_transaction(open_database()) as session:
            service.revoke_token(session, token_id)
    except AppError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"token {token_id} revoked")
