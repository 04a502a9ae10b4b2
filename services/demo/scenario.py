"""The demo scenario as data (pure): who publishes which event, in order.

Ids are derived from names (uuid5), so publishing the scenario twice stores every event once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from schemas.base import EventData, registry
from schemas.codec import new_event
from schemas.envelope import CloudEvent
from schemas.reference import partners, plans, reporting_agencies
from schemas.reference.duties import Duty, periodic_duties

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:doingoai:demo")
SNGV = "so-ngoai-vu"


@dataclass(frozen=True)
class Step:
    province: str
    agency: str
    event: CloudEvent
    via: str  # "http" or "nats"


def at(d: date, hour: int = 9) -> datetime:
    return datetime.combine(d, time(hour), VN)


def make(name: str, data: dict[str, Any], *, version: int = 1) -> EventData:
    return registry()[(name, version)].model.model_validate(data)


class Builder:
    def __init__(self, province: str):
        self.province = province
        self.steps: list[Step] = []
        self.n = 0

    def add(
        self,
        agency: str,
        name: str,
        data: dict[str, Any] | EventData,
        when: datetime,
        aggregate: str,
        *,
        version: int = 1,
        via: str = "http",
    ) -> CloudEvent:
        self.n += 1
        payload = data if isinstance(data, EventData) else make(name, data, version=version)
        event_id = str(uuid.uuid5(NS, f"{self.province}/{agency}/{name}/{aggregate}/{self.n}"))
        env = new_event(
            payload,
            province=self.province,
            agency=agency,
            aggregate_id=aggregate,
            time=when,
            event_id=event_id,
            actor=f"demo:{agency}",
        )
        self.steps.append(Step(self.province, agency, env, via))
        return env


def agencies_of(province: str, count: int) -> list[str]:
    return [a.slug for a in reporting_agencies(province) if a.slug != SNGV][:count]


def bound(province: str, period: str) -> list[Duty]:
    """The units the plans bind to the periodic report of `period` (SNgV's own report aside)."""
    return [d for d in periodic_duties(province, period) if d.agency != SNGV]


def registry_and_plans(b: Builder) -> None:
    for p in partners(b.province):
        b.add(SNGV, "partner_registered", p.registered_event(), at(date(2020, 1, 6)), p.slug)
    for plan in plans(b.province):
        issued = plan.issued_on or date(plan.year, 2, 15)
        b.add(
            SNGV,
            "plan_issued",
            {
                "number": plan.number,
                "issued_on": issued.isoformat(),
                "title": plan.title,
                "issuer": "ubnd-tinh",
                "legal_basis": plan.legal_basis,
                "focal_agency": SNGV,
                "task_count": len(plan.tasks),
            },
            at(issued),
            plan.slug,
        )
        for task_id, payload in plan.task_events():
            b.add(SNGV, "task_assigned", payload, at(issued, 10), task_id, via="nats")


def report_title(kind: str, period: str) -> str:
    return f"Báo cáo công tác đối ngoại nhân dân {'6 tháng đầu năm ' if kind == 'semiannual' else 'năm '}{period[:4]}"


def reports(b: Builder, period: str, on_time: int, late: int) -> date:
    """`on_time` of the units the plan binds submit before the deadline, `late` after it; the rest
    never do. Returns the deadline (the plan's, or the province's configured default)."""
    duties = bound(b.province, period)
    deadline = duties[0].deadline
    assert deadline is not None, f"no deadline for {b.province} {period}"
    kind = duties[0].report_kind.value
    for i, duty in enumerate(duties[: on_time + late]):
        agency = duty.agency
        submitted = (
            date.fromordinal(deadline.toordinal() - 10 + i)
            if i < on_time
            else date.fromordinal(deadline.toordinal() + 3 + i - on_time)
        )
        b.add(
            agency,
            "report_submitted",
            {
                "report_kind": kind,
                "period": period,
                "submitted_on": submitted.isoformat(),
                "title": report_title(kind, period),
                "document_number": f"{10 + i}/BC-{agency.split('-')[0].upper()}",
            },
            at(submitted, 14),
            f"{b.province}-{agency}-{period}",
            via="nats" if i % 2 else "http",
        )
    return deadline


def returned_and_resent(b: Builder, agency: str, period: str, returned_on: date, resent_on: date) -> None:
    """SNgV returns an agency's report for correction; the agency sends it again on `resent_on`, the
    day that counts."""
    aggregate = f"{b.province}-{agency}-{period}"
    b.add(SNGV, "report_returned", {"returned_to": agency, "returned_on": returned_on.isoformat(),
                                    "reason": "Thiếu số liệu đoàn ra, đoàn vào theo biểu mẫu",
                                    "problems": ["Biểu số 2 chưa điền"]}, at(returned_on, 10), aggregate)
    kind = "semiannual" if "-H" in period else "annual"
    b.add(agency, "report_submitted", {"report_kind": kind, "period": period, "submitted_on": resent_on.isoformat(),
                                       "title": report_title(kind, period) + " (bổ sung)"},
          at(resent_on, 14), aggregate)


def request(b: Builder, request_id: str, title: str, period: str, asked_on: date, deadline: date,
            agencies: list[str]) -> None:
    """SNgV asks the named agencies for an ad hoc report (báo cáo đột xuất) by `deadline`."""
    b.add(SNGV, "report_requested", {"report_kind": "ad_hoc", "period": period, "title": title,
                                     "deadline": deadline.isoformat(), "requested_agencies": agencies,
                                     "requested_by": SNGV}, at(asked_on), request_id)


def answer(b: Builder, agency: str, request_id: str, title: str, period: str, day: date) -> None:
    """An agency answers a request with an ad hoc report naming it (`request_id`)."""
    b.add(agency, "report_submitted", {"report_kind": "ad_hoc", "period": period, "title": title,
                                       "submitted_on": day.isoformat(), "request_id": request_id},
          at(day, 15), f"{b.province}-{agency}-{request_id}", via="nats")


def partner_ref(slug: str) -> dict[str, Any]:
    return next(p for p in partners() if p.slug == slug).to_ref().model_dump(mode="json", exclude_none=True)
