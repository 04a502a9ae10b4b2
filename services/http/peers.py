"""What the HTTP workers of one `up` (`DOINGOAI_HTTP_WORKERS` > 1) tell each other, so that a client
meets the same limits whichever worker takes its connection: each count of `services.http.limits`
that learns something (a bad token, a wrong password, a sign-in, a refused event's bytes) tells the
others, and a worker that ends a person's sessions (sign-out, a disabled account, a new password)
has the others forget what they cached of them (`services.sessions.forget_user`). Each tells the
others how many connections it serves, so that they spread evenly (`services.http.spread`).

They speak on PEERS_SUBJECT, a core NATS subject of the services' own user (an agency's or auditor's
credentials may neither publish nor subscribe there). Each message is published and flushed at once,
and a request that taught a count something is answered once its message has reached the NATS server
(`settled`): the others hear it within a round trip, before the client can send its next request.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from services.http.limits import Limits
from services.http.spread import Spread
from services.sessions import forget_user

PEERS_SUBJECT = "doingoai.services.http.peers"
log = structlog.get_logger(__name__)


class Peers:
    """One worker's side: `tell_limit` and `forget_user` send, `heard` applies what the others sent."""

    def __init__(self, nc: Client, limits: Limits, spread: Spread):
        self.nc, self.limits, self.spread = nc, limits, spread
        self.me = secrets.token_hex(8)
        self.sending: set[asyncio.Task[None]] = set()
        self.sub: Subscription | None = None
        self.serving: set[str] = set()
        """The other workers that said they serve."""
        self.joined = asyncio.Event()

    @classmethod
    async def join(cls, nc: Client, limits: Limits, spread: Spread, workers: int) -> Peers:
        """Join the other workers (`workers` in all, this one included)."""
        peers = cls(nc, limits, spread)
        peers.sub = await nc.subscribe(PEERS_SUBJECT, cb=peers.heard)
        await nc.flush()
        limits.share(peers.tell_limit)
        spread.share(workers, peers.tell_connections)
        return peers

    def tell_limit(self, part: str, op: str, args: list[Any]) -> None:
        self._send({"limit": [part, op, args]})

    def tell_connections(self, count: int) -> None:
        self._send({"connections": count})

    def say_serving(self) -> None:
        self._send({"serving": True})

    async def wait_serving(self, others: int) -> None:
        """Until `others` other workers have said they serve."""
        while len(self.serving) < others:
            self.joined.clear()
            await self.joined.wait()

    def forget_user(self, username: str) -> None:
        """Forget the person's sessions here and have the others forget them."""
        forget_user(username)
        self._send({"forget_user": username})

    def _send(self, body: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._publish({"from": self.me, **body}))
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)

    async def _publish(self, body: dict[str, Any]) -> None:
        try:
            await self.nc.publish(PEERS_SUBJECT, json.dumps(body).encode())
            await self.nc.flush()
        except Exception as exc:  # the others count without it; nothing to answer the client about
            log.warning("http.peers_unreachable", error=repr(exc))

    async def settled(self) -> None:
        """Wait until what this worker told has reached the NATS server."""
        if self.sending:
            await asyncio.gather(*self.sending, return_exceptions=True)

    async def heard(self, msg: Msg) -> None:
        try:
            body = json.loads(msg.data)
            if body.get("from") == self.me:
                return
            if "limit" in body:
                part, op, args = body["limit"]
                self.limits.learn(str(part), str(op), list(args))
            elif "forget_user" in body:
                forget_user(str(body["forget_user"]))
            elif "connections" in body:
                self.spread.heard(str(body["from"]), int(body["connections"]))
            elif body.get("serving"):
                self.serving.add(str(body["from"]))
                self.joined.set()
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            log.warning("http.peers_bad_message", error=repr(exc))

    async def leave(self) -> None:
        if self.sub is not None:
            await self.sub.unsubscribe()
        await asyncio.gather(*self.sending, return_exceptions=True)
