"""`stockledger events publish|new-deployment-id|status` (`events consume`: oms/cli.py)."""

import asyncio
import signal
from typing import Annotated

import typer
from rich.console import Console

from stockledger.core.cli_database import database_command, open_database
from stockledger.core.config import get_settings
from stockledger.core.transactions import command_transaction
from stockledger.events.deployment import new_deployment_id
from stockledger.events.publisher import (
    BrokerUnavailable,
    PublisherConfig,
    StreamDiverged,
    publish_forever,
    publish_pending,
)
from stockledger.events.status import STATUS_SCAN_LIMIT, database_status, stream_status

events_app = typer.Typer(help="The outbox and NATS JetStream: publish events, consume OMS messages.")
console = Console()
err = Console(stderr=True)

NatsUrl = Annotated[str | None, typer.Option(help="NATS server (default: STOCKLEDGER_NATS_URL)")]


def nats_url_or_exit(given: str | None) -> str:
    url = given or get_settings().nats_url
    if not url:
        err.print("[red]no NATS server: set STOCKLEDGER_NATS_URL or pass --nats-url[/red]")
        raise typer.Exit(2)
    return url


def stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


@events_app.command("publish")
@database_command
def publish(
    once: Annotated[bool, typer.Option("--once", help="Publish what is pending, then exit")] = False,
    nats_url: NatsUrl = None,
    stream: Annotated[str, typer.Option(help="JetStream stream")] = "STOCKLEDGER",
    subject_prefix: Annotated[
        str, typer.Option(help="Subjects: <prefix>.<facilityId>.<EventType>")
    ] = "stockledger",
) -> None:
    """Deliver the outbox to NATS JetStream at least once (resumes from its stored position)."""
    db = open_database(migrate=True)
    config = PublisherConfig.of(get_settings(), nats_url_or_exit(nats_url), stream, subject_prefix)

    async def run() -> None:
        if once:
            published = await publish_pending(db, config)
            console.print(f"published {published} events to {config.stream}")
        else:
            await publish_forever(db, config, stop_on_signals())

    try:
        asyncio.run(run())
    except BrokerUnavailable as exc:
        err.print(f"[red]{exc}; the events stay in the outbox[/red]")
        raise typer.Exit(1) from exc
    except StreamDiverged as exc:
        console.print(f"published {exc.published} events to {config.stream}")
        err.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()


@events_app.command("new-deployment-id")
@database_command
def new_deployment_id_command() -> None:
    """Give this database a new deployment id: run it on a restored or cloned database before it
    publishes, so that its events are published under its own message ids (docs/events.md)."""
    db = open_database()
    try:
        with command_transaction(db) as session:
            old, new = new_deployment_id(session)
    finally:
        db.dispose()
    console.print(f"deployment id: {old} -> {new}", highlight=False)
    console.print(f"events not yet published will carry Nats-Msg-Id {new}:<eventSeq>", highlight=False)


@events_app.command("status")
@database_command
def status(
    stream: Annotated[str, typer.Option(help="JetStream stream")] = "STOCKLEDGER",
    nats_url: NatsUrl = None,
    scan_limit: Annotated[
        int, typer.Option(min=1, help="Messages read from the end of the stream")
    ] = STATUS_SCAN_LIMIT,
) -> None:
    """The publisher's position, the outbox, and (with NATS) the gap between the outbox and the
    stream. Exit 1 when the stream holds a message of this deployment that is not the outbox's
    event of its number (AHEAD, DIVERGED: a restored or cloned database), lacks outbox events
    up to the publisher's position (HOLES; a missing stream too, once anything was published),
    holds none of ours in what was read (gap unknown), or NATS is down."""
    db = open_database()
    report, deployment, last = database_status(db, stream)
    url = nats_url or get_settings().nats_url
    try:
        if url:
            asyncio.run(stream_status(db, url, stream, report, (deployment, last), scan_limit))
    except BrokerUnavailable as exc:
        report.lines.append(f"{exc}: the stream was not compared")
        report.problem = True
    finally:
        db.dispose()
    for line in report.lines:
        console.print(line, highlight=False, soft_wrap=True)
    if report.problem:
        raise typer.Exit(1)
