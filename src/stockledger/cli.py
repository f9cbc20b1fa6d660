"""The `stockledger` command line: serve, demo, load, verify, migrate, reset, token, events, idempotency.

A command imports what it needs when it runs, not before: `stockledger reset` starts without
FastAPI, Alembic or the other features (tests/unit/test_cli_imports.py). The commands written
here import inside their bodies; the features' commands (LAZY) are imported by name when asked
for, and all of them when `stockledger --help` lists them.
"""

import json
import os
import signal
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from stockledger.core.gc_pause import made_to_last, no_collections_at_exit

# Start-up makes a few hundred thousand objects that live as long as the process (modules,
# classes, SQLAlchemy's and pydantic's tables), none of them garbage: collecting while they are
# made walked them again and again (≈ 0.1 s of `stockledger reset`'s 0.6 s start, measured).
with made_to_last():
    import typer
    from pydantic import ValidationError
    from rich.console import Console
    from typer import _click as click
    from typer._click.exceptions import UsageError
    from typer.core import TyperGroup
    from typer.main import get_group

    from stockledger.core import strict_json
    from stockledger.core.cli_database import database_command, open_database, user_or_exit
    from stockledger.core.config import Settings, get_settings, settings_problem

if TYPE_CHECKING:
    from stockledger.catalog.importer import ImportOutcome
    from stockledger.events.background import BackgroundPublisher


def _token(holder: typer.Typer) -> None:
    from stockledger.auth.cli import token_app

    holder.add_typer(token_app, name="token")


def _events(holder: typer.Typer) -> None:
    from stockledger.events.cli import events_app
    from stockledger.oms.cli import consume_command

    events = typer.Typer(help=events_app.info.help)  # a copy: events_app itself stays as events/ wrote it
    for command in events_app.registered_commands:
        events.registered_commands.append(command)
    events.command("consume")(consume_command)  # the OMS consumer: a layer above the features
    holder.add_typer(events, name="events")


def _idempotency(holder: typer.Typer) -> None:
    from stockledger.idempotency.cli import idempotency_app

    holder.add_typer(idempotency_app, name="idempotency")


def _reset(holder: typer.Typer) -> None:
    from stockledger.resets.cli import reset

    holder.command(name="reset")(reset)


# The features' commands, each registered on a Typer of its own when first asked for.
LAZY: dict[str, Callable[[typer.Typer], None]] = {
    "reset": _reset,
    "token": _token,
    "events": _events,
    "idempotency": _idempotency,
}


@cache
def _lazy_command(name: str) -> click.Command:
    holder = typer.Typer()
    with made_to_last():  # the command's modules, as the imports above
        LAZY[name](holder)
    return get_group(holder).commands[name]


class LazyCommands(TyperGroup):
    """The root command: the commands written here, then LAZY's, imported on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *LAZY]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY:
            return _lazy_command(cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:  # Typer suggests only the commands written here
            from difflib import get_close_matches

            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches and "Did you mean" not in exc.message:
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"
            raise


app = typer.Typer(
    cls=LazyCommands,
    help="stockledger: an append-only inventory ledger (QOH and ATP per facility).",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)
User = Annotated[
    str | None, typer.Option(help="Who to record on the rows written (default: cli:<your OS user>)")
]


@app.callback()
def _check_settings() -> None:
    """Refuse unusable settings in one line, before any command runs; no cyclic collection at
    the process's exit (core.gc_pause)."""
    no_collections_at_exit()
    try:
        get_settings()
    except ValidationError as exc:
        typer.echo(f"stockledger: {settings_problem(exc)}", err=True)
        raise typer.Exit(2) from None


@app.command()
@database_command
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    db = open_database(migrate=True)
    console.print(f"schema up to date on {db.engine.url.render_as_string(hide_password=True)}")


DEMO_TOKEN = "demo (stockledger demo)"  # the description that marks the demo's admin token


@app.command()
@database_command
def demo(
    user: User = None,
    new_token: Annotated[bool, typer.Option(help="Make another demo admin token even if one exists")] = False,
) -> None:
    """Migrate, load the seed sample documents (safe to run again); print a demo admin token the
    first time (a token is shown once: later runs say how to make another)."""
    from stockledger.auth.service import create_token, list_tokens
    from stockledger.catalog.cli import load_documents
    from stockledger.catalog.seeds import seed_documents
    from stockledger.core.transactions import command_transaction

    db = open_database(user_or_exit(user), migrate=True)
    _print_outcomes(load_documents(db, seed_documents()))
    with command_transaction(db) as session:
        made = [t for t in list_tokens(session) if t.description == DEMO_TOKEN and t.revoked_stamp is None]
        issued = None if made and not new_token else create_token(session, "admin", description=DEMO_TOKEN)
    if issued is None:
        console.print(
            f"The demo admin token {made[0].token_id} was made on {made[0].created_stamp:%Y-%m-%d %H:%M} "
            "and is shown only once. Make another: stockledger demo --new-token "
            "(or stockledger token create --role admin).",
            soft_wrap=True,
        )
        return
    console.print(
        "Demo admin token: send it as [bold]Authorization: Bearer <token>[/bold], "
        "or sign in at http://127.0.0.1:8000/ui/login"
    )
    print(issued.token)


