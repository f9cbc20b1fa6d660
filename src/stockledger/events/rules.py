"""Pure rules of the NATS subjects (no database, no broker)."""


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
