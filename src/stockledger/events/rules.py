"""Pure rules of the NATS subjects (no database, no broker)."""

import re


def subject_token(value: str) -> str:
    """A NATS subject token: ids may hold '.', which would split the token, so it becomes '_'."""
    cleaned = "".join("_" if ch in ".*> \t\r\n" else ch for ch in value)
    return cleaned or "_"


def event_subject(prefix: str, facility_id: str, event_type: str) -> str:
    """`stockledger.<facilityId>.<EventType>`."""
    return f"{prefix}.{subject_token(facility_id)}.{event_type}"


def inbound_type(subject: str) -> str:
    """The message type is the subject's last token: `oms.<facilityId>.OrderConfirmed`."""
    return subject.rsplit(".", 1)[-1]


def message_id(deployment_id: str, event_seq: int) -> str:
    """The Nats-Msg-Id of an event: `<deploymentId>:<eventSeq>`, so that deployments sharing a
    stream neither drop each other's messages as duplicates nor mistake them for their own."""
    return f"{deployment_id}:{event_seq}"


def own_event_seq(msg_id: object, deployment_id: str) -> int | None:
    """The eventSeq of a message id this deployment sent; None for anyone else's. Only the exact
    form message_id() writes is ours: `<deploymentId>:<n>`, n >= 1 in ASCII digits without
    leading zeros (`<id>:0048` is not eventSeq 48). A header NATS could not read as text (the
    client hands over an email.header.Header for non-ASCII) is never ours."""
    if not isinstance(msg_id, str):
        return None
    sender, _, seq = msg_id.rpartition(":")
    if sender != deployment_id or not CANONICAL_SEQ.fullmatch(seq):
        return None
    return int(seq)


CANONICAL_SEQ = re.compile(r"[1-9][0-9]*")
