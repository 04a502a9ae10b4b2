"""The projections the live worker and a replay run, in order (the event index first)."""

from __future__ import annotations

from projections.models.activities import Activities
from projections.models.audit import AuditTrail
from projections.models.base import Projection
from projections.models.difficulties import Difficulties
from projections.models.escalations import Escalations
from projections.models.event_index import EventIndex
from projections.models.information import Information
from projections.models.partners import Partners
from projections.models.plans import Plans, Tasks
from projections.models.reports import ReportRequests, Reports


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
