"""What may escalate, computed from read-model rows (pure): each cause has a deadline, who is
responsible, and whether it is resolved. Resolved causes are kept so their escalations close.

Each cause is computed on its own: one that cannot be (a row holding a time out of the calendar's
range, a state that does not parse) is `Parked` with its error and the others are read as usual."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any, NamedTuple

from schemas.difficulty_lifecycle import DifficultyState, DifficultyStatus, StepLimits, step_deadline
from schemas.escalation_policy import TriggerKind
from schemas.events.plans import Recurrence
from schemas.reference.duties import TaskInstance
from schemas.working_days import end_of_day
from services.names import agency_name, plan_name
from services.queries.tasks import instances_of


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


def _unacknowledged(r: Any, state: DifficultyState, limits: StepLimits, key: str, who: str,
                    office: str) -> Cause | None:
    if state.status != DifficultyStatus.raised and state.acknowledged_at is None:
        return None
    due = step_deadline(state.model_copy(update={"status": DifficultyStatus.raised}), limits)
    assert due is not None
    return Cause(TriggerKind.difficulty_unacknowledged, r.province, f"difficulty/{r.difficulty_id}", key, due,
                 "so-ngoai-vu", state.status != DifficultyStatus.raised,
                 f"{who} chưa được Sở Ngoại vụ tiếp nhận (hạn {vn_date(due)})")


def _after_acknowledgement(r: Any, state: DifficultyState, limits: StepLimits, key: str, trigger: TriggerKind,
                           message: str) -> Cause:
    """SNgV's step once it acknowledged (guidance, or its proposal to the UBND tỉnh): due within the
    guidance-or-escalation limit, done once the difficulty moved on; `message` ends with the deadline."""
    due = step_deadline(state.model_copy(update={"status": DifficultyStatus.acknowledged}), limits)
    assert due is not None
    return Cause(trigger, r.province, f"difficulty/{r.difficulty_id}", key, due, "so-ngoai-vu",
                 state.status != DifficultyStatus.acknowledged, f"{message} (hạn {vn_date(due)})")


def _unhandled(r: Any, state: DifficultyState, limits: StepLimits, key: str, who: str, office: str) -> Cause | None:
    if state.acknowledged_at is None or state.within_authority is False:
        return None  # judged beyond its authority on acknowledgement: the step is the proposal ("propose")
    return _after_acknowledgement(r, state, limits, key, TriggerKind.difficulty_unhandled,
                                  f"{who} chưa được hướng dẫn hoặc đề xuất xử lý")


def _beyond_authority(r: Any, state: DifficultyState, limits: StepLimits, key: str, who: str,
                      office: str) -> Cause | None:
    """SNgV judged it beyond its authority on acknowledgement: it must aggregate and propose to the
    UBND tỉnh within the guidance-or-escalation limit. The raiser's own flag gives no such cause."""
    if state.acknowledged_at is None or state.within_authority is not False:
        return None
    return _after_acknowledgement(r, state, limits, key, TriggerKind.difficulty_beyond_authority,
                                  f"{who} vượt thẩm quyền Sở Ngoại vụ: cần tổng hợp, đề xuất UBND tỉnh quyết định")


def _raisers_flag(r: Any, state: DifficultyState, limits: StepLimits, key: str, who: str,
                  office: str) -> Cause | None:
    """An earlier version escalated a difficulty at once on the raiser's flag alone (key suffix
    `beyond`). The flag is the raiser's view and escalates nothing: the cause is kept resolved only
    so that such an escalation still open is closed."""
    if not state.beyond_authority:
        return None
    return Cause(TriggerKind.difficulty_beyond_authority, r.province, f"difficulty/{r.difficulty_id}", key,
                 state.raised_at, "so-ngoai-vu", True, f"{who}: đơn vị phản ánh cho là vượt thẩm quyền Sở Ngoại vụ")


def _undecided(r: Any, state: DifficultyState, limits: StepLimits, key: str, who: str, office: str) -> Cause | None:
    """SNgV proposed it to the UBND tỉnh: the UBND (its office, `office`) must decide by the date
    the proposal asks, else within `ubnd_decision` working days of the escalation."""
    if state.escalated_at is None:
        return None
    due = step_deadline(state.model_copy(update={"status": DifficultyStatus.escalated}), limits)
    assert due is not None
    document = f" (Tờ trình số {state.proposal_document})" if state.proposal_document else ""
    return Cause(TriggerKind.difficulty_beyond_authority, r.province, f"difficulty/{r.difficulty_id}", key, due,
                 office, state.decision_issued_at is not None,
                 f"{who} đã được Sở Ngoại vụ đề xuất UBND tỉnh{document}, chưa có quyết định (hạn {vn_date(due)})")


