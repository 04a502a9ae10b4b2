"""What one client may cost the HTTP service: the bytes of refused events it has kept per hour (a
quota per publishing agency), the request bodies read and worked on at once, how many bad tokens
one address may try, and how many wrong passwords may be tried for one username or from one address.

All of them are held in memory: a restart starts them afresh. Where several HTTP workers serve
(`DOINGOAI_HTTP_WORKERS`), each tells the others what its counts learn (`services.http.peers`), so
the quotas and the bad tokens and passwords are counted over all of them, and so are the counters of
`/metrics` (each worker counts the 429s the others answered too); the body budget is each process's
own. Each answers with an exception the application turns into a 429 with `Retry-After`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from prometheus_client import Counter

QUOTA_EXCEEDED = Counter("doingoai_http_rejected_quota_exceeded_total",
                         "POST /events requests answered 429: the publisher's quota of refused bytes is used up",
                         ["publisher"])
BAD_TOKENS_THROTTLED = Counter("doingoai_http_bad_token_throttled_total",
                               "Requests answered 429: their address tried too many bad tokens")
BAD_PASSWORDS_THROTTLED = Counter("doingoai_http_sign_in_throttled_total",
                                  "Sign-ins answered 429: too many wrong passwords for the username or from "
                                  "the address",
                                  ["by"])
DEFAULT_REJECTED_QUOTA_BYTES = 16 * 1024 * 1024
QUOTA_WINDOW_S = 3600.0
BAD_TOKENS = 20
"""Bad tokens one address may present within BAD_TOKEN_WINDOW_S before it is answered 429."""
BAD_TOKEN_WINDOW_S = 60.0
BAD_TOKEN_BLOCK_S = 300.0
BAD_PASSWORDS = 5
"""Wrong passwords for one username within BAD_PASSWORD_WINDOW_S before its sign-ins are answered 429."""
BAD_PASSWORDS_PER_ADDRESS = 20
"""Wrong passwords from one address (an office behind one NAT holds many people) within the window."""
BAD_PASSWORD_WINDOW_S = 300.0
BAD_PASSWORD_BLOCK_S = 300.0
MAX_TRACKED = 10_000
"""Most publishers or addresses remembered; beyond it the stale ones are forgotten first."""


Told = Callable[[str, list[Any]], None]
"""(op, args): what a count learned, for the other HTTP workers."""


class TooManyRequests(Exception):
    """A client asked for more than it may for now: 429 with `Retry-After`."""

    error = "too_many_requests"

    def __init__(self, message: str, retry_after_s: float):
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(message)

    def as_dict(self) -> dict[str, object]:
        return {"error": self.error, "message": str(self), "retry_after_s": self.retry_after_s}


class QuotaExceeded(TooManyRequests):
    """The publisher's refused events of this hour are over its quota: the refused events of this
    request are not kept, and its requests are refused unread until the hour is over."""

    error = "quota_exceeded"

    def __init__(self, publisher: str, limit: int, retry_after_s: float):
        self.publisher, self.limit = publisher, limit
        super().__init__(f"{publisher} has sent more than {limit} bytes of refused events within an hour; "
                         "they are no longer kept: correct the events before sending more", retry_after_s)

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "publisher": self.publisher, "quota_bytes": self.limit,
                "window_s": int(QUOTA_WINDOW_S)}


@dataclass
class _Window:
    start: float
    used: int = 0


def _forget_stale(table: dict[str, _Window], now: float, span: float) -> None:
    if len(table) < MAX_TRACKED:
        return
    for key in [k for k, w in table.items() if now - w.start >= span]:
        del table[key]
    while len(table) >= MAX_TRACKED:  # still full of fresh ones: the oldest go
        del table[next(iter(table))]


@dataclass
class RejectedQuota:
    """Bytes of refused events kept per publisher in a window of an hour that opens at its first
    refusal. A refusal that does not fit is not kept and closes the window to the publisher until
    it ends (its requests are then refused before their body is read). `limit` 0: no quota."""

    limit: int = DEFAULT_REJECTED_QUOTA_BYTES
    window_s: float = QUOTA_WINDOW_S
    clock: Callable[[], float] = time.monotonic
    windows: dict[str, _Window] = field(default_factory=dict)
    told: Told | None = None
    """Tells the other HTTP workers each charge (`Limits.share`)."""

    def _window(self, publisher: str) -> _Window:
        now = self.clock()
        found = self.windows.get(publisher)
        if found is None or now - found.start >= self.window_s:
            _forget_stale(self.windows, now, self.window_s)
            found = self.windows[publisher] = _Window(now)
        return found

    def _exceeded(self, publisher: str, window: _Window) -> QuotaExceeded:
        QUOTA_EXCEEDED.labels(publisher).inc()
        if self.told is not None:
            self.told("exceeded", [publisher])
        return QuotaExceeded(publisher, self.limit, window.start + self.window_s - self.clock())

    def check(self, publisher: str) -> None:
        """QuotaExceeded if the publisher's window is used up."""
        if self.limit and (window := self._window(publisher)).used >= self.limit:
            raise self._exceeded(publisher, window)

    def charge(self, publisher: str, size: int) -> None:
        """Count `size` bytes about to be kept, or QuotaExceeded (nothing counted but the window closed)."""
        if not self.limit:
            return
        window = self._window(publisher)
        closed = window.used + size > self.limit
        window.used = self.limit if closed else window.used + size
        if self.told is not None:
            self.told("charge", [publisher, size, closed])
        if closed:
            raise self._exceeded(publisher, window)

    def learn(self, op: str, args: list[Any]) -> None:
        """Count a charge another worker made (`closed`: it did not fit, and closed the window), or a
        request it answered 429."""
        if op == "exceeded":  # counted once over all the workers' /metrics
            QUOTA_EXCEEDED.labels(str(args[0])).inc()
            return
        publisher, size, closed = str(args[0]), int(args[1]), bool(args[2])
        if op == "charge" and self.limit:
            window = self._window(publisher)
            window.used = self.limit if closed else min(self.limit, window.used + size)