@app.command()
@database_command
def load(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    user: User = None,
) -> None:
    """Load seed-format JSON documents, each file in a transaction of its own.

    Every file is read and validated before any is written: an invalid one (not UTF-8, not
    JSON, its schema, a duplicate line, over 50,000 records) is named with its first errors'
    locations, exit 2, nothing written. A refusal while writing names its file: the files
    before it are committed. Ctrl-C: exit 130, the file being written rolled back."""
    from stockledger.catalog.cli import load_documents
    from stockledger.catalog.load_progress import load_progress, records_in
    from stockledger.core.errors import AppError
    from stockledger.core.gc_pause import collections_paused

    db = open_database(user_or_exit(user), migrate=True)
    documents = []
    try:
        with load_progress(console, len(files), "reading") as reading, collections_paused():
            for path in files:
                reading.start(path.name, 1)
                documents.append((path.name, _read_document(path)))
                reading.finish()
    except KeyboardInterrupt as exc:
        err.print("interrupted while reading the files: nothing written", style="red", soft_wrap=True)
        raise typer.Exit(130) from exc
    records = sum(records_in(document) for _, document in documents)
    committed: list[tuple[str, ImportOutcome]] = []  # what a stop leaves committed, shown with it
    try:
        with load_progress(console, records, "loading") as loading:
            outcomes = load_documents(db, documents, loading, committed)
    except BaseException as exc:  # a refusal, Ctrl-C, a lost connection: first, what committed
        if committed:
            _print_outcomes(committed)
        if isinstance(exc, AppError):
            err.print(
                f"{exc.code}: {exc.detail}{_error_locations(exc.extra)}",
                style="red",
                markup=False,
                soft_wrap=True,
            )
            raise typer.Exit(2) from exc
        done = "the ones above committed" if committed else "nothing committed"
        if isinstance(exc, KeyboardInterrupt):  # as `reset` does: no traceback
            err.print(
                f"interrupted: the document being written rolled back, {done}", style="red", soft_wrap=True
            )
            raise typer.Exit(130) from exc
        # a connection the server ended, say: what was kept, then the error (database_command's line)
        err.print(f"stopped: the document being written rolled back, {done}", style="red", soft_wrap=True)
        raise
    _print_outcomes(outcomes)


def _read_document(path: Path) -> Any:
    """A file's JSON, its numbers exact (as POST /v1/import reads them: 1.0000000000000001 is
    refused for its decimals, not read as the float 1.0); not UTF-8, not JSON or an object naming
    a member twice (core.strict_json), nested too deep, or a number too long to convert: one line
    naming the file, exit 2 (nothing written)."""
    try:
        return strict_json.loads(path.read_text(encoding="utf-8-sig"))  # a BOM, as POST /v1/import takes it
    except strict_json.DuplicateMember as exc:  # as POST /v1/import refuses it
        raise _unreadable(path, str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise _unreadable(path, f"not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise _unreadable(path, f"not valid JSON: {exc}") from exc
    except RecursionError as exc:  # arrays or objects nested thousands deep
        raise _unreadable(path, "nested too deep to read") from exc
    except ValueError as exc:  # a number the reader will not convert: an integer of over 4,300 digits
        raise _unreadable(path, f"cannot be read: {exc}") from exc


def _unreadable(path: Path, why: str) -> typer.Exit:
    """A file `load` cannot read, said in one line naming it: the exit (2) to raise."""
    err.print(f"{path}: {why}; nothing written", style="red", markup=False, soft_wrap=True)
    return typer.Exit(2)


def _error_locations(extra: dict[str, Any]) -> str:
    """The first few errors of a refusal, as the API lists them (errors[].loc and msg)."""
    errors = extra.get("errors") or []
    shown = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5]]
    more = extra.get("errorCount", len(errors)) - len(shown)
    return "".join(f"\n  {line}" for line in shown) + (f"\n  and {more} more" if more > 0 else "")


@app.command()
@database_command
def verify() -> None:
    """Check totals == sum of detail diffs for every item, and the business rules (SPEC §11),
    each by name with a count; exit 1 on any (exit 2: no migrated database to check)."""
    from rich.table import Table

    from stockledger.ledger.rules_check import check_rules
    from stockledger.ledger.verify import find_mismatches

    db = open_database()
    with db.reading() as session:
        mismatches = find_mismatches(session)
        broken = check_rules(session)
    if mismatches:
        table = Table("facility", "item", "QOH/ATP/acc stored", "QOH/ATP/acc from ledger", title="Mismatches")
        for m in mismatches:
            table.add_row(m.facility_id, m.inventory_item_id, _triple(m.totals), _triple(m.ledger))
        console.print(table)
    console.print(f"verify: {len(mismatches)} mismatches")
    for name, count in broken.items():
        console.print(f"verify: rule {name}: {count}")
    if mismatches or any(broken.values()):
        raise typer.Exit(1)


