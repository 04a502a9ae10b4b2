"""What a consolidated report holds (pure data): built from the read models, rendered without them.

Codes (`kind`, `status`, `trigger`, …) stay codes here; `labels` words them in Vietnamese."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class PlanRef:
    """A plan in force in the period, which the report says it implements."""

    number: str | None
    issued_on: date | None
    title: str


@dataclass(frozen=True)
class ActivityLine:
    """A people-to-people activity or an international conference held, planned or cancelled."""

    title: str
    kind: str  # an ActivityKind value, or "conference"
    start: date | None
    end: date | None
    partner: str | None
    lead_agency: str
    participants: int | None
    status: str  # held | planned | cancelled


@dataclass(frozen=True)
class DelegationLine:
    direction: str  # in | out
    partner: str | None
    country: str | None  # in Vietnamese: Lào
    head: str | None
    size: int | None
    start: date | None
    end: date | None
    purpose: str
    agency: str


@dataclass(frozen=True)
class AgreementLine:
    title: str
    kind: str  # an AgreementKind value
    partner: str | None
    signed_on: date | None
    signatory: str


@dataclass(frozen=True)
class AidLine:
    title: str
    donor: str | None
    amount: Decimal | None
    currency: str | None
    sector: str  # an AidSector value
    recipient: str
    start: date | None


@dataclass(frozen=True)
class TaskLine:
    plan: str
    number: str
    title: str
    lead_agencies: str
    due_date: date | None
    timeframe: str | None  # as the plan words it ("Hàng năm"), shown when there is no due date
    progress_percent: int | None
    status: str  # assigned | in_progress | completed | overdue


@dataclass(frozen=True)
class ComplianceLine:
    """An agency that sent its periodic report late, or has not sent it."""

    agency: str
    deadline: date | None
    submitted_on: date | None
    days_late: int | None
    status: str  # late | missing


@dataclass(frozen=True)
class ComplianceSummary:
    """The units' periodic reports of the period (the focal agency's own is this report)."""

    deadline: date | None
    expected: int
    on_time: int
    late: int
    missing: int
    pending: int
    deadline_basis: str | None = None  # plan | default (the province's configured default) | None
    note: str | None = None  # said when no plan binds the units to a periodic report of the period


@dataclass(frozen=True)
class DifficultyLine:
    agency: str
    topic: str
    raised_on: date
    severity: str  # a Severity value
    beyond_authority: bool  # SNgV judged it beyond its authority (DifficultyState.beyond_sngv_authority)
    status: str  # a DifficultyStatus value


@dataclass(frozen=True)
class EscalationLine:
    """The highest level an escalation reached for one cause (trigger, aggregate, agency responsible)
    whose deadline fell in the period."""

    trigger: str  # an EscalationTrigger value
    message: str
    target: str
    level: int
    due_on: date | None
    status: str  # open | acknowledged | closed


@dataclass(frozen=True)
class ReportData:
    """Everything the consolidated report of a province for a period shows."""

    province: str
    province_name: str
    period: str  # 2021-H1 or 2021
    window_start: date
    window_end: date
    report_date: date
    as_of: date  # statuses (task overdue, report missing) are judged on this day
    document_number: str | None = None
    scope: str = "đối ngoại nhân dân"  # what the title calls the work: the scope of the plans of the year
    plans: tuple[PlanRef, ...] = ()
    activities: tuple[ActivityLine, ...] = ()
    delegations: tuple[DelegationLine, ...] = ()
    agreements: tuple[AgreementLine, ...] = ()
    aid: tuple[AidLine, ...] = ()
    tasks: tuple[TaskLine, ...] = ()
    compliance: ComplianceSummary = field(default_factory=lambda: ComplianceSummary(None, 0, 0, 0, 0, 0))
    late_or_missing: tuple[ComplianceLine, ...] = ()
    difficulties: tuple[DifficultyLine, ...] = ()
    escalations: tuple[EscalationLine, ...] = ()
    report_warnings: int = 0  # agencies warned about the period's own report not sent (they are in Bảng 6)

    @property
    def annual(self) -> bool:
        return "-H" not in self.period

    @property
    def year(self) -> int:
        return int(self.period[:4])

    def summary(self) -> dict[str, object]:
        """What the report covers and how many rows each table has."""
        tables = ("activities", "delegations", "agreements", "aid", "tasks", "late_or_missing", "difficulties",
                  "escalations")
        return {"province": self.province, "period": self.period, "date": self.report_date.isoformat(),
                "window": [self.window_start.isoformat(), self.window_end.isoformat()],
                "rows": {name: len(getattr(self, name)) for name in tables}}
