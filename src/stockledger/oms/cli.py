"""`stockledger events consume`: apply the OMS's inbound messages (registered by stockledger.cli)."""

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from stockledger.core.cli_database import database_command, open_database
from stockledger.core.config import get_settings
from stockledger.events.cli import NatsUrl, nats_url_or_exit, stop_on_signals
from stockledger.events.publisher import BrokerUnavailable
from stockledger.oms.consumer import ConsumerConfig, consume

console = Console()
err = Console(stderr=True)


@database_command
def consume_command(
    nats_url: NatsUrl = None,
    stream: Annotated[str, typer.Option(help="JetStream stream of inbound messages")] = "OMS",
    subject_prefix: Annotated[str, typer.Option(help="Subjects: <prefix>.<facilityId>.<Type>")] = "oms",
    durable: Annotated[str, typer.Option(help="Durable consumer name")] = "stockledger",
    until_idle: Annotated[bool, typer.Option("--until-idle", help="Exit when no message is waiting")] = False,
    user: Annotated[
        str | None, typer.Option(help="Who to record on the rows written (default: nats:<durable>)")
    ] = None,
) -> None:
    """Apply inbound OrderConfirmed, ShipmentConfirmed and ReturnReceived messages, each once."""
    db = open_database(migrate=True)
    settings = get_settings()
    config = ConsumerConfig(
        nats_url_or_exit(nats_url),
        stream,
        subject_prefix,
        durable,
        settings.consume_batch_size,
        settings.nats_connect_seconds,
        settings.consume_fetch_seconds,
        settings.consume_retry_seconds,
        user=user,
    )

    async def run() -> int:
        return await consume(db, config, stop_on_signals(), idle_exit=until_idle)

    try:
        handled = asyncio.run(run())
        console.print(f"handled {handled} messages")
    except BrokerUnavailable as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