@app.command()
@database_command
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    publish: Annotated[
        bool | None,
        typer.Option(
            "--publish/--no-publish",
            help="Publish the outbox to NATS in this process (default: when STOCKLEDGER_NATS_URL is set)",
        ),
    ] = None,
    stream: Annotated[str, typer.Option(help="JetStream stream to publish to")] = "STOCKLEDGER",
    subject_prefix: Annotated[
        str, typer.Option(help="Subjects: <prefix>.<facilityId>.<EventType>")
    ] = "stockledger",
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="A log line per request (≈ 5 % of a cheap request's CPU; a proxy in front may log instead)",
        ),
    ] = True,
) -> None:
    """Migrate, then serve the HTTP API (and publish the outbox to NATS, one publisher per serve).

    uvloop and httptools (uvicorn[standard]) serve the requests; `--workers N` runs N processes,
    each new connection taken by the one holding the fewest (core/worker_balance.py); set
    PROMETHEUS_MULTIPROC_DIR for /metrics to add them up."""
    from stockledger.core.parent_watch import announce_parent

    settings = get_settings()
    publisher = _publisher(publish, settings, stream, subject_prefix)
    open_database(migrate=True).dispose()
    os.environ.setdefault("STOCKLEDGER_DATABASE_URL", settings.database_url)
    announce_parent()  # workers end when this process does, even after kill -9
    if publisher is not None:
        # uvicorn re-raises SIGTERM after its graceful shutdown; exit normally so the publisher stops too
        signal.signal(signal.SIGTERM, _exit_quietly)
        publisher.start()
    options: dict[str, Any] = {
        "factory": True,
        "workers": workers,
        "log_level": "info",
        "access_log": access_log,
        "loop": "uvloop",
        "http": ONE_WRITE_HTTPTOOLS,  # httptools, each response in one write (core/one_write.py)
        # a spawned worker imports the whole app before it answers uvicorn's health ping; on a
        # busy host that takes over uvicorn's 5 s default and the worker is killed and respawned
        "timeout_worker_healthcheck": 60,
        # a request still running 10 s after SIGTERM is cancelled, and a worker that has not ended
        # 5 s later is killed by the supervisor (core/worker_stop.py): never a wait without end
        "timeout_graceful_shutdown": 10,
    }
    try:
        _run_workers(host, port, workers, settings.accept_defer_seconds, options)
    finally:
        if publisher is not None:
            publisher.stop()


WORKER_APP = "stockledger.app:create_worker_app"
ONE_WRITE_HTTPTOOLS = "stockledger.core.one_write:OneWriteHttpToolsProtocol"  # imported by uvicorn


def _run_workers(host: str, port: int, workers: int, defer: float, options: dict[str, Any]) -> None:
    """One worker: uvicorn as it comes. More: one socket, each new connection taken by the worker
    holding the fewest (core/worker_balance.py), where uvicorn's shared socket lets the first
    worker awake take most of them."""
    import uvicorn
    from rich.markup import escape

    from stockledger.core.worker_balance import BalancedWorkers, listening_socket

    if workers == 1:
        uvicorn.run(WORKER_APP, host=host, port=port, **options)
        return
    config = uvicorn.Config(WORKER_APP, host=host, port=port, **options)  # sets up uvicorn's logging
    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        err.print(f"[red]cannot serve on {host}:{port}: {escape(str(exc))}[/red]")
        raise typer.Exit(1) from exc
    try:
        BalancedWorkers(config, sock, defer).run()
    finally:
        sock.close()


def _publisher(
    publish: bool | None, settings: Settings, stream: str, prefix: str
) -> "BackgroundPublisher | None":
    from stockledger.events.background import BackgroundPublisher
    from stockledger.events.publisher import PublisherConfig

    nats_url = settings.nats_url
    if publish is None:
        publish = bool(nats_url)
    if not publish:
        return None
    if not nats_url:
        err.print("[red]--publish needs a NATS server: set STOCKLEDGER_NATS_URL[/red]")
        raise typer.Exit(2)
    config = PublisherConfig.of(settings, nats_url, stream, prefix)
    return BackgroundPublisher(settings, config)


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _print_outcomes(outcomes: list[tuple[str, "ImportOutcome"]]) -> None:
    from rich.table import Column, Table

    # folded, never cut short ("catalog_202…", "pr… 10"): what committed is the point of the table
    headers = ("document", "type", "created", "updated", "unchanged", "ledger rows written")
    table = Table(*(Column(header, overflow="fold") for header in headers))
    for name, outcome in outcomes:
        # the rows written (created, updated) and those there as given (unchanged: not written)
        rows = (outcome.created, outcome.updated, outcome.unchanged)
        done = [", ".join(f"{k} {v}" for k, v in sorted(by_kind.items()) if v) or "-" for by_kind in rows]
        table.add_row(name, outcome.document_type, *done, str(outcome.ledger_rows_written))
    console.print(table)


def _triple(values: tuple[object, object, object]) -> str:
    return " / ".join(str(v) for v in values)


if __name__ == "__main__":
    app()
