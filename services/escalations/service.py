"""The escalation service: on each tick, read the causes from the read models, ask the policy
what to do, and append the decisions to the stream as events.

Event ids are derived from the escalation id (uuid5), so a tick repeated after a restart, or
before the read model caught up, publishes nothing twice: the publisher's idempotency drops it.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import structlog
from nats.aio.client import Client
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from projections.tables import difficulties, escalations, information, report_requests, reports, tasks
from schemas.codec import new_event
from schemas.events.escalations import EscalationClosedV1, EscalationRaisedV1, EscalationRemindedV1
from schemas.reference import UnknownReference, report_deadline, reporting_agencies
from services.escalations.causes import (
    Cause,
    difficulty_causes,
    information_causes,
    report_causes,
    task_causes,
)
from services.escalations.clock import Clock
from services.escalations.lifecycle import StepLimits
from services.escalations.policy import (
    DEFAULT_POLICY,
    Decision,
    DecisionKind,
    EscalationPolicy,
    EscalationState,
    escalation_id,
    evaluate,
)
from services.http.lookup import CoalescingLookup
from services.store.publisher import Publisher

log = structlog.get_logger(__name__)
SYSTEM_AGENCY = "doingoai"
EVENT_NS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:doingoai:escalation-event")


def state_for(cause: Cause, rows: dict[str, Any]) -> EscalationState:
    """The policy's state of a cause, from the escalations read model (pure)."""
    reminded = str(escalation_id(cause.trigger, cause.key, 0)) in rows
    raised = [(n, rows[i]) for n in range(1, 11) if (i := str(escalation_id(cause.trigger, cause.key, n))) in rows]
    current = raised[-1] if raised else None
    return EscalationState(
        trigger=cause.trigger, subject=cause.key, due_at=cause.due_at, responsible_agency=cause.responsible_agency,
        cause_resolved=cause.resolved, reminded=reminded,
        current_level=current[0] if current else None,
        level_raised_at=current[1].raised_at if current else None,
        acknowledged=bool(current and current[1].status == "acknowledged"),
        closed=bool(raised) and all(r.status == "closed" for _, r in raised),
    )


def event_for(cause: Cause, decision: Decision, policy: EscalationPolicy) -> Any:
    """The event that carries out a decision, with a deterministic id."""
    agg = str(decision.escalation_id)
    data: Any
    if decision.kind in (DecisionKind.raise_, DecisionKind.climb):
        assert decision.due_at is not None
        data = EscalationRaisedV1(
            trigger=cause.trigger, cause_subject=cause.cause_subject, cause_event_id=None, level=decision.level,
            target_agency=decision.agency, target_role=decision.role, responsible_agency=cause.responsible_agency,
            period=cause.period, due_at=cause.due_at, ack_by=decision.due_at, message=cause.message,
        )
    elif decision.kind == DecisionKind.remind:
        data = EscalationRemindedV1(trigger=cause.trigger, cause_subject=cause.cause_subject,
                                    target_agency=decision.agency, due_at=cause.due_at,
                                    message=f"Nhắc hạn: {cause.message}")
    else:
        data = EscalationClosedV1(reason="Nguyên nhân đã được xử lý", cause_subject=cause.cause_subject)
    return new_event(data, province=cause.province, agency=SYSTEM_AGENCY, aggregate_id=agg, time=decision.at,
                     event_id=str(uuid.uuid5(EVENT_NS, f"{agg}|{decision.kind.value}")),
                     actor="doingoai-escalations")


@dataclass
class EscalationService:
    nc: Client
    engine: AsyncEngine
    clock: Clock
    policy: EscalationPolicy = DEFAULT_POLICY
    limits: StepLimits = field(default_factory=StepLimits)
    limits_by_province: dict[str, StepLimits] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.publisher = Publisher(self.nc, lookup=CoalescingLookup(self.engine))

    async def causes(self, conn: AsyncConnection) -> list[Cause]:
        rows = (await conn.execute(select(difficulties))).all()
        found = [
            cause
            for province in {r.province for r in rows}
            for cause in difficulty_causes([r for r in rows if r.province == province],
                                           self.limits_by_province.get(province, self.limits))
        ]
        found += task_causes(await conn.execute(select(tasks)))
        found += information_causes(await conn.execute(select(information)))
        submitted = {(r.province, r.agency, r.period) for r in await conn.execute(
            select(reports.c.province, reports.c.agency, reports.c.period))}
        periods = {(p, per) for p, _, per in submitted}
        periods |= {(r.province, r.period) for r in await conn.execute(
            select(report_requests.c.province, report_requests.c.period))}
        expected: dict[tuple[str, str], date] = {}
        names: dict[tuple[str, str], str] = {}
        for province, period in periods:
            try:
                deadline = report_deadline(province, period)
                agencies = reporting_agencies(province)
            except (UnknownReference, ValueError):
                continue
            if deadline is not None:
                expected[(province, period)] = deadline
                names.update({(province, a.slug): a.name_vi for a in agencies if a.slug != "so-ngoai-vu"})
        return sorted(found + report_causes(expected, submitted, names), key=lambda c: (c.due_at, c.key))

    async def tick(self) -> list[Any]:
        """Evaluate every cause now; publish the decisions and return the events newly appended."""
        now = self.clock.now()
        async with self.engine.connect() as conn:
            causes = await self.causes(conn)
            rows = {r.escalation_id: r for r in await conn.execute(select(escalations))}
        out = []
        for cause in causes:
            state = state_for(cause, rows)
            if cause.resolved and state.current_level is None:
                continue
            for decision in evaluate(now, state, self.policy):
                if decision.kind == DecisionKind.close:
                    row = rows.get(str(decision.escalation_id))
                    if row is None or row.status == "closed":
                        continue
                out.append(event_for(cause, decision, self.policy))
        if not out:
            return []
        results = await self.publisher.publish_many(out)
        appended = [event for event, result in zip(out, results, strict=True) if not result.duplicate]
        log.info("escalations.published", decided=len(out), appended=len(appended), at=now.isoformat())
        return appended

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception as exc:  # logged and retried on the next tick; nothing is lost
                log.error("escalations.tick_failed", error=repr(exc))
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
