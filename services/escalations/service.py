"""The escalation service: on each tick, read the causes from the read models, ask the policy
what to do, and append the decisions to the stream as events.

Event ids are derived from the escalation id (uuid5), so a tick repeated after a restart, or
before the read model caught up, publishes nothing twice: the publisher's idempotency drops it.

Each cause is evaluated on its own. A cause whose state, deadline, decision or event cannot be
computed (e.g. a row holding a time at the edge of the calendar, year 9999) is *parked*: left out
of this tick, logged (`escalations.cause_parked`) and counted in
`doingoai_escalation_causes_parked_total`; every other cause, of its province and of the others,
is decided and published as usual. A parked cause is tried again on the next tick, so it comes
back by itself once its row is corrected.
"""

from __future__ import annotations

import asyncio
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import structlog
from nats.aio.client import Client
from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from projections.models.tables import difficulties, escalations, information, plans, report_requests, reports, tasks
from schemas.authority import SYSTEM
from schemas.codec import new_event
from schemas.difficulty_lifecycle import StepLimits
from schemas.envelope import CloudEvent
from schemas.escalation_policy import (
    DEFAULT_POLICY,
    Decision,
    DecisionKind,
    EscalationPolicy,
    EscalationState,
    addressed_to_office,
    escalation_id,
    evaluate,
)
from schemas.events.escalations import EscalationClosedV1, EscalationRaisedV1, EscalationRemindedV1
from schemas.reference import UnknownReference, ubnd_office
from schemas.reference.duties import recorded_plans
from services.db.readable import Unreadable, readable_rows
from services.escalations.causes import (
    DEFAULT_OFFICE,
    Cause,
    Parked,
    Readout,
    difficulty_causes,
    information_causes,
    report_causes,
    task_causes,
)
from services.escalations.clock import Clock
from services.escalations.owed import Owing, owed_reports
from services.http.lookup import CoalescingLookup
from services.queries.compliance import Request, Sent
from services.store.outgoing import Valid, validate
from services.store.publisher import Publisher

log = structlog.get_logger(__name__)
VN = ZoneInfo("Asia/Ho_Chi_Minh")
EVENT_NS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:doingoai:escalation-event")
PARKED = Counter("doingoai_escalation_causes_parked_total",
                 "Escalation causes left out of a tick because computing them failed (once per cause and tick)",
                 ["trigger"])


def state_for(cause: Cause, rows: Mapping[str, Any]) -> EscalationState:
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
    return new_event(data, province=cause.province, agency=SYSTEM, aggregate_id=agg, time=decision.at,
                     event_id=str(uuid.uuid5(EVENT_NS, f"{agg}|{decision.kind.value}")),
                     actor="doingoai-escalations")


def decide(now: datetime, cause: Cause, rows: Mapping[str, Any],
           policy: EscalationPolicy) -> list[tuple[CloudEvent, Valid]]:
    """The events that carry out what the policy decides for one cause at `now`, each with its
    validated bytes (pure). Raises when the cause's state, deadline, decision or event cannot be
    computed; nothing of the cause is then published."""
    state = state_for(cause, rows)
    if cause.resolved and state.current_level is None:
        return []
    out = []
    for decision in evaluate(now, state, policy):
        if decision.kind == DecisionKind.close:
            row = rows.get(str(decision.escalation_id))
            if row is None or row.status == "closed":
                continue
        event = event_for(cause, decision, policy)
        out.append((event, validate(event)))
    return out


class TickPlan(NamedTuple):
    """What one tick publishes, in the order of the causes, and the causes it parked."""

    events: list[tuple[CloudEvent, Valid]]
    parked: list[Parked]


PolicyOf = Callable[[str], EscalationPolicy]
"""The escalation policy of a province."""


def plan_tick(now: datetime, causes: Sequence[Cause], rows: Mapping[str, Any],
              policy: EscalationPolicy | PolicyOf) -> TickPlan:
    """`decide` for each cause on its own, under the policy of its province (one policy for all, or
    a function of the province) (pure): a cause that raises is parked with its error and the others
    are decided as if it were not there."""
    plan = TickPlan([], [])
    for cause in causes:
        try:
            chosen = policy if isinstance(policy, EscalationPolicy) else policy(cause.province)
            plan.events.extend(decide(now, cause, rows, chosen))
        except Exception as exc:  # parked with its error, never raised: one cause never stops the others
            plan.parked.append(Parked(cause.key, cause.trigger, cause.province, exc))
    return plan


def unreadable_rows(kind: str, found: Sequence[Unreadable]) -> list[Parked]:
    """Rows of a read model the driver could not read (a date out of Python's range), as parked
    causes named by the row (`<province>:<kind>/<id>`): which of its causes they hold is unknown."""
    return [Parked(f"{u.ident[1]}:{kind}/{u.ident[0]}", None, u.ident[1], u.error) for u in found]


