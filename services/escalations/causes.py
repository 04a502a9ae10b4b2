"""What may escalate, computed from read-model rows (pure): each cause has a deadline, who is
responsible, and whether it is resolved. Resolved causes are kept so their escalations close."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.escalations.calendar import end_of_day
from services.escalations.lifecycle import DifficultyState, DifficultyStatus, StepLimits, step_deadline
from services.escalations.policy import TriggerKind


@dataclass(frozen=True)
class Cause:
    trigger: TriggerKind
    province: str
    cause_subject: str  # <kind>/<id> of the aggregate concerned
    key: str  # unique across provinces and recipients: the policy's subject
    due_at: datetime
    responsible_agency: str | None
    resolved: bool
    message: str
    period: str | None = None


def vn_date(d: date | datetime) -> str:
    return d.strftime("%d/%m/%Y")


def difficulty_causes(rows: Iterable[Any], limits: StepLimits) -> list[Cause]:
    out = []
    for r in rows:
        state = DifficultyState.model_validate(r.state)
        subject = f"difficulty/{r.difficulty_id}"
        who = f"Khó khăn “{r.topic}” của {r.agency}"
        if state.status == DifficultyStatus.raised or state.acknowledged_at is not None:
            due = step_deadline(state.model_copy(update={"status": DifficultyStatus.raised}), limits)
            assert due is not None
            out.append(Cause(TriggerKind.difficulty_unacknowledged, r.province, subject,
                             f"{r.province}:{subject}:ack", due, "so-ngoai-vu",
                             state.status != DifficultyStatus.raised,
                             f"{who} chưa được Sở Ngoại vụ tiếp nhận (hạn {vn_date(due)})"))
        if state.acknowledged_at is not None:
            due = step_deadline(state.model_copy(update={"status": DifficultyStatus.acknowledged}), limits)
            assert due is not None
            out.append(Cause(TriggerKind.difficulty_unhandled, r.province, subject, f"{r.province}:{subject}:handle",
                             due, "so-ngoai-vu", state.status != DifficultyStatus.acknowledged,
                             f"{who} chưa được hướng dẫn hoặc đề xuất xử lý (hạn {vn_date(due)})"))
        if state.beyond_authority:
            settled = state.status not in (DifficultyStatus.raised, DifficultyStatus.acknowledged)
            out.append(Cause(TriggerKind.difficulty_beyond_authority, r.province, subject,
                             f"{r.province}:{subject}:beyond", state.raised_at, "so-ngoai-vu", settled,
                             f"{who} vượt thẩm quyền Sở Ngoại vụ: cần tổng hợp, đề xuất UBND tỉnh quyết định"))
    return out


def report_causes(expected: dict[tuple[str, str], date], submitted: set[tuple[str, str, str]],
                  names: dict[tuple[str, str], str]) -> list[Cause]:
    """`expected`: (province, period) -> deadline; every reporting agency owes a report for it."""
    out = []
    for (province, period), deadline in sorted(expected.items()):
        for (prov, agency), name in sorted(names.items()):
            if prov != province:
                continue
            kind = "6 tháng đầu năm " + period[:4] if period.endswith("-H1") else "năm " + period[:4]
            subject = f"report/{province}-{agency}-{period}"
            out.append(Cause(TriggerKind.report_missing, province, subject, f"{province}:{subject}",
                             end_of_day(deadline), agency, (province, agency, period) in submitted,
                             f"{name} chưa gửi báo cáo {kind} (hạn {vn_date(deadline)})", period))
    return out


def task_causes(rows: Iterable[Any]) -> list[Cause]:
    out = []
    for r in rows:
        if r.due_date is None:
            continue
        subject = f"task/{r.task_id}"
        lead = r.lead_agencies[0] if r.lead_agencies else None
        out.append(Cause(TriggerKind.task_overdue, r.province, subject, f"{r.province}:{subject}",
                         end_of_day(r.due_date), lead, r.status == "completed",
                         f"Nhiệm vụ {r.task_number} ({r.plan_id}) quá hạn {vn_date(r.due_date)}, chưa hoàn thành: "
                         f"{r.title[:160]}"))
    return out


def information_causes(rows: Iterable[Any]) -> list[Cause]:
    out = []
    for r in rows:
        if r.respond_by is None:
            continue
        subject = f"information/{r.info_id}"
        for agency in r.recipients:
            out.append(Cause(TriggerKind.information_unacknowledged, r.province, subject,
                             f"{r.province}:{subject}:{agency}", end_of_day(r.respond_by), agency,
                             agency in r.acknowledged,
                             f"{agency} chưa xác nhận đã nhận thông tin “{r.topic}” (hạn {vn_date(r.respond_by)})"))
    return out
