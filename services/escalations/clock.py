"""Where the escalation service's time comes from: the system clock, or one tests move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class MovableClock:
    """A clock set to a moment and moved explicitly (for tests and rehearsals)."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware start")
        self.current = start

    def now(self) -> datetime:
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = moment

    def advance(self, delta: timedelta) -> None:
        self.current += delta
