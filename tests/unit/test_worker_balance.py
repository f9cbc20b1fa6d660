"""core.worker_balance's rule, in one process: accepts sharing one listening socket (each on a
dup of it, as each worker has its own copy) take new connections so that no one holds more than
the least loaded, a closed accept is no longer waited for, and a sibling that never accepts
holds nothing up longer than the deferral. Real sockets, no database."""

import asyncio
import socket
from collections.abc import Awaitable, Callable

from stockledger.core.worker_balance import NO_WORKER, BalancedAccept, ConnectionBoard, CountedConnections


class Held(asyncio.Protocol):
    """A server connection that stays open, counted in its accept's connections."""

    def __init__(self, connections: CountedConnections) -> None:
        self.connections = connections

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)


def _accept(sock: socket.socket, board: ConnectionBoard, slot: int, defer: float) -> BalancedAccept:
    connections = CountedConnections()
    accept = BalancedAccept(sock.dup(), lambda: Held(connections), connections, board, slot, defer)
    accept.start(backlog=64)
    return accept


async def _connect(port: int, count: int) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    return [await asyncio.open_connection("127.0.0.1", port) for _ in range(count)]


async def _until(condition: Callable[[], bool], seconds: float = 5) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.005)


def _run(test: Callable[[socket.socket, int], Awaitable[None]]) -> None:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    try:
        asyncio.run(test(listening, listening.getsockname()[1]))
    finally:
        listening.close()


def test_connections_opened_at_once_are_shared_evenly() -> None:
    async def test(listening: socket.socket, port: int) -> None:
        board = ConnectionBoard(4)
        accepts = [_accept(listening, board, slot, defer=5.0) for slot in (0, 1)]
        clients = await _connect(port, 8)
        await _until(lambda: sum(a.held() for a in accepts) == 8)
        assert [a.held() for a in accepts] == [4, 4]
        assert list(board.counts[:3]) == [4, 4, NO_WORKER]
        for _, writer in clients:
            writer.close()
        await _until(lambda: list(board.counts[:2]) == [0, 0])  # the counts follow the closes

    _run(test)


def test_a_closed_accept_is_not_waited_for() -> None:
    async def test(listening: socket.socket, port: int) -> None:
        board = ConnectionBoard(2)
        first, second = (_accept(listening, board, slot, defer=60.0) for slot in (0, 1))
        clients = await _connect(port, 2)
        await _until(lambda: (first.held(), second.held()) == (1, 1))
        second.close()
        assert board.counts[1] == NO_WORKER
        clients += await _connect(port, 3)  # had the closed one counted, each would wait 60 s
        await _until(lambda: first.held() == 4, seconds=5)
        assert len(clients) == 5
        first.close()

    _run(test)


def test_a_sibling_that_never_accepts_delays_a_connection_only_by_the_deferral() -> None:
    async def test(listening: socket.socket, port: int) -> None:
        board = ConnectionBoard(2)
        board.publish(1, 0)  # a worker that holds nothing and never wakes (stopped, hung)
        accept = _accept(listening, board, 0, defer=0.05)
        loop = asyncio.get_running_loop()
        began = loop.time()
        clients = await _connect(port, 5)  # kept: a client collected would close its connection
        await _until(lambda: accept.held() == 5)
        assert 4 * 0.05 <= loop.time() - began < 3  # the first at once, each other one deferred once
        assert len(clients) == 5

    _run(test)
