"""What a request may carry before any route sees it: no NUL character, JSON bodies as JSON.

PostgreSQL text cannot hold U+0000, so a NUL in an id or a comment would fail in the driver
(and read as a database outage); it is refused here instead, on both databases alike.
"""

import re
from collections.abc import Mapping
from typing import Any

NUL_DETAIL = "Text may not contain the NUL character (U+0000)"
# A JSON \u0000 escape, not preceded by an escaping backslash ("\\u0000" is the text \u0000).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_FORM = "application/x-www-form-urlencoded"
SURROGATE_DETAIL = "Text may not contain a lone UTF-16 surrogate (\\ud800 to \\udfff not in a pair)"
# JSON escapes of UTF-16 surrogates: a pair is one character; either half alone is no text at all
# (it cannot be encoded as UTF-8, so no database can store it).
_SURROGATE = re.compile(rb"(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_PAIR = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def nul_in_target(scope: Mapping[str, Any]) -> bool:
    """A NUL in the (decoded) path or the query string."""
    return "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")


def nul_in_body(content_type: str, body: bytes) -> bool:
    """A NUL in a JSON string (\\u0000) or a form field (%00)."""
    if b"\\u0000" in body and _JSON_NUL.search(body):
        return True
    return media_type(content_type) == _FORM and b"%00" in body


def lone_surrogate_in_body(content_type: str, body: bytes) -> bool:
    """A JSON string escape of half a surrogate pair ("\\ud800"), which json.loads lets through."""
    if b"\\ud" not in body and b"\\uD" not in body:
        return False
    if not is_json(content_type) or not _SURROGATE.search(body):
        return False
    return _SURROGATE.search(_PAIR.sub(b"", body)) is not None


def is_utf8_text(text: str) -> bool:
    """False for text holding a lone surrogate."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    """JSON, or no type at all (FastAPI reads an untyped body as JSON)."""
    media = media_type(content_type)
    return media in ("", "application/json") or media.endswith("+json")


def content_type_of(scope: Mapping[str, Any]) -> str:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return str(value.decode("latin-1"))
    return ""
