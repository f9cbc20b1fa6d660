"""uvicorn's httptools protocol with each response sent in one write (`serve` uses it).

uvicorn writes a response's status line and headers, then its body: two `send` system calls,
two TCP segments, two wake-ups of the client, for an answer of a few hundred bytes. On the
loopback, the sender's CPU also runs the receiver's TCP processing, so under wrk (bench/
reserve_http.py) the first write alone was ≈ 8 % of a worker's samples (py-spy). Here the
connection's writes of one event-loop turn are joined and sent together at the end of the
turn: the headers and body of a response (both sent before the application yields) go as one.
Order is kept; `close` sends what is pending first; `abort` drops it (as it drops the kernel's
buffer).
"""

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class OneWriteTransport:
    """`transport` with its writes of one loop turn sent as one; everything else is its own."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        """Send what was written since the last flush (nothing once the connection is closing)."""
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # get_extra_info, is_closing, pause_reading, …
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol on a OneWriteTransport."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance check
        wrapped = OneWriteTransport(cast(asyncio.Transport, transport), self.loop)
        super().connection_made(cast(asyncio.Transport, wrapped))
