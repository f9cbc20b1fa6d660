"""The marked text of a number too exact for a float, and its writing out (no web framework here:
the ledger, the outbox and the command line use it; core.exact_json applies it to HTTP answers).

json_number (core.quantities) gives a quantity a float would round as a marked text (EXACT_MARK:
a NUL, which no text this service keeps can hold); exact_numbers turns the marked text back into
the number. exact_mark notes each mark in MARKS_WRITTEN, which core.exact_json's ExactNumbers
sets per request, so an answer without a mark passes through unread.
"""

import re
from contextvars import ContextVar

EXACT_MARK = "\x00exact:"
_MARK_IN_TEXT = '"\\u0000exact:'  # the mark as json.dumps writes it inside a string
MARK_IN_JSON = _MARK_IN_TEXT.encode()
_MARKED_TEXT = re.compile(re.escape(_MARK_IN_TEXT) + r'(-?[0-9]+(?:\.[0-9]+)?)"')
_MARKED = re.compile(_MARKED_TEXT.pattern.encode())


# Set by ExactNumbers for each request: a list that exact_mark appends to (a list, not a flag, so
# a route run in a worker thread, in a copy of the context, still reaches it).
MARKS_WRITTEN: ContextVar[list[bool] | None] = ContextVar("stockledger_exact_marks", default=None)


def exact_mark(digits: str) -> str:
    """The marked text of the number `digits`, noted for the answer being made."""
    written = MARKS_WRITTEN.get()
    if written is not None and not written:
        written.append(True)
    return EXACT_MARK + digits


def exact_numbers(body: bytes) -> bytes:
    """`body` (JSON) with each marked text of a number written as that number."""
    return _MARKED.sub(rb"\1", body) if MARK_IN_JSON in body else body


def exact_numbers_text(text: str) -> str:
    return _MARKED_TEXT.sub(r"\1", text) if _MARK_IN_TEXT in text else text
