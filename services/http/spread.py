"""Keep-alive connections spread evenly over the HTTP workers (`DOINGOAI_HTTP_WORKERS` > 1).

The kernel hands each new connection to one worker's socket by a hash of its addresses
(`SO_REUSEPORT`): over many short connections that is even, but a few agency systems that each keep
one connection open for hours can all land on one worker, which then works for all of them on one
core while the others wait. So each worker counts the connections it served a request on lately
(their client addresses, over the last SEEN_S), tells the others its count (`services.http.peers`),
and while it holds more than its share of them all, answers one request every CLOSE_GAP_S with
`Connection: close`: that client connects again (as HTTP/1.1 clients do after such an answer), and
the kernel hashes the new connection afresh. Nothing is lost: the request was answered in full.
A lone worker, or one whose peers have not joined, never closes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SEEN_S = 1.0
"""A connection counts while it sent a request within this long (an idle one loads nobody)."""
REPORT_S = 0.05
"""A worker tells the others its count at most this often, while it serves."""
CLOSE_GAP_S = 0.1
"""A worker over its share closes one connection at most this often, so that the counts it acts on
have heard of the connection it closed last (and where it went)."""
Address = tuple[str, int]


class Spread:
    """One worker's count of its connections and of the others' (as they told); `share` starts it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.seen: dict[Address, float] = {}
        """Client address -> when it last sent a request here."""
        self.others: dict[str, tuple[int, float]] = {}
        """Another worker -> (its count, when it told it)."""
        self.workers = 1
        self.tell: Callable[[int], None] | None = None
        self.told_at = -math.inf
        self.closed_at = -math.inf

    def share(self, workers: int, tell: Callable[[int], None]) -> None:
        """Spread over `workers` in all, telling the others this one's count with `tell`."""
        self.workers, self.tell = workers, tell

    def heard(self, worker: str, count: int) -> None:
        self.others[worker] = (count, self.clock())

    def served(self, client: Address) -> bool:
        """Note a request on `client`'s connection: whether to close it after the answer."""
        if self.tell is None or self.workers < 2:
            return False
        now = self.clock()
        self.seen[client] = now
        if now - self.told_at >= REPORT_S:
            self.seen = {a: t for a, t in self.seen.items() if now - t < SEEN_S}
            self.told_at = now
            self.tell(len(self.seen))
        if now - self.closed_at < CLOSE_GAP_S:
            return False
        mine = len(self.seen)
        total = mine + sum(count for count, at in self.others.values() if now - at < SEEN_S)
        if mine <= math.ceil(total / self.workers):
            return False
        self.closed_at = now
        del self.seen[client]
        return True

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """`app`, its answers marked `Connection: close` where `served` says so."""

        async def spreading(scope: Scope, receive: Receive, send: Send) -> None:
            client = scope.get("client") if scope["type"] == "http" else None
            if client is None or not self.served((client[0], client[1])):
                await app(scope, receive, send)
                return

            async def closing(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), (b"connection", b"close")]
                await send(message)

            await app(scope, receive, closing)

        return spreading
