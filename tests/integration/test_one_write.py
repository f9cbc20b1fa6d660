"""`serve`'s HTTP protocol (core/one_write.py) on a real uvicorn server and socket: a response's
status line, headers and body leave in ONE write of the socket's transport (uvicorn's own
protocol makes two); keep-alive and Connection: close still work; streamed chunks arrive whole
and in order."""

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from uvicorn.importer import import_from_string

from stockledger.cli import ONE_WRITE_HTTPTOOLS
from stockledger.core.one_write import OneWriteHttpToolsProtocol

BODY = b'{"inventoryItemId":"I1","quantity":"1"}'
WRITES: list[bytes] = []  # what the server's socket transports were given to send, in order


class _Spy:
    """A transport that notes what it is given to send."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        WRITES.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Watched(OneWriteHttpToolsProtocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(_Spy(transport))


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


@pytest.fixture
def port() -> Iterator[int]:
    WRITES.clear()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free, loop="uvloop", http=_Watched, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield free
    server.should_exit = True
    thread.join(10)


def _request(path: str, close: bool = False) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n" + connection + b"\r\n"


def _first_recv(sock: socket.socket, request: bytes) -> bytes:
    sock.sendall(request)
    return sock.recv(65536)  # one segment: the whole answer, if it was written at once


def test_serve_uses_the_one_write_protocol() -> None:
    assert import_from_string(ONE_WRITE_HTTPTOOLS) is OneWriteHttpToolsProtocol


def test_the_status_line_headers_and_body_leave_in_one_write(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(3):  # keep-alive: each answer on the same connection, each whole
            answer = _first_recv(sock, _request("/"))
            assert answer.startswith(b"HTTP/1.1 201 Created\r\n")
            assert answer.endswith(b"\r\n\r\n" + BODY)
    assert len(WRITES) == 3
    assert all(w.startswith(b"HTTP/1.1 201") and w.endswith(BODY) for w in WRITES)


def test_connection_close_sends_the_answer_then_closes(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        answer = _first_recv(sock, _request("/", close=True))
        assert answer.startswith(b"HTTP/1.1 201 Created\r\n")
        assert answer.endswith(BODY)
        assert sock.recv(65536) == b""  # closed, after everything was sent


def test_streamed_chunks_arrive_whole_and_in_order(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_request("/stream", close=True))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, body = received.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"transfer-encoding: chunked" in head
    assert body == b"4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n"
