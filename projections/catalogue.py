"""The projections the live worker and a replay run, in order (the event index first)."""

from __future__ import annotations

from projections.activities import Activities
from projections.audit import AuditTrail
from projections.base import Projection
from projections.difficulties import Difficulties
from projections.escalations import Escalations
from projections.event_index import EventIndex
from projections.information import Information
from projections.partners import Partners
from projections.plans import Plans, Tasks
from projections.reports import ReportRequests, Reports


def partitioned_projections() -> list[Projection]:
    """What partition workers apply to their provinces: everything but the audit chain."""
    return [p for p in all_projections() if not isinstance(p, AuditTrail)]


def all_projections(trail: AuditTrail | None = None) -> list[Projection]:
    """Every projection; the audit chain is `trail` (by default one that does not sign)."""
    return [
        EventIndex(),
        trail or AuditTrail(),
        Activities(),
        Plans(),
        Tasks(),
        Reports(),
        ReportRequests(),
        Partners(),
        Information(),
        Difficulties(),
        Escalations(),
    ]
