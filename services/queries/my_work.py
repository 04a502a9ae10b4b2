"""What waits on an agency — "Việc cần làm" — from the read models: the escalations addressed to it
(for a signed-in official, at their role's level), the information it has not acknowledged, the
reports it owes or must send again, the plan tasks it leads or coordinates that are not done, the
difficulties it raised and where they stand; for Sở Ngoại vụ also the difficulties waiting on its
step and the units' reports waiting to be accepted or returned, for the UBND tỉnh's office the
difficulties proposed to the UBND for decision.

Each item names agencies and plans in Vietnamese (`services.names`), never by their codes, with its
deadline as a moment in Asia/Ho_Chi_Minh (a deadline day ends at 23:59:59 there). Items come oldest
deadline first; those with no deadline last. Building the items from rows is pure; `my_work` reads
the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.tables import difficulties, escalations, information, plans, report_requests, reports, tasks
from schemas import roles
from schemas.authority import FOCAL, UBND
from schemas.reference import UnknownReference, in_group, ubnd_office
from schemas.reference import plans as reference_plans
from services.escalations.calendar import VN_TZ, end_of_day
from services.escalations.lifecycle import DifficultyState, DifficultyStatus, step_deadline
from services.names import agency_name, plan_name, shorten
from services.queries.compliance import Compliance, compliance_view, period_label, recorded_plans, vn
from services.queries.tasks import task_state

KINDS = {"escalation": "Cảnh báo", "information": "Thông tin cần xác nhận", "report": "Báo cáo",
         "task": "Nhiệm vụ", "difficulty": "Khó khăn, vướng mắc"}
"""The kinds of item, in the order they come on the same deadline, with their Vietnamese names."""
STATES = {
    "open": "Chưa tiếp nhận", "pending": "Chưa đến hạn", "missing": "Quá hạn, chưa gửi",
    "returned": "Bị trả lại, chưa gửi lại", "submitted": "Chờ tiếp nhận hoặc trả lại",
    "unacknowledged": "Chưa xác nhận",
    "assigned": "Đã giao", "in_progress": "Đang thực hiện", "overdue": "Quá hạn",
    "raised": "Chờ Sở Ngoại vụ tiếp nhận", "acknowledged": "Sở Ngoại vụ đã tiếp nhận, chờ hướng dẫn",
    "guidance_issued": "Đã có hướng dẫn", "escalated": "Đã đề xuất UBND tỉnh, chờ quyết định",
    "decision_issued": "UBND tỉnh đã quyết định",
}
"""The Vietnamese name of each item's state."""
LINKS = {"escalation": "#canh-bao", "report": "#bao-cao", "task": "#nhiem-vu"}
"""Where the dashboard shows each kind (a kind it has no tab for has no link)."""


@dataclass(frozen=True)
class Item:
    """One thing waiting on the agency."""

    kind: str
    title: str
    deadline: datetime | None
    state: str
    subject: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "kind_name": KINDS[self.kind], "title": self.title,
                "deadline": self.deadline.astimezone(VN_TZ).isoformat() if self.deadline else None,
                "state": self.state, "state_name": STATES.get(self.state, self.state), "subject": self.subject,
                "link": LINKS.get(self.kind), **self.extra}


def ordered(items: Iterable[Item]) -> list[Item]:
    """Oldest deadline first, no deadline last; then by kind and title."""
    kinds = list(KINDS)
    return sorted(items, key=lambda i: (i.deadline is None, i.deadline.timestamp() if i.deadline else 0,
                                        kinds.index(i.kind), i.title))


def _day(d: date | None) -> datetime | None:
    return end_of_day(d) if d is not None else None


def addressed(province: str, agency: str, parties: Iterable[str]) -> bool:
    """Whether `parties` (slugs or collective names) take in `agency`."""
    return any(p == agency or in_group(province, agency, p) for p in parties)


def escalation_items(rows: Iterable[Any], agency: str, role: str | None) -> list[Item]:
    """The open escalations addressed to the agency (a person: at their role's level)."""
    return [Item("escalation", f"Cảnh báo cấp {r['level']}: {r['message']}", r["ack_by"], "open",
                 f"escalation/{r['escalation_id']}",
                 {"escalation_id": r["escalation_id"], "level": r["level"], "target_role": r["target_role"]})
            for r in rows if r["status"] == "open" and r["level"] > 0 and roles.addressed_to(role, agency, r)]


def information_items(rows: Iterable[Any], province: str, agency: str) -> list[Item]:
    """Information shared with the agency that it has not acknowledged."""
    return [Item("information", f"Xác nhận đã nhận thông tin “{r.topic}” của {agency_name(province, r.agency)}",
                 _day(r.respond_by), "unacknowledged", f"information/{r.info_id}")
            for r in rows if addressed(province, agency, r.recipients) and agency not in r.acknowledged]


def report_item(c: Compliance, province: str, today: date) -> Item | None:
    """The report a compliance row says the agency still owes (not sent, or returned), or None. A duty
    whose plan sets no date (nor the province a default) can never be late: it waits in its own year
    only, as the escalation service lets it be (`services.escalations.owed`)."""
    if c.submitted_on is not None or c.status == "no_duty" or (c.deadline is None and c.period[:4] != str(today.year)):
        return None
    if c.request_id is not None:
        title, subject = f"Báo cáo theo yêu cầu “{c.basis}”", f"report/{c.request_id}"
    else:
        basis = plan_name(c.plan, limit=80) if c.plan else c.basis
        title, subject = f"Báo cáo {period_label(c.period)} theo {basis}", f"report/{province}-{c.agency}-{c.period}"
    state = "returned" if c.report_status == "returned" else c.status
    if state == "returned":
        title = f"Gửi lại {title[0].lower()}{title[1:]}"
    return Item("report", title, _day(c.deadline), state, subject, {"period": c.period, "note": c.note})


