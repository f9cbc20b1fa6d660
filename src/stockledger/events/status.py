"""`stockledger events status`: the publisher's position, the outbox, and what the stream holds of ours.

The stream part reads the stream's last `scan_limit` messages (STATUS_SCAN_LIMIT: all of them,
unless the stream is larger) and keeps this deployment's. The publisher's position P (or our last
message there, if later): outbox events after P are the gap (not yet published, or the publisher
is stuck). Each is compared with the outbox (one query): one that is not the outbox's event of its
number (another body: DIVERGED; beyond the outbox's last: AHEAD) means a restored or cloned
database or a forged message, and a publisher that stops there. Holes: an outbox event between our
first message and P that the stream lacks (a deleted message, our last one included: the publisher
is past it and never resends it), or, when the stream's very first message is ours (or none is and
it was never trimmed) and nothing was ever trimmed from it, every outbox event up to P before it
(a stream deleted and created again by the next publish); a missing stream while P > 0. No
message of ours in what was read of a stream larger than that (flooded by other senders) is an
unknown state. Each of these is a problem (exit 1); the gap after P alone is not.
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
    published: int = 0  # the publisher's position: events up to it were acknowledged by the stream


def database_status(db: Database, stream: str) -> tuple[StatusReport, str, int]:
    """The lines that need no broker; also this deployment's id and the outbox's last eventSeq."""
    with db.reading() as session:
        published = position(session, stream)
    last, deployment = outbox_last(db), deployment_of(db)
    report = StatusReport(published=published)
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
        if not report.published:
            report.lines.append(f"stream {stream}: does not exist (nothing published yet)")
            return
        report.lines.append(
            f"stream {stream}: does not exist, but events up to {report.published} were published to it"
        )
        _missing(stream, outbox_between(db, 1, report.published), report.published, report)
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
    published = max(report.published, own or 0)  # the publisher resends only events after it
    gap = outbox_after(db, published)
    report.lines.append(f"gap: {gap} outbox events after eventSeq {published} are not on the stream")
    _holes(db, stream, state, published, report)


def _holes(db: Database, stream: str, state: StreamState, published: int, report: StatusReport) -> None:
    """Outbox events up to the publisher's position (or our last message, if later) that the stream
    lacks: the publisher never sends them again. Below our oldest message only when every message
    the stream ever held was read (nothing trimmed: its first sequence is 1) and its very first
    message is ours, or none is ours and none has a bare `<eventSeq>` id (from before deployment
    ids): the stream was deleted and created again. Otherwise they may be trimmed by its limits."""
    held = {seq for seq, _ in state.own}
    if held:
        recreated = state.from_first and state.first_seq == 1 and state.oldest_own_seq == 1
        low = 1 if recreated else min(held)
    elif state.from_first and state.first_seq <= 1 and not state.legacy:
        low = 1
    else:
        return
    missing = [seq for seq in outbox_between(db, low, published) if seq not in held]
    _missing(stream, missing, published, report)


def _missing(stream: str, missing: list[int], published: int, report: StatusReport) -> None:
    if not missing:
        return
    report.problem = True
    named = ", ".join(str(seq) for seq in missing[:LISTED]) + (", …" if len(missing) > LISTED else "")
    report.lines.append(
        f"HOLES: {len(missing)} outbox events up to eventSeq {published} are not on stream "
        f"{stream} ({named}): deleted messages, or a stream deleted (and created again); the "
        "publisher is past them and never resends them, consumers never got them (docs/events.md, "
        "events status)"
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
