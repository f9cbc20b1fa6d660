"""`stockledger events status`: the publisher's position, the outbox, and what the stream holds of ours.

The stream part reads the stream's last `scan_limit` messages (STATUS_SCAN_LIMIT: all of them,
unless the stream is larger) and keeps this deployment's. Its last one (S): outbox events after S
are the gap (not yet published, or the publisher is stuck). Each is compared with the outbox (one
query): one that is not the outbox's event of its number (another body: DIVERGED; beyond the
outbox's last: AHEAD) means a restored or cloned database or a forged message, and a publisher
that stops there. Holes below S: an outbox event between our first and last message that the
stream lacks (a deleted message), or, when the stream's very first message is ours and nothing
was ever trimmed from it, every outbox event before it (a stream deleted and created again by
the next publish). No message of ours in what was read of a stream larger than that (flooded
by other senders) is an unknown state. Each of these is a problem (exit 1); the gap after S
alone is not.
"""

from dataclasses import dataclass, field

from nats.js.errors import NotFoundError

from stockledger.core.db import Database
from stockledger.events.deployment import outbox_after, outbox_between, outbox_bodies, outbox_last
from stockledger.events.publisher import connect, deployment_of, position
from stockledger.events.stream_state import StreamState, stream_state

STATUS_SCAN_LIMIT = 10_000  # messages read from the end of the stream
LISTED = 10  # missing eventSeqs named


@dataclass
class StatusReport:
    lines: list[str] = field(default_factory=list)
    problem: bool = False  # exit 1: diverged, ahead, a hole, an unknown state, or NATS down


def database_status(db: Database, stream: str) -> tuple[StatusReport, str, int]:
    """The lines that need no broker; also this deployment's id and the outbox's last eventSeq."""
    with db.reading() as session:
        published = position(session, stream)
    last, deployment = outbox_last(db), deployment_of(db)
    report = StatusReport()
    report.lines.append(f"{stream}: published up to eventSeq {published}")
    report.lines.append(f"outbox: last eventSeq {last}, {outbox_after(db, published)} after the position")
    report.lines.append(f"deployment: {deployment} (Nats-Msg-Id <deployment>:<eventSeq>)")
    return report, deployment, last


async def stream_status(
    db: Database,
    nats_url: str,
    stream: str,
    report: StatusReport,
    ids: tuple[str, int],
    scan_limit: int = STATUS_SCAN_LIMIT,
) -> None:
    """Add what the stream holds of this deployment, and its gap to the outbox, to `report`."""
    deployment, last = ids
    nc = await connect(nats_url, 2.0)
    try:
        js = nc.jetstream()
        state = await stream_state(js, stream, deployment, scan_limit, every_own=True)
    except NotFoundError:
        report.lines.append(f"stream {stream}: does not exist (nothing published yet)")
        return
    finally:
        await nc.close()
    _compare(db, stream, state, last, report)


def _compare(db: Database, stream: str, state: StreamState, last: int, report: StatusReport) -> None:
    own = state.own_last
    if own is None and state.scanned < state.messages:
        report.problem = True  # cannot tell whether anything is missing: not "all is well"
        report.lines.append(
            f"stream {stream}: {state.messages} messages, none of this deployment's in the last "
            f"{state.scanned}: gap unknown (a stream flooded by other senders, or none of ours on it)"
        )
        return
    report.lines.append(
        f"stream {stream}: {state.messages} messages; this deployment's last: eventSeq {own or 0}"
    )
    bodies = outbox_bodies(db, {seq for seq, _ in state.own})
    wrong = sorted(seq for seq, body in state.own if bodies.get(seq) != body)
    if wrong:
        report.problem = True
        inside = [seq for seq in wrong if seq <= last]
        report.lines.append(_diverged(inside[0] if inside else wrong[-1], last))
        return
    gap = outbox_after(db, own or 0)
    report.lines.append(f"gap: {gap} outbox events after eventSeq {own or 0} are not on the stream")
    if own is not None:
        _holes(db, stream, state, report)


def _holes(db: Database, stream: str, state: StreamState, report: StatusReport) -> None:
    """Outbox events below our last message that the stream lacks. When every message the stream
    ever held was read (nothing trimmed: its first sequence is 1) and its very first message is
    ours, the outbox events before that one were published to a stream that is gone: missing."""
    held = {seq for seq, _ in state.own}
    recreated = state.from_first and state.first_seq == 1 and state.oldest_own_seq == 1
    low = 1 if recreated else min(held)
    missing = [seq for seq in outbox_between(db, low, state.own_last or 0) if seq not in held]
    if not missing:
        return
    report.problem = True
    named = ", ".join(str(seq) for seq in missing[:LISTED]) + (", …" if len(missing) > LISTED else "")
    report.lines.append(
        f"HOLES: {len(missing)} outbox events up to eventSeq {state.own_last} are not on stream "
        f"{stream} ({named}): deleted messages, or a stream deleted and created again; consumers "
        "never got them (docs/events.md, events status)"
    )


def _diverged(own: int, last: int) -> str:
    if own > last:
        return (
            f"AHEAD: the stream holds eventSeq {own} of this deployment, beyond the outbox's last {last} "
            f"(a restored or cloned database?): events {last + 1} to {own} would reuse numbers consumers "
            f"have seen; the publisher stops before them. {FIX}"
        )
    return (
        f"DIVERGED: the stream's eventSeq {own} of this deployment is not the outbox's event {own} "
        f"(a restored or cloned database, or a forged message?): consumers may have seen another event "
        f"under this number, and a publisher that has not passed it stops before it. {FIX}"
    )


FIX = "Run `stockledger events new-deployment-id` (docs/operations.md, Backups and restore)"