def review_items(rows: Iterable[Any], province: str) -> list[Item]:
    """The units' reports waiting for Sở Ngoại vụ to accept or return them."""
    return [Item("report", f"Tiếp nhận hoặc trả lại “{shorten(r.title, 100)}” của {agency_name(province, r.agency)}"
                           f" (gửi ngày {vn(r.submitted_on)})", None, "submitted", f"report/{r.report_id}",
                 {"period": r.period, "leaders_only": True})
            for r in rows if r.status == "submitted" and r.agency != FOCAL]


def task_items(rows: Iterable[Any], province: str, agency: str, today: date, recorded: set[str],
               issued: dict[str, date]) -> list[Item]:
    """The tasks the agency leads or coordinates that have a due date and are not completed."""
    out = []
    for r in rows:
        lead = addressed(province, agency, r.lead_agencies)
        if not lead and not addressed(province, agency, r.coordinating_agencies):
            continue
        first = issued.get(r.plan_id)
        judged = task_state(r, today, recorded, first.year if first else None)
        if judged.status == "completed" or judged.due_date is None:
            continue
        year = f" năm {judged.due_date.year}" if judged.instances else ""
        part = "chủ trì" if lead else "phối hợp"
        title = (f"Nhiệm vụ {r.task_number}{year} ({part}) của {plan_name(r.plan_id, r.plan_number, limit=80)}: "
                 f"{shorten(r.title, 160)}")
        out.append(Item("task", title, _day(judged.due_date), judged.status, f"task/{r.task_id}"))
    return out


WAITING_ON_FOCAL = {DifficultyStatus.raised: "Tiếp nhận", DifficultyStatus.acknowledged: "Hướng dẫn hoặc đề xuất "
                    "UBND tỉnh xử lý"}
"""The steps of a difficulty that are Sở Ngoại vụ's, as an item's title begins."""


def difficulty_items(rows: Iterable[Any], province: str, agency: str, office: str) -> list[Item]:
    """The difficulties the agency raised and are not resolved; for Sở Ngoại vụ those waiting on its
    step, for the UBND tỉnh and its office those proposed for decision."""
    out = []
    for r in rows:
        state = DifficultyState.model_validate(r.state)
        if state.status is DifficultyStatus.resolved:
            continue
        raiser = agency_name(province, r.agency)
        if r.agency == agency:
            title = f"Khó khăn “{r.topic}” đã phản ánh"
        elif agency == FOCAL and state.status in WAITING_ON_FOCAL:
            title = f"{WAITING_ON_FOCAL[state.status]} khó khăn “{r.topic}” của {raiser}"
        elif (agency == office or agency in UBND) and state.status is DifficultyStatus.escalated:
            document = f" (Tờ trình số {state.proposal_document})" if state.proposal_document else ""
            title = f"Quyết định xử lý khó khăn “{r.topic}” của {raiser}{document}"
        else:
            continue
        out.append(Item("difficulty", title, step_deadline(state), state.status.value, f"difficulty/{r.difficulty_id}"))
    return out


def periods_of(province: str, recorded: set[str], today: date, asked: Sequence[str]) -> list[str]:
    """The periods whose reports may be owed: each 6-month and annual period from the first year of
    the plans recorded to today's, and the periods of the requests."""
    first = min((p.year for p in reference_plans(province) if p.slug in recorded), default=today.year + 1)
    years = [f"{y}{half}" for y in range(first, today.year + 1) for half in ("-H1", "")]
    return years + sorted(set(asked) - set(years))


def office_of(province: str) -> str:
    try:
        return ubnd_office(province)
    except (UnknownReference, ValueError):
        return "van-phong-ubnd-tinh"


async def my_work(conn: AsyncConnection, province: str, agency: str, role: str | None, today: date) -> list[Item]:
    """Everything waiting on `agency` of `province` on `today`, for a person of `role` (None: the
    agency's token), oldest deadline first."""
    items: list[Item] = []
    e = escalations.c
    found = (await conn.execute(select(escalations).where(e.province == province, e.target_agency == agency,
                                                          e.status == "open"))).mappings()
    items += escalation_items(found, agency, role)
    found_info = await conn.execute(select(information).where(information.c.province == province))
    items += information_items(found_info, province, agency)
    recorded = await recorded_plans(conn, province)
    asked = [r.period for r in await conn.execute(select(report_requests.c.period, report_requests.c.requested_agencies)
                                                  .where(report_requests.c.province == province))
             if addressed(province, agency, r.requested_agencies)]
    try:
        for period in periods_of(province, recorded, today, asked):
            view = await compliance_view(conn, province, period, today)
            items += [i for c in view.rows if c.agency == agency and (i := report_item(c, province, today)) is not None]
    except UnknownReference:  # a province the reference data does not hold: no plan binds it
        pass
    if agency == FOCAL:
        items += review_items(await conn.execute(select(reports).where(reports.c.province == province,
                                                                       reports.c.status == "submitted")), province)
    issued = {r.plan_id: r.issued_on for r in await conn.execute(
        select(plans.c.plan_id, plans.c.issued_on).where(plans.c.province == province))}
    found_tasks = await conn.execute(select(tasks).where(tasks.c.province == province))
    items += task_items(found_tasks, province, agency, today, recorded, issued)
    found_difficulties = await conn.execute(select(difficulties).where(difficulties.c.province == province))
    items += difficulty_items(found_difficulties, province, agency, office_of(province))
    return ordered(items)
