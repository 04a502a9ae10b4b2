"""The event loop every `doingoai` process runs on: uvloop's (libuv) where it is installed, else
asyncio's own.

A projection runner or a replay spends a share of its CPU in the event loop itself: reading and
writing sockets (NATS, PostgreSQL) and running callbacks. uvloop does that in C. Measured on the
2-core machine of the benchmarks, a replay with every projection in one process took about 5 µs less
CPU per event (100 against 105 µs, six interleaved rounds of 30,000 events).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

try:
    import uvloop
except ImportError:  # pragma: no cover - Windows, where uvloop does not exist
    uvloop = None  # type: ignore[assignment]


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on uvloop's event loop if there is one."""
    if uvloop is None:  # pragma: no cover
        return asyncio.run(main)
    return uvloop.run(main)
