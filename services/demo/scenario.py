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


def reports(b: Builder, period: str, deadline: date, on_time: int, late: int) -> None:
    """`on_time` agencies submit before the deadline, `late` after it; the rest never do."""
    kind = "annual" if "-H" not in period else "semiannual"
    for i, agency in enumerate(agencies_of(b.province, on_time + late)):
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
                "title": f"Báo cáo công tác đối ngoại nhân dân {'6 tháng đầu năm ' if kind == 'semiannual' else 'năm '}"
                f"{period[:4]}",
                "document_number": f"{10 + i}/BC-{agency.split('-')[0].upper()}",
            },
            at(submitted, 14),
            f"{b.province}-{agency}-{period}",
            via="nats" if i % 2 else "http",
        )


def partner_ref(slug: str) -> dict[str, Any]:
    return next(p for p in partners() if p.slug == slug).to_ref().model_dump(mode="json", exclude_none=True)
