"""What a JetStream stream holds of this deployment: its last own message, found from the end.

Other deployments may publish to the same stream; only messages whose Nats-Msg-Id is
`<our deploymentId>:<eventSeq>` count. The search walks back from the stream's last message,
at most SCAN_LIMIT messages, so a busy neighbour costs a bounded number of reads (not finding
ours then means: resend from the stored position, which is at least once, never a skip).
`every_own=True` (for `events status`) reads the whole window and keeps each of our messages in
it, so a message of ours that is not the outbox's event is found anywhere in it, not only last.
"""

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from stockledger.events.rules import own_event_seq

MSG_ID = "Nats-Msg-Id"
SCAN_LIMIT = 200


@dataclass(frozen=True, slots=True)
class StreamState:
    messages: int  # in the stream, from every sender
    own_last: int | None  # eventSeq of this deployment's last message found, None if none
    scanned: int  # messages looked at, from the end
    own_body: bytes = b""  # that message's body (the feed item it was published from)
    own_seq: int | None = None  # that message's stream sequence
    own: tuple[tuple[int, bytes], ...] = ()  # every_own: (eventSeq, body) of each of ours scanned
    from_first: bool = False  # the scan reached the stream's first message
    oldest_own_seq: int | None = None  # every_own: the stream sequence of the oldest of ours scanned
    first_seq: int = 0  # the stream's first sequence (1 unless messages were trimmed or purged)
    legacy: bool = False  # every_own: a message scanned has a bare `<eventSeq>` id (before deployment ids)


async def stream_state(
    js: JetStreamContext,
    stream: str,
    deployment_id: str,
    scan_limit: int = SCAN_LIMIT,
    every_own: bool = False,
) -> StreamState:
    """The stream's message count and the eventSeq of this deployment's last message in it."""
    state = (await js.stream_info(stream)).state
    if not state.messages:
        return StreamState(0, None, 0, from_first=True, first_seq=state.first_seq)
    lowest = max(state.first_seq, state.last_seq - scan_limit + 1)
    found: list[tuple[int, int, bytes]] = []  # (stream seq, eventSeq, body), newest first
    legacy = False
    for seq in range(state.last_seq, lowest - 1, -1):
        own, msg_id = await _own_message_at(js, stream, seq, deployment_id)
        legacy = legacy or msg_id.isdigit()
        if own is not None:
            found.append((seq, *own))
            if not every_own:
                break
    scanned = state.last_seq - (found[-1][0] if found and not every_own else lowest) + 1
    if not found:
        return StreamState(
            state.messages,
            None,
            scanned,
            from_first=lowest == state.first_seq,
            first_seq=state.first_seq,
            legacy=legacy,
        )
    seq, event_seq, body = found[0]
    every = tuple((e, b) for _, e, b in found) if every_own else ()
    oldest = found[-1][0] if every_own else None
    return StreamState(
        state.messages,
        event_seq,
        scanned,
        body,
        seq,
        every,
        lowest == state.first_seq,
        oldest,
        state.first_seq,
        legacy,
    )


async def _own_message_at(
    js: JetStreamContext, stream: str, seq: int, deployment_id: str
) -> tuple[tuple[int, bytes] | None, str]:
    """(eventSeq and body when the message is ours, else None; its Nats-Msg-Id)."""
    try:
        msg = await js.get_msg(stream, seq)
    except NotFoundError:  # deleted (or purged meanwhile)
        return None, ""
    msg_id = str((msg.headers or {}).get(MSG_ID, ""))
    own = own_event_seq(msg_id, deployment_id)
    return (None if own is None else (own, msg.data or b"")), msg_id
