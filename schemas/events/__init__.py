"""The event catalogue: importing this package registers every event type (and upcaster)."""

from schemas.events import (  # noqa: F401
    activities,
    activities_v2,
    cooperation,
    difficulties,
    escalations,
    information,
    partners,
    plans,
    reports,
)