DIFFICULTY_CAUSES = (
    (TriggerKind.difficulty_unacknowledged, "ack", _unacknowledged),
    (TriggerKind.difficulty_unhandled, "handle", _unhandled),
    (TriggerKind.difficulty_beyond_authority, "propose", _beyond_authority),
    (TriggerKind.difficulty_beyond_authority, "decide", _undecided),
    (TriggerKind.difficulty_beyond_authority, "beyond", _raisers_flag),
)
"""The causes a difficulty may give: trigger, the suffix of its key, and how it is computed. Each
step's cause is due at that step's limit and its responsible agency is whoever's step it is: SNgV
to acknowledge, to guide or propose; the UBND's office (`office`) to decide what SNgV proposed."""

DEFAULT_OFFICE = "van-phong-ubnd-tinh"
"""Who receives SNgV's proposals for the UBND tỉnh where a province configures nothing else."""


def difficulty_causes(rows: Iterable[Any], limits: StepLimits, office: str = DEFAULT_OFFICE) -> Readout:
    """The causes of the difficulties of one province, under its step limits; `office` receives
    SNgV's proposals for its UBND tỉnh (`schemas.reference.ubnd_office`)."""
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
            attempt(partial(build, r, state, limits, key, who, office), key, trigger, r.province, out)
    return out


@dataclass(frozen=True)
class Owed:
    """A report an agency owes by a deadline — under a plan's periodic duty, or because a request
    names it (`request_id`) — and whether it is there (sent and not returned)."""

    province: str
    agency: str
    agency_name: str
    period: str
    deadline: date
    done: bool
    request_id: str | None = None
    title: str | None = None
    """The request's title."""


def _report(o: Owed, key: str) -> Cause:
    due = f"(hạn {vn_date(o.deadline)})"
    if o.request_id is not None:
        return Cause(TriggerKind.report_missing, o.province, f"report/{o.request_id}", key, end_of_day(o.deadline),
                     o.agency, o.done, f"{o.agency_name} chưa gửi báo cáo theo yêu cầu “{o.title}” {due}", o.period)
    kind = "6 tháng đầu năm " + o.period[:4] if o.period.endswith("-H1") else "năm " + o.period[:4]
    subject = f"report/{o.province}-{o.agency}-{o.period}"
    return Cause(TriggerKind.report_missing, o.province, subject, key, end_of_day(o.deadline), o.agency, o.done,
                 f"{o.agency_name} chưa gửi báo cáo {kind} {due}", o.period)


def report_key(o: Owed) -> str:
    """A periodic report's cause is named by province, agency and period; a request's by the request
    and the agency it names."""
    if o.request_id is not None:
        return f"{o.province}:report/{o.request_id}:{o.agency}"
    return f"{o.province}:report/{o.province}-{o.agency}-{o.period}"


def report_causes(owed: Iterable[Owed]) -> Readout:
    """A cause per report owed: due at the end of its deadline day, resolved once it is there."""
    out = Readout([], [])
    for o in sorted(owed, key=lambda o: (o.province, o.period, o.request_id or "", o.agency)):
        key = report_key(o)
        attempt(partial(_report, o, key), key, TriggerKind.report_missing, o.province, out)
    return out


def _task_message(r: Any, due: date, year: int | None = None) -> str:
    plan = plan_name(r.plan_id, getattr(r, "plan_number", None), limit=80)
    of_year = f" năm {year}" if year is not None else ""
    return f"Nhiệm vụ {r.task_number}{of_year} của {plan} quá hạn {vn_date(due)}, chưa hoàn thành: {r.title[:160]}"


def _task(r: Any, key: str) -> Cause | None:
    if r.due_date is None:
        return None
    lead = r.lead_agencies[0] if r.lead_agencies else None
    return Cause(TriggerKind.task_overdue, r.province, f"task/{r.task_id}", key, end_of_day(r.due_date), lead,
                 r.status == "completed", _task_message(r, r.due_date))


def _instance(r: Any, instance: TaskInstance, key: str) -> Cause:
    lead = r.lead_agencies[0] if r.lead_agencies else None
    return Cause(TriggerKind.task_overdue, r.province, f"task/{r.task_id}", key, end_of_day(instance.due_date), lead,
                 instance.completed_on is not None, _task_message(r, instance.due_date, instance.year),
                 str(instance.year))


def task_causes(rows: Iterable[Any], today: date | None = None,
                recorded: Mapping[str, Collection[str]] | None = None) -> Readout:
    """A cause per task with a due date; for an annual task, one per instance (year) up to `today`'s
    year, in the years its plan is in force (among the plans `recorded` in its province)."""
    out = Readout([], [])
    for r in rows:
        key = f"{r.province}:task/{r.task_id}"
        if getattr(r, "recurrence", None) != Recurrence.annually.value or today is None:
            attempt(partial(_task, r, key), key, TriggerKind.task_overdue, r.province, out)
            continue
        try:
            instances = instances_of(r, today, None if recorded is None else recorded.get(r.province, ()))
        except Exception as exc:  # parked with its error, never raised: one row never stops the others
            out.parked.append(Parked(key, TriggerKind.task_overdue, r.province, exc))
            continue
        for instance in instances:
            year_key = f"{key}:{instance.year}"
            attempt(partial(_instance, r, instance, year_key), year_key, TriggerKind.task_overdue, r.province, out)
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
