"""ExactNumbers writes out the marked numbers of an answer whose making marked one, and leaves
every other answer unread (a marked-looking text it did not make passes as it is)."""

import asyncio
from decimal import Decimal

from starlette.types import Message, Receive, Scope, Send

from stockledger.core.exact_json import ExactNumbers
from stockledger.core.quantities import json_number

LARGEST = Decimal("999999999999.999999")
LOOKS_MARKED = b'{"quantity":"\\u0000exact:5"}'


def _through(make_body: bool) -> list[Message]:
    """The messages ExactNumbers sends of an answer made with json_number, or of a ready body."""
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if make_body:
            body = b'{"quantity":"\\u0000exact:' + str(json_number(LARGEST))[7:].encode() + b'"}'
        else:
            body = LOOKS_MARKED
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def collect(message: Message) -> None:
        sent.append(message)

    asyncio.run(ExactNumbers(app)({"type": "http", "method": "GET", "path": "/"}, receive, collect))
    return sent


def test_an_answer_whose_making_marked_a_number_has_it_written_out() -> None:
    start, body = _through(make_body=True)
    assert body["body"] == b'{"quantity":999999999999.999999}'
    assert dict(start["headers"])[b"content-length"] == str(len(body["body"])).encode()


def test_an_answer_that_marked_nothing_passes_unread() -> None:
    start, body = _through(make_body=False)
    assert body["body"] == LOOKS_MARKED
    assert dict(start["headers"])[b"content-length"] == str(len(LOOKS_MARKED)).encode()


def test_outside_an_answer_json_number_still_marks() -> None:
    assert json_number(LARGEST) == "\x00exact:999999999999.999999"
