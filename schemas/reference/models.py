"""Typed reference data: provinces, agencies, partners, plans and reporting calendars."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.common import CountryCode, DocumentNumber, DocumentRef, PartnerRef, ReportKind, Slug
from schemas.events.partners import PartnerKind, PartnerRegisteredV1
from schemas.events.plans import Recurrence, TaskAssignedV1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Province(_Frozen):
    """A province served by the system."""

    slug: Slug
    name_vi: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    ubnd_name: str = Field(min_length=1, description="Full name of the Provincial People's Committee")
    border_countries: list[CountryCode] = Field(default_factory=list)
    focal_agency: Slug = "so-ngoai-vu"
    ubnd_office: Slug = Field(
        "van-phong-ubnd-tinh",
        description="The office that receives SNgV's proposals (tờ trình) for the UBND tỉnh: escalations' top level",
    )


class AgencyKind(StrEnum):
    ubnd = "ubnd"
    focal = "focal"
    office = "office"
    department = "department"
    police = "police"
    military = "military"
    district = "district"
    mass_org = "mass_org"
    friendship_org = "friendship_org"
    party_org = "party_org"
    university = "university"
    media = "media"
    group = "group"


REPORTING_KINDS = frozenset(
    {
        AgencyKind.office,
        AgencyKind.department,
        AgencyKind.police,
        AgencyKind.military,
        AgencyKind.district,
        AgencyKind.mass_org,
        AgencyKind.friendship_org,
        AgencyKind.university,
        AgencyKind.media,
    }
)
"""Kinds of agency that send periodic reports to the UBND through SNgV."""


class Agency(_Frozen):
    """An agency of a province. Kind `group` stands for a set named collectively in plans."""

    slug: Slug
    name_vi: str = Field(min_length=1)
    kind: AgencyKind
    short_name: str | None = None
    note: str | None = None

    @property
    def reports_periodically(self) -> bool:
        return self.kind in REPORTING_KINDS


class Partner(_Frozen):
    """A foreign partner of one or more provinces."""

    slug: Slug
    name_vi: str = Field(min_length=1)
    name_original: str | None = None
    country: CountryCode
    kind: PartnerKind
    provinces: list[Slug] = Field(min_length=1)
    relationship: str | None = None
    sources: list[str] = Field(default_factory=list, description="Documents that name the partner")

    def to_ref(self) -> PartnerRef:
        """The partner as a PartnerRef in an event payload."""
        is_locality = self.kind == PartnerKind.locality
        locality = self.name_vi if is_locality else None
        organisation = None if is_locality else self.name_vi
        return PartnerRef(
            country=self.country, locality=locality, organisation=organisation, partner_id=self.slug
        )

    def registered_event(self) -> PartnerRegisteredV1:
        """The `partner_registered` payload that enters this partner in the registry."""
        return PartnerRegisteredV1(
            slug=self.slug,
            name_vi=self.name_vi,
            name_original=self.name_original,
            country=self.country,
            kind=self.kind,
            relationship=self.relationship,
            since=None,
        )


_DAY_MONTH = re.compile(r"^(?P<day>[0-3]?[0-9])/(?P<month>[01]?[0-9])$")


class DayMonth(_Frozen):
    """A day of the year written dd/mm, as Vietnamese documents do."""

    day: int = Field(ge=1, le=31)
    month: int = Field(ge=1, le=12)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        if isinstance(value, str):
            found = _DAY_MONTH.match(value.strip())
            if found is None:
                raise ValueError(f"expected dd/mm, got {value!r}")
            return {"day": int(found["day"]), "month": int(found["month"])}
        return value

    @model_validator(mode="after")
    def _exists(self) -> DayMonth:
        date(2000, self.month, self.day)  # a leap year: 29/02 is allowed
        return self

    def in_year(self, year: int) -> date:
        return date(year, self.month, self.day)

    def __str__(self) -> str:
        return f"{self.day:02d}/{self.month:02d}"


class PlanTask(_Frozen):
    """One task of a plan, as the plan words it."""

    number: str = Field(pattern=r"^[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*$")
    title: str = Field(min_length=1)
    lead_agencies: list[Slug] = Field(min_length=1)
    coordinating_agencies: list[Slug] = Field(default_factory=list)
    lead_text: str | None = Field(None, description="'Cơ quan chủ trì' verbatim")
    coordinating_text: str | None = Field(None, description="'Cơ quan phối hợp' verbatim")
    timeframe: str = Field(min_length=1, description="'Thời gian thực hiện' verbatim or summarised")
    recurrence: Recurrence
    due_date: date | None = None
    due_each_year: DayMonth | None = Field(
        None, description="An annual task: the day each year's instance is due, as the plan says (default 31/12)"
    )
    expected_result: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _yearly_due_only_for_annual_tasks(self) -> PlanTask:
        if self.due_each_year is not None and self.recurrence != Recurrence.annually:
            raise ValueError(f"task {self.number}: due_each_year is for annual tasks")
        return self

    def due_in(self, year: int) -> date:
        """The due date of this annual task's instance of `year` (the plan's day, or 31/12)."""
        return (self.due_each_year or DayMonth(day=31, month=12)).in_year(year)


class ReportingDuty(_Frozen):
    """Who owes which report under a plan, to whom and by when, as the plan words it.

    `agencies` names agencies or groups (`cac-so-ban-nganh`, ...); the recipient (`to`) and the
    channel (`via`) are never among those who owe it. A kind `ad_hoc` means "đột xuất, khi có yêu
    cầu": only a request (`report_requested`) binds, and only the agencies it names."""

    report_kinds: list[ReportKind] = Field(min_length=1)
    agencies: list[Slug] = Field(min_length=1, description="Agencies or groups that owe the report")
    to: Slug = Field(description="Who receives it: so-ngoai-vu or ubnd-tinh")
    via: Slug | None = Field(None, description="Through whom it goes ('qua Sở Ngoại vụ')")
    due: DayMonth | None = Field(
        None, description="'trước ngày dd/mm' of the period's year; None: the plan names no date"
    )
    text: str = Field(min_length=1, description="The plan's words, verbatim or summarised")

    @model_validator(mode="after")
    def _dates_for_periodic_kinds_only(self) -> ReportingDuty:
        if len(set(self.report_kinds)) != len(self.report_kinds):
            raise ValueError("report_kinds lists a kind twice")
        if self.due is not None and ReportKind.ad_hoc in self.report_kinds:
            raise ValueError("an ad hoc report is due when its request says, not on a day of the year")
        return self

    @property
    def periodic_kinds(self) -> list[ReportKind]:
        return [k for k in self.report_kinds if k != ReportKind.ad_hoc]


