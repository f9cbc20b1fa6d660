"""Identifiers this service generates (OFBiz ids are strings)."""

import secrets
import time


def new_id(prefix: str = "") -> str:
    """Roughly time-ordered and unique across processes: millis + 40 random bits."""
    return f"{prefix}{int(time.time() * 1000):013d}{secrets.token_hex(5).upper()}"