@dataclass
class BadTokens:
    """Addresses that presented `limit` bad tokens within `window_s` are answered 429 for `block_s`
    (any bearer request from them, before its token is looked up). The same count of failures per
    key serves wrong passwords, per username and per address (`what` names it in the answer)."""

    limit: int = BAD_TOKENS
    window_s: float = BAD_TOKEN_WINDOW_S
    block_s: float = BAD_TOKEN_BLOCK_S
    clock: Callable[[], float] = time.monotonic
    failures: dict[str, _Window] = field(default_factory=dict)
    blocked: dict[str, float] = field(default_factory=dict)
    what: str = "bad tokens from"
    throttled: Callable[[], None] = BAD_TOKENS_THROTTLED.inc
    told: Told | None = None
    """Tells the other HTTP workers each failure and success (`Limits.share`)."""

    def check(self, address: str) -> None:
        until = self.blocked.get(address)
        if until is None:
            return
        now = self.clock()
        if now >= until:
            del self.blocked[address]
            return
        self.throttled()
        if self.told is not None:
            self.told("throttled", [])
        raise TooManyRequests(f"too many {self.what} {address}; try again later", until - now)

    def failed(self, address: str) -> None:
        self._failed(address)
        if self.told is not None:
            self.told("failed", [address])

    def _failed(self, address: str) -> None:
        now = self.clock()
        window = self.failures.get(address)
        if window is None or now - window.start >= self.window_s:
            _forget_stale(self.failures, now, self.window_s)
            window = self.failures[address] = _Window(now)
        window.used += 1
        if window.used >= self.limit:
            del self.failures[address]
            if len(self.blocked) >= MAX_TRACKED:
                self.blocked = {a: t for a, t in self.blocked.items() if t > now}
            self.blocked[address] = now + self.block_s

    def succeeded(self, key: str) -> None:
        """Forget the failures counted for `key` (a username that has just signed in)."""
        self.failures.pop(key, None)
        if self.told is not None:
            self.told("succeeded", [key])

    def learn(self, op: str, args: list[Any]) -> None:
        """Count a failure, or forget the failures of a success, that another worker saw, or a request
        it answered 429."""
        if op == "failed":
            self._failed(str(args[0]))
        elif op == "succeeded":
            self.failures.pop(str(args[0]), None)
        elif op == "throttled":
            self.throttled()


