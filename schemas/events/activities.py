"""Activities and delegations: what agencies did with foreign partners."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field, model_validator

from schemas.base import CrossFieldError, EventData, event
from schemas.common import AgencySlug, DocumentRef, PartnerRef, PersonRef
from schemas.labels import LabelledEnum


class ActivityKind(LabelledEnum, StrEnum):
    friendship_exchange = "friendship_exchange"
    cultural_exchange = "cultural_exchange"
    anniversary = "anniversary"
    training = "training"
    external_information = "external_information"
    investment_promotion = "investment_promotion"
    overseas_vietnamese = "overseas_vietnamese"
    border_twinning = "border_twinning"
    inspection = "inspection"
    commendation = "commendation"
    other = "other"


@event(
    "activity_held",
    version=1,
    aggregate="activity",
    title_vi="Đã tổ chức hoạt động đối ngoại",
    title_en="Activity held",
)
class ActivityHeldV1(EventData):
    """A people-to-people activity took place."""

    title: str = Field(
        min_length=1,
        max_length=500,
        description="Title of the activity",
        examples=["Giao lưu hữu nghị nhân dân Hà Tĩnh - Bolykhamxay"],
    )
    kind: ActivityKind = Field(description="Kind of activity", examples=["friendship_exchange"])
    start_date: date = Field(description="First day", examples=["2021-03-26"])
    end_date: date = Field(description="Last day", examples=["2021-03-27"])
    location: str = Field(min_length=1, max_length=300, description="Where", examples=["Thành phố Hà Tĩnh"])
    partner: PartnerRef | None = Field(None, description="Foreign partner, if any")
    lead_agency: AgencySlug = Field(description="Agency in charge (chủ trì)", examples=["so-ngoai-vu"])
    coordinating_agencies: list[AgencySlug] = Field(
        default_factory=list,
        description="Coordinating agencies (phối hợp)",
        examples=[["so-van-hoa-the-thao"]],
    )
    participants: int = Field(ge=0, le=1_000_000, description="Number of participants", examples=[150])
    foreign_participants: int = Field(0, ge=0, le=1_000_000, description="Of whom foreigners", examples=[30])
    plan: DocumentRef | None = Field(None, description="Plan the activity implements")
    summary: str | None = Field(None, max_length=5000, description="Result", examples=["Ký biên bản ghi nhớ"])

    @model_validator(mode="after")
    def _dates_and_counts_agree(self) -> ActivityHeldV1:
        if self.end_date < self.start_date:
            raise CrossFieldError("end_date", "end_date is before start_date")
        if self.foreign_participants > self.participants:
            raise CrossFieldError("foreign_participants", "foreign_participants exceeds participants")
        return self


@event(
    "delegation_received",
    version=1,
    aggregate="delegation",
    title_vi="Đã đón đoàn vào",
    title_en="Delegation received",
)
class DelegationReceivedV1(EventData):
    """A foreign delegation visited the province (đoàn vào)."""

    partner: PartnerRef = Field(description="Where the delegation comes from")
    head: PersonRef = Field(description="Head of the delegation")
    size: int = Field(ge=1, le=10_000, description="Number of members", examples=[12])
    arrival_date: date = Field(description="Arrival", examples=["2021-04-12"])
    departure_date: date = Field(description="Departure", examples=["2021-04-14"])
    purpose: str = Field(
        min_length=1,
        max_length=2000,
        description="Purpose of the visit",
        examples=["Hội đàm hợp tác năm 2021"],
    )
    host_agency: AgencySlug = Field(description="Agency that received the delegation", examples=["so-ngoai-vu"])
    approval: DocumentRef | None = Field(None, description="Document approving the visit")

    @model_validator(mode="after")
    def _dates_in_order(self) -> DelegationReceivedV1:
        if self.departure_date < self.arrival_date:
            raise CrossFieldError("departure_date", "departure_date is before arrival_date")
        return self


class FundingSource(LabelledEnum, StrEnum):
    state_budget = "state_budget"
    mobilised = "mobilised"
    foreign_aid = "foreign_aid"
    partner_funded = "partner_funded"
    mixed = "mixed"


@event(
    "activity_planned",
    version=1,
    aggregate="activity",
    title_vi="Dự kiến tổ chức hoạt động đối ngoại",
    title_en="Activity planned",
)
class ActivityPlannedV1(EventData):
    """An agency plans a people-to-people activity (it may later be held or cancelled)."""

    title: str = Field(
        min_length=1,
        max_length=500,
        description="Title of the activity",
        examples=["Gặp mặt kiều bào nhân dịp Tết Nguyên đán"],
    )
    kind: ActivityKind = Field(description="Kind of activity", examples=["overseas_vietnamese"])
    planned_start: date = Field(description="Planned first day", examples=["2021-01-28"])
    planned_end: date = Field(description="Planned last day", examples=["2021-01-28"])
    location: str | None = Field(
        None, min_length=1, max_length=300, description="Where, if known", examples=["Thành phố Hà Tĩnh"]
    )
    partners: list[PartnerRef] = Field(
        default_factory=list, max_length=50, description="Foreign partners expected to take part"
    )
    lead_agency: AgencySlug = Field(description="Agency in charge (chủ trì)", examples=["so-ngoai-vu"])
    coordinating_agencies: list[AgencySlug] = Field(
        default_factory=list, description="Coordinating agencies (phối hợp)", examples=[["uy-ban-mttq-tinh"]]
    )
    expected_participants: int | None = Field(
        None, ge=0, le=1_000_000, description="Expected number of participants", examples=[200]
    )
    funding_source: FundingSource | None = Field(
        None, description="Source of funds", examples=["state_budget"]
    )
    plan: DocumentRef | None = Field(None, description="Plan the activity implements")
    task_id: str | None = Field(
        None,
        max_length=128,
        description="Aggregate id of the plan task it implements",
        examples=["ha-tinh-53-2021-7"],
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> ActivityPlannedV1:
        if self.planned_end < self.planned_start:
            raise CrossFieldError("planned_end", "planned_end is before planned_start")
        return self


@event(
    "activity_cancelled",
    version=1,
    aggregate="activity",
    title_vi="Hủy hoạt động đối ngoại",
    title_en="Activity cancelled",
)
class ActivityCancelledV1(EventData):
    """A planned activity will not take place (or is postponed without a new date)."""

    reason: str = Field(
        min_length=1,
        max_length=2000,
        description="Why it was cancelled",
        examples=["Tạm hoãn do diễn biến phức tạp của dịch Covid-19"],
    )
    cancelled_on: date = Field(description="Date of the decision to cancel", examples=["2021-05-04"])
    decided_by: AgencySlug = Field(description="Agency that decided", examples=["so-ngoai-vu"])
    postponed: bool = Field(False, description="Postponed rather than abandoned", examples=[True])
    document: DocumentRef | None = Field(None, description="Document announcing the cancellation")


@event(
    "delegation_sent",
    version=1,
    aggregate="delegation",
    title_vi="Đã cử đoàn ra",
    title_en="Delegation sent",
)
class DelegationSentV1(EventData):
    """A provincial delegation went abroad (đoàn ra)."""

    destination: PartnerRef = Field(description="Country, locality or organisation visited")
    head: PersonRef = Field(description="Head of the delegation")
    size: int = Field(ge=1, le=10_000, description="Number of members", examples=[8])
    departure_date: date = Field(description="Departure", examples=["2021-11-15"])
    return_date: date = Field(description="Return", examples=["2021-11-18"])
    purpose: str = Field(
        min_length=1,
        max_length=2000,
        description="Purpose of the trip",
        examples=["Dự Hội nghị cấp cao thường niên Hà Tĩnh - Bolykhămxay"],
    )
    sending_agency: AgencySlug = Field(description="Agency that sent the delegation", examples=["ubnd-tinh"])
    approval: DocumentRef | None = Field(None, description="Document approving the trip")
    funding_source: FundingSource | None = Field(
        None, description="Source of funds", examples=["state_budget"]
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> DelegationSentV1:
        if self.return_date < self.departure_date:
            raise CrossFieldError("return_date", "return_date is before departure_date")
        return self