def report_parked(parked: Parked) -> None:
    """Log a parked cause (its key, trigger, province, error and where it was raised) and count it."""
    frames = traceback.extract_tb(parked.error.__traceback__)
    where = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno} {frames[-1].name}" if frames else None
    trigger = parked.trigger.value if parked.trigger is not None else None
    log.error("escalations.cause_parked", key=parked.key, trigger=trigger, province=parked.province,
              error=repr(parked.error), where=where)
    PARKED.labels(trigger=trigger or "unreadable").inc()


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
        self._policies: dict[str, EscalationPolicy] = {}

    def office(self, province: str) -> str:
        """The agency that receives SNgV's proposals for the province's UBND tỉnh (reference data;
        the default office for a province the reference data does not hold)."""
        try:
            return ubnd_office(province)
        except UnknownReference:
            return DEFAULT_OFFICE

    def policy_for(self, province: str) -> EscalationPolicy:
        """The policy of a province: its top level addressed to the province's configured office."""
        if province not in self._policies:
            self._policies[province] = addressed_to_office(self.policy, self.office(province))
        return self._policies[province]

    async def causes(self, conn: AsyncConnection, today: date | None = None) -> Readout:
        """Every cause the read models hold, by deadline, and those that could not be computed.

        `today` (in Việt Nam; the clock's day by default) bounds the years whose periodic reports and
        annual task instances are owed: those up to its year, of the plans recorded."""
        today = today or self.clock.now().astimezone(VN).date()
        d = difficulties.c
        rows, unreadable = await readable_rows(conn, select(d.difficulty_id, d.province, d.topic, d.agency, d.state),
                                               [d.difficulty_id, d.province])
        parts = [difficulty_causes([r for r in rows if r.province == province],
                                   self.limits_by_province.get(province, self.limits), self.office(province))
                 for province in {r.province for r in rows}]
        issued: dict[str, list[tuple[str, str | None]]] = {}
        for r in await conn.execute(select(plans.c.province, plans.c.plan_id, plans.c.number)):
            issued.setdefault(r.province, []).append((r.plan_id, r.number))
        recorded = {province: recorded_plans(province, pairs) for province, pairs in issued.items()}
        task_rows, bad_tasks = await readable_rows(conn, select(tasks), [tasks.c.task_id, tasks.c.province])
        parts.append(task_causes(task_rows, today, recorded))
        info_rows, bad_info = await readable_rows(conn, select(information),
                                                  [information.c.info_id, information.c.province])
        parts.append(information_causes(info_rows))
        owed, bad_reports = await self.reports_owed(conn, recorded, today)
        parts.append(report_causes(owed.owed))
        parts.append(Readout([], unreadable_rows("difficulty", unreadable) + unreadable_rows("task", bad_tasks)
                             + unreadable_rows("information", bad_info) + bad_reports + owed.parked))
        causes = [c for part in parts for c in part.causes]
        return Readout(sorted(causes, key=lambda c: (c.due_at, c.key)), [p for part in parts for p in part.parked])

    async def reports_owed(self, conn: AsyncConnection, recorded: Mapping[str, set[str]],
                           today: date) -> tuple[Owing, list[Parked]]:
        """The reports owed under the plans recorded (each period of the years they are in force, up
        to `today`'s) and the requests, judged as the compliance view judges them."""
        rq, rp = report_requests.c, reports.c
        found, bad_requests = await readable_rows(conn, select(rq.province, rq.request_id, rq.report_kind, rq.period,
                                                               rq.title, rq.deadline, rq.requested_agencies),
                                                  [rq.request_id, rq.province])
        requests: dict[tuple[str, str], list[Request]] = {}
        for r in found:
            requests.setdefault((r.province, r.period), []).append(
                Request(r.request_id, r.report_kind, r.period, r.title, r.deadline, list(r.requested_agencies)))
        sent_rows, bad_sent = await readable_rows(conn, select(rp.province, rp.report_id, rp.agency, rp.report_kind,
                                                               rp.period, rp.submitted_on, rp.status, rp.returned_on,
                                                               rp.request_id), [rp.report_id, rp.province])
        sent: dict[str, list[Sent]] = {}
        for r in sent_rows:
            sent.setdefault(r.province, []).append(Sent(r.report_id, r.agency, r.report_kind, r.period,
                                                        r.submitted_on, r.status, r.returned_on, r.request_id))
        owing = owed_reports(recorded, requests, sent, today)
        return owing, unreadable_rows("report_request", bad_requests) + unreadable_rows("report", bad_sent)

    async def tick(self) -> list[Any]:
        """Evaluate every cause now; publish the decisions and return the events newly appended."""
        now = self.clock.now()
        async with self.engine.connect() as conn:
            found = await self.causes(conn, now.astimezone(VN).date())
            escalation_rows, unreadable = await readable_rows(conn, select(escalations),
                                                              [escalations.c.escalation_id, escalations.c.province])
        rows = {r.escalation_id: r for r in escalation_rows}
        planned = plan_tick(now, found.causes, rows, self.policy_for)
        # a cause whose escalation row is unreadable is decided as if that level had not been raised:
        # its event has the id of the one stored, so the publisher drops it as a duplicate
        for parked in found.parked + unreadable_rows("escalation", unreadable) + planned.parked:
            report_parked(parked)
        if not planned.events:
            return []
        results = await self.publisher.publish_many([valid for _, valid in planned.events])
        appended = [event for (event, _), result in zip(planned.events, results, strict=True) if not result.duplicate]
        log.info("escalations.published", decided=len(planned.events), appended=len(appended),
                 parked=len(found.parked) + len(planned.parked), at=now.isoformat())
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