class Plan(_Frozen):
    """A plan (kế hoạch) of a province with its tasks."""

    slug: Slug
    province: Slug
    number: DocumentNumber | None = Field(None, description="None where the copy's number is blank")
    issued_on: date | None = Field(None, description="None where the copy's day is blank")
    year: int = Field(ge=2000, le=2100)
    title: str = Field(min_length=1)
    scope: str = Field(
        "đối ngoại nhân dân", min_length=1,
        description="What the plan's work is called in report titles ('Kết quả công tác <scope> …'): "
        "'đối ngoại nhân dân', or the wider 'đối ngoại và hội nhập quốc tế' of a foreign-affairs plan",
    )
    legal_basis: list[str] = Field(default_factory=list)
    source: str = Field(description="Seed document the data is drawn from")
    note: str | None = None
    covers_to: int | None = Field(
        None, ge=2000, le=2100,
        description="Last year the plan covers (a plan for 2021); None: from `year` until a later plan replaces it",
    )
    reporting: list[ReportingDuty] = Field(default_factory=list, description="The reporting duties it sets")
    tasks: list[PlanTask] = Field(default_factory=list)

    @model_validator(mode="after")
    def _tasks_numbered_once(self) -> Plan:
        numbers = [t.number for t in self.tasks]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"plan {self.slug} numbers a task twice")
        return self

    @model_validator(mode="after")
    def _covers_from_its_year(self) -> Plan:
        if self.covers_to is not None and self.covers_to < self.year:
            raise ValueError(f"plan {self.slug} covers_to {self.covers_to} is before its year {self.year}")
        return self

    def covers(self, year: int) -> bool:
        """Whether `year` is one of the plan's own years (a later plan may still replace it then)."""
        return self.year <= year and (self.covers_to is None or year <= self.covers_to)

    def task(self, number: str) -> PlanTask:
        for t in self.tasks:
            if t.number == number:
                return t
        raise KeyError(f"plan {self.slug} has no task {number}")

    def task_id(self, number: str) -> str:
        """The aggregate id used for a task of this plan (`task/<plan-slug>-<number>`)."""
        return f"{self.slug}-{self.task(number).number}"

    def document(self) -> DocumentRef | None:
        if self.number is None:
            return None
        return DocumentRef(number=self.number, issued_on=self.issued_on, issuer=None)

    def task_events(self) -> list[tuple[str, TaskAssignedV1]]:
        """(aggregate id, `task_assigned` payload) for every task of the plan."""
        return [
            (
                self.task_id(t.number),
                TaskAssignedV1(
                    plan_id=self.slug,
                    plan_number=self.number,
                    task_number=t.number,
                    title=t.title,
                    lead_agencies=t.lead_agencies,
                    coordinating_agencies=t.coordinating_agencies,
                    timeframe=t.timeframe,
                    recurrence=t.recurrence,
                    due_date=t.due_date,
                    expected_result=t.expected_result,
                ),
            )
            for t in self.tasks
        ]


