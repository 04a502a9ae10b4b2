"""The projections the live worker and a replay run, in order (the event index first)."""

from __future__ import annotations

from projections.activities import Activities
from projections.base import Projection
from projections.event_index import EventIndex


def all_projections() -> list[Projection]:
    return [EventIndex(), Activities()]