@dataclass
class BodyBudget:
    """Bytes of request bodies being read and worked on at once, per publisher and in all: a request
    over either waits (its body unread, held back by the connection's flow control) until earlier
    ones are done. Each request counts its declared length, or its route's limit. A request that fits
    takes its share at once; only one that must wait meets the condition the others signal."""

    per_publisher: int = 8 * 1024 * 1024
    total: int = 48 * 1024 * 1024
    held: dict[str, int] = field(default_factory=dict)
    in_use: int = 0
    _changed: asyncio.Condition | None = None
    _waiting: int = 0

    def hold(self, publisher: str, size: int) -> AbstractAsyncContextManager[None]:
        return _Held(self, publisher, min(size, self.per_publisher, self.total))

    def _fits(self, publisher: str, size: int) -> bool:
        return self.held.get(publisher, 0) + size <= self.per_publisher and self.in_use + size <= self.total

    def _take(self, publisher: str, size: int) -> None:
        self.held[publisher] = self.held.get(publisher, 0) + size
        self.in_use += size

    async def acquire(self, publisher: str, size: int) -> None:
        if self._fits(publisher, size):
            self._take(publisher, size)
            return
        changed = self._changed = self._changed or asyncio.Condition()
        self._waiting += 1
        try:
            async with changed:
                await changed.wait_for(lambda: self._fits(publisher, size))
                self._take(publisher, size)
        finally:
            self._waiting -= 1

    async def release(self, publisher: str, size: int) -> None:
        self.in_use -= size
        self.held[publisher] -= size
        if not self.held[publisher]:
            del self.held[publisher]
        if self._waiting and self._changed is not None:
            async with self._changed:
                self._changed.notify_all()


class _Held:
    """A request's share of a `BodyBudget` while it is worked on."""

    __slots__ = ("budget", "publisher", "size")

    def __init__(self, budget: BodyBudget, publisher: str, size: int):
        self.budget, self.publisher, self.size = budget, publisher, size

    async def __aenter__(self) -> None:
        await self.budget.acquire(self.publisher, self.size)

    async def __aexit__(self, *_: object) -> None:
        await self.budget.release(self.publisher, self.size)


@dataclass
class Limits:
    """The HTTP service's limits, made once per application."""

    rejected: RejectedQuota = field(default_factory=RejectedQuota)
    bad_tokens: BadTokens = field(default_factory=BadTokens)
    bad_passwords: BadTokens = field(default_factory=lambda: BadTokens(
        BAD_PASSWORDS, BAD_PASSWORD_WINDOW_S, BAD_PASSWORD_BLOCK_S, what="wrong passwords for",
        throttled=BAD_PASSWORDS_THROTTLED.labels("username").inc))
    """Wrong passwords per username."""
    bad_password_addresses: BadTokens = field(default_factory=lambda: BadTokens(
        BAD_PASSWORDS_PER_ADDRESS, BAD_PASSWORD_WINDOW_S, BAD_PASSWORD_BLOCK_S, what="wrong passwords from",
        throttled=BAD_PASSWORDS_THROTTLED.labels("address").inc))
    """Wrong passwords per address."""
    bodies: BodyBudget = field(default_factory=BodyBudget)
    """Per process: what one process holds in memory at once."""

    def share(self, tell: Callable[[str, str, list[Any]], None]) -> None:
        """Have every count tell `tell(part, op, args)` what it learns, for the other workers' `learn`."""
        for part in SHARED:
            getattr(self, part).told = partial(tell, part)

    def learn(self, part: str, op: str, args: list[Any]) -> None:
        """Apply what another worker's `part` learned (see `share`)."""
        if part in SHARED:
            getattr(self, part).learn(op, args)


SHARED = ("rejected", "bad_tokens", "bad_passwords", "bad_password_addresses")
"""The counts of `Limits` that the HTTP workers share (each body budget is its process's own)."""