class ReportDeadline(_Frozen):
    """A default deadline a province configures for one kind of periodic report: before `due` (dd/mm)
    of the period's year."""

    report_kind: ReportKind
    due: DayMonth
    note: str | None = None


class ProvinceDefaults(_Frozen):
    """The deadlines a province configures for periodic reports its plans set without a date.

    Configuration, not the plans' word: the compliance view says so (`deadline_basis: default`)."""

    province: Slug
    source: str
    deadlines: list[ReportDeadline] = Field(min_length=1)

    @field_validator("deadlines")
    @classmethod
    def _one_per_kind(cls, value: list[ReportDeadline]) -> list[ReportDeadline]:
        kinds = [d.report_kind for d in value]
        if len(set(kinds)) != len(kinds):
            raise ValueError("one deadline per report kind")
        if ReportKind.ad_hoc in kinds:
            raise ValueError("an ad hoc report is due when its request says")
        return value

    def deadline(self, report_kind: ReportKind) -> ReportDeadline | None:
        return next((d for d in self.deadlines if d.report_kind == report_kind), None)


class DataCutoff(_Frozen):
    """The data window of a periodic report (Decree 09/2019/NĐ-CP, Art. 12)."""

    report_kind: ReportKind
    start: DayMonth = Field(description="First day, in the previous year")
    end: DayMonth = Field(description="Last day, in the report's year")

    def window(self, year: int) -> tuple[date, date]:
        return self.start.in_year(year - 1), self.end.in_year(year)


class Calendars(_Frozen):
    """The whole of calendars.yaml."""

    source: str
    data_cutoffs: list[DataCutoff]
    defaults: list[ProvinceDefaults] = Field(default_factory=list)

    @field_validator("defaults")
    @classmethod
    def _one_per_province(cls, value: list[ProvinceDefaults]) -> list[ProvinceDefaults]:
        provinces = [d.province for d in value]
        if len(set(provinces)) != len(provinces):
            raise ValueError("one set of defaults per province")
        return value
