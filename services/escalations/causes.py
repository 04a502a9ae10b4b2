"""What may escalate, computed from read-model rows (pure): each cause has a deadline, who is
responsible, and whether it is resolved. Resolved causes are kept so their escalations close.

Each cause is computed on its own: one that cannot be (a row holding a time out of the calendar's
range, a state that does not parse) is `Parked` with its error and the others are read as usual."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any, NamedTuple

from services.escalations.calendar import end_of_day
from services.escalations.lifecycle import DifficultyState, DifficultyStatus, StepLimits, step_deadline
from services.escalations.policy import TriggerKind
from services.names import agency_name, plan_name


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


@dataclass(frozen=True)
class Parked:
    """A cause left out of one evaluation because computing it raised; the other causes go on.

    `trigger` is None when the read-model row could not be read far enough to tell its causes
    apart (its `key` is then the row's province and subject)."""

    key: str
    trigger: TriggerKind | None
    province: str | None
    error: Exception


class Readout(NamedTuple):
    """The causes computed from some rows, and those parked."""

    causes: list[Cause]
    parked: list[Parked]


def vn_date(d: date | datetime) -> str:
    return d.strftime("%d/%m/%Y")


def attempt(build: Callable[[], Cause | None], key: str, trigger: TriggerKind | None, province: str | None,
            out: Readout) -> None:
    """Add the cause `build` computes (if any) to `out`, or park it there with the error it raised."""
    try:
        cause = build()
    except Exception as exc:  # parked with its error, never raised: one cause never stops the others
        out.parked.append(Parked(key, trigger, province, exc))
        return
    if cause is not None:
        out.causes.append(cause)


def _unacknowledged(r: Any, state: DifficultyState, limits: StepLimits, key: str, who: str) -> Cause | None:
    if state.status != DifficultyStatus.raised and state.acknowledged_at is None:
        return None
    due = step_deadline(state.model_copy(update={"status": DifficultyStatus.raised}), limits)
    assert due is not None
    return Cause(TriggerKind.difficulty_unacknowledged, r.province, f"difficulty/{r.difficulty_id}", key, due,
                 "so-ngoai-vu", state.status != DifficultyStatus.raised,
                 f"{who} chưa được Sở Ngoại vụ tiếp nhận (hạn {vn_date(due)})")


def _unhandled(r: Any, state: DifficultyState, limits: StepLimits, key: str, who: str) -> Cause | None:
    if state.acknowledged_at is None:
        return None
    due = step_deadline(state.model_copy(update={"status": DifficultyStatus.acknowledged}), limits)
    assert due is not None
    return Cause(TriggerKind.difficulty_unhandled, r.province, f"difficulty/{r.difficulty_id}", key, due,
                 "so-ngoai-vu", state.status != DifficultyStatus.acknowledged,
                 f"{who} chưa được hướng dẫn hoặc đề xuất xử lý (hạn {vn_date(due)})")


def _beyond_authority(r: Any, state: DifficultyState, limits: StepLimits, key: str, who: str) -> Cause | None:
    if not state.beyond_authority:
        return None
    settled = state.status not in (DifficultyStatus.raised, DifficultyStatus.acknowledged)
    return Cause(TriggerKind.difficulty_beyond_authority, r.province, f"difficulty/{r.difficulty_id}", key,
                 state.raised_at, "so-ngoai-vu", settled,
                 f"{who} vượt thẩm quyền Sở Ngoại vụ: cần tổng hợp, đề xuất UBND tỉnh quyết định")


DIFFICULTY_CAUSES = (
    (TriggerKind.difficulty_unacknowledged, "ack", _unacknowledged),
    (TriggerKind.difficulty_unhandled, "handle", _unhandled),
    (TriggerKind.difficulty_beyond_authority, "beyond", _beyond_authority),
)
"""The causes a difficulty may give: trigger, the suffix of its key, and how it is computed."""


def difficulty_causes(rows: Iterable[Any], limits: StepLimits) -> Readout:
    out = Readout([], [])
    for r in rows:
        subject = f"difficulty/{r.difficulty_id}"
        try:
            state = DifficultyState.model_validate(r.state)
        except Exception as exc:  # an unreadable state: none of this row's causes can be computed
            out.parked.append(Parked(f"{r.province}:{subject}", None, r.province, exc))
            continue
        who = f"Khó khăn “{r.topic}” của {agency_name(r.province, r.agency)}"
        for trigger, suffix, build in DIFFICULTY_CAUSES:
            key = f"{r.province}:{subject}:{suffix}"
            attempt(partial(build, r, state, limits, key, who), key, trigger, r.province, out)
    return out


def _report(province: str, period: str, agency: str, name: str, deadline: date, submitted: bool,
            key: str) -> Cause:
    kind = "6 tháng đầu năm " + period[:4] if period.endswith("-H1") else "năm " + period[:4]
    return Cause(TriggerKind.report_missing, province, f"report/{province}-{agency}-{period}", key,
                 end_of_day(deadline), agency, submitted, f"{name} chưa gửi báo cáo {kind} (hạn {vn_date(deadline)})",
                 period)


def report_causes(expected: dict[tuple[str, str], date], submitted: set[tuple[str, str, str]],
                  names: dict[tuple[str, str], str]) -> Readout:
    """`expected`: (province, period) -> deadline; every reporting agency owes a report for it."""
    out = Readout([], [])
    for (province, period), deadline in sorted(expected.items()):
        for (prov, agency), name in sorted(names.items()):
            if prov != province:
                continue
            key = f"{province}:report/{province}-{agency}-{period}"
            build = partial(_report, province, period, agency, name, deadline, (province, agency, period) in submitted,
                            key)
            attempt(build, key, TriggerKind.report_missing, province, out)
    return out


def _task(r: Any, key: str) -> Cause | None:
    if r.due_date is None:
        return None
    lead = r.lead_agencies[0] if r.lead_agencies else None
    return Cause(TriggerKind.task_overdue, r.province, f"task/{r.task_id}", key, end_of_day(r.due_date), lead,
                 r.status == "completed",
                 f"Nhiệm vụ {r.task_number} của {plan_name(r.plan_id, getattr(r, 'plan_number', None), limit=80)} "
                 f"quá hạn {vn_date(r.due_date)}, chưa hoàn thành: "
                 f"{r.title[:160]}")


def task_causes(rows: Iterable[Any]) -> Readout:
    out = Readout([], [])
    for r in rows:
        key = f"{r.province}:task/{r.task_id}"
        attempt(partial(_task, r, key), key, TriggerKind.task_overdue, r.province, out)
    return out


def _information(r: Any, agency: str, key: str) -> Cause:
    return Cause(TriggerKind.information_unacknowledged, r.province, f"information/{r.info_id}", key,
                 end_of_day(r.respond_by), agency, agency in r.acknowledged,
                 f"{agency_name(r.province, agency)} chưa xác nhận đã nhận thông tin “{r.topic}” "
                 f"(hạn {vn_date(r.respond_by)})")


def information_causes(rows: Iterable[Any]) -> Readout:
    out = Readout([], [])
    for r in rows:
        if r.respond_by is None:
            continue
        for agency in r.recipients:
            key = f"{r.province}:information/{r.info_id}:{agency}"
            attempt(partial(_information, r, agency, key), key, TriggerKind.information_unacknowledged, r.province,
                    out)
    return out
