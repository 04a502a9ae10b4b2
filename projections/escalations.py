"""Escalations and reminders: raised, acknowledged, closed — one row per escalation id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from projections.batch import Stored
from projections.rows import Reducer, Refused, Row, RowProjection
from projections.tables import escalations


def raised(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    if row is not None:
        return row  # raised once; a repeat of the decision changes nothing
    return {
        "province": s.event.envelope.province, "trigger": d.trigger.value, "cause_subject": d.cause_subject,
        "level": d.level, "target_agency": d.target_agency, "target_role": d.target_role,
        "responsible_agency": d.responsible_agency, "period": d.period, "due_at": d.due_at, "ack_by": d.ack_by,
        "message": d.message, "status": "open", "raised_at": s.event.envelope.time,
    }


def reminded(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    if row is not None:
        return row
    return {
        "province": s.event.envelope.province, "trigger": d.trigger.value, "cause_subject": d.cause_subject,
        "level": 0, "target_agency": d.target_agency, "responsible_agency": d.target_agency, "due_at": d.due_at,
        "message": d.message, "status": "open", "raised_at": s.event.envelope.time,
    }


def acknowledged(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    if row is None:
        raise Refused("unknown_aggregate", "subject", f"no escalation {s.event.envelope.subject} was raised")
    if row["status"] != "open":
        return row
    return {**row, "status": "acknowledged", "acknowledged_at": s.event.envelope.time,
            "acknowledged_by": f"{d.agency}: {d.by.name}", "acknowledged_actor": s.event.envelope.actor}


def closed(row: Row | None, s: Stored) -> Row:
    if row is None:
        raise Refused("unknown_aggregate", "subject", f"no escalation {s.event.envelope.subject} was raised")
    return {**row, "status": "closed", "closed_at": s.event.envelope.time}


class Escalations(RowProjection):
    name = "escalations"
    table = escalations
    key = "escalation_id"
    reducers: ClassVar[Mapping[str, Reducer]] = {
        "escalation_raised": raised,
        "escalation_reminded": reminded,
        "escalation_acknowledged": acknowledged,
        "escalation_closed": closed,
    }
