"""core.worker_balance's rule, in one process: accepts sharing one listening socket (each on a
dup of it, as each worker has its own copy) take new connections so that no one holds more than
the least loaded, a closed accept is no longer waited for, and a sibling that never accepts
holds a burst up no longer than one deferral. Real sockets, no database."""

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


def test_a_sibling_that_never_accepts_delays_a_burst_only_by_one_deferral() -> None:
    """Behind a sibling that never takes its turn, the first connection left to it waits the
    deferral and the rest of the burst none (a wait each would keep the 20th 19 deferrals); once
    the queue has been quiet for a deferral, the next one left to it waits the deferral again."""

    async def test(listening: socket.socket, port: int) -> None:
        board = ConnectionBoard(2)
        board.publish(1, 0)  # a worker that holds nothing and never wakes (stopped, hung)
        accept = _accept(listening, board, 0, defer=0.2)
        loop = asyncio.get_running_loop()
        began = loop.time()
        clients = await _connect(port, 20)  # kept: a client collected would close its connection
        await _until(lambda: accept.held() == 20)
        assert 0.2 <= loop.time() - began < 4 * 0.2  # the first at once, the second deferred, the rest not
        await asyncio.sleep(0.3)
        began = loop.time()
        clients += await _connect(port, 1)
        await _until(lambda: accept.held() == 21)
        assert loop.time() - began >= 0.2
        assert len(clients) == 21
        accept.close()

    _run(test)


def test_a_sibling_whose_count_changes_is_waited_for_again() -> None:
    """The deferral counts from a sibling's last change, not from the first wait: while the
    sibling's count moves (it is running and taking the queue) a queued connection stays its
    to take; once the count stops moving, the deferral later it is taken here."""

    async def test(listening: socket.socket, port: int) -> None:
        board = ConnectionBoard(2)
        accept = _accept(listening, board, 0, defer=0.5)
        clients = await _connect(port, 3)  # alone on the board: it takes them at once
        await _until(lambda: accept.held() == 3)
        board.publish(1, 0)  # a sibling holding fewer, which never accepts here
        clients += await _connect(port, 1)
        loop = asyncio.get_running_loop()
        began = loop.time()
        for count in (1, 0, 1, 0, 1, 0, 1, 0):  # a change every 0.2 s: 1.6 s, thrice the deferral
            await asyncio.sleep(0.2)
            assert accept.held() == 3, "taken while its sibling was moving"
            board.publish(1, count)
        await _until(lambda: accept.held() == 4)
        assert loop.time() - began >= 1.6 + 0.5 - 0.2  # the last change, then the deferral
        assert len(clients) == 4
        accept.close()

    _run(test)


class RecordedBoard(ConnectionBoard):
    """A board that keeps every count published to it."""

    def __init__(self, slots: int) -> None:
        super().__init__(slots)
        self.published: list[int] = []

    def publish(self, slot: int, held: int) -> None:
        super().publish(slot, held)
        self.published.append(held)


def test_a_connection_is_counted_once_on_its_way_in() -> None:
    """From accept to connection_made a connection is counted once: the published count only
    rises while connections arrive (counted as accepted and again as arrived, it read one more
    for a moment, and a sibling that saw it took one more than its share)."""

    async def test(listening: socket.socket, port: int) -> None:
        board = RecordedBoard(1)
        accept = _accept(listening, board, 0, defer=5.0)
        clients = await _connect(port, 6)
        await _until(lambda: accept.held() == 6 and not accept.tasks)
        assert board.published == sorted(board.published)
        assert board.published[-1] == 6
        assert len(clients) == 6
        accept.close()

    _run(test)
