"""International conferences, agreements and foreign NGO aid: cooperation that needs permission."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from schemas.base import CrossFieldError, EventData, event
from schemas.common import AgencySlug, DocumentRef, PartnerRef, PersonRef
from schemas.labels import LabelledEnum

CurrencyCode = Annotated[
    str,
    Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code", examples=["USD"]),
]


class ConferenceKind(LabelledEnum, StrEnum):
    conference = "conference"
    seminar = "seminar"
    workshop = "workshop"
    forum = "forum"


@event(
    "conference_held",
    version=1,
    aggregate="conference",
    title_vi="Đã tổ chức hội nghị, hội thảo quốc tế",
    title_en="International conference held",
)
class ConferenceHeldV1(EventData):
    """An international conference or seminar took place in the province (it needs permission)."""

    title: str = Field(
        min_length=1,
        max_length=500,
        description="Title",
        examples=["Hội thảo quốc tế xúc tiến đầu tư công nghiệp hỗ trợ sau thép"],
    )
    kind: ConferenceKind = Field(description="Conference, seminar, workshop or forum", examples=["seminar"])
    start_date: date = Field(description="First day", examples=["2021-09-14"])
    end_date: date = Field(description="Last day", examples=["2021-09-15"])
    location: str = Field(
        min_length=1, max_length=300, description="Where", examples=["Khu kinh tế Vũng Áng"]
    )
    organiser: AgencySlug = Field(description="Organising agency", examples=["so-ke-hoach-dau-tu"])
    co_organisers: list[PartnerRef] = Field(
        default_factory=list, max_length=50, description="Foreign co-organisers or sponsors"
    )
    participants: int = Field(ge=0, le=1_000_000, description="Number of participants", examples=[120])
    foreign_participants: int = Field(0, ge=0, le=1_000_000, description="Of whom foreigners", examples=[25])
    online: bool = Field(False, description="Held online or hybrid", examples=[False])
    permission: DocumentRef | None = Field(
        None, description="Document permitting it (Quyết định 06/2020/QĐ-TTg)"
    )
    summary: str | None = Field(
        None, max_length=5000, description="Result", examples=["Ký 3 biên bản ghi nhớ"]
    )

    @model_validator(mode="after")
    def _dates_and_counts_agree(self) -> ConferenceHeldV1:
        if self.end_date < self.start_date:
            raise CrossFieldError("end_date", "end_date is before start_date")
        if self.foreign_participants > self.participants:
            raise CrossFieldError("foreign_participants", "foreign_participants exceeds participants")
        return self


class AgreementKind(LabelledEnum, StrEnum):
    memorandum_of_understanding = "memorandum_of_understanding"
    letter_of_intent = "letter_of_intent"
    cooperation_agreement = "cooperation_agreement"
    cooperation_minutes = "cooperation_minutes"
    other = "other"


@event(
    "agreement_signed",
    version=1,
    aggregate="agreement",
    title_vi="Đã ký kết thỏa thuận quốc tế",
    title_en="International agreement signed",
)
class AgreementSignedV1(EventData):
    """An international agreement was signed with a foreign locality or organisation."""

    title: str = Field(
        min_length=1,
        max_length=500,
        description="Title of the agreement",
        examples=["Biên bản thỏa thuận hợp tác giữa tỉnh Hà Tĩnh và tỉnh Bolykhămxay năm 2021"],
    )
    kind: AgreementKind = Field(description="Kind of instrument", examples=["cooperation_minutes"])
    partner: PartnerRef = Field(description="The foreign party")
    signed_on: date = Field(description="Date of signature", examples=["2021-12-10"])
    signatory_agency: AgencySlug = Field(description="Vietnamese party", examples=["ubnd-tinh"])
    signed_by: PersonRef = Field(description="Who signed for the Vietnamese party")
    partner_signatory: PersonRef | None = Field(None, description="Who signed for the partner")
    areas: list[str] = Field(
        default_factory=list,
        max_length=30,
        description="Areas of cooperation",
        examples=[["giáo dục - đào tạo", "thương mại", "biên giới"]],
    )
    valid_until: date | None = Field(None, description="End of validity, if any", examples=["2026-12-31"])
    document: DocumentRef | None = Field(None, description="The agreement's own reference")
    consultation: DocumentRef | None = Field(
        None, description="Opinion of the Ministry of Foreign Affairs before signing"
    )

    @model_validator(mode="after")
    def _validity_after_signature(self) -> AgreementSignedV1:
        if self.valid_until is not None and self.valid_until < self.signed_on:
            raise CrossFieldError("valid_until", "valid_until is before signed_on")
        return self


class AidSector(LabelledEnum, StrEnum):
    health = "health"
    education = "education"
    agriculture = "agriculture"
    environment = "environment"
    water_sanitation = "water_sanitation"
    social_welfare = "social_welfare"
    disaster_relief = "disaster_relief"
    capacity_building = "capacity_building"
    other = "other"


class AidKind(LabelledEnum, StrEnum):
    project = "project"
    non_project = "non_project"
    emergency_relief = "emergency_relief"


@event(
    "aid_committed",
    version=1,
    aggregate="aid",
    title_vi="Đã phê duyệt khoản viện trợ phi chính phủ nước ngoài",
    title_en="Foreign NGO aid committed",
)
class AidCommittedV1(EventData):
    """A foreign NGO aid package was appraised and approved for the province."""

    donor: PartnerRef = Field(
        description="The donor",
        examples=[
            {"country": "KR", "organisation": "Good Neighbors International", "partner_id": "good-neighbors"}
        ],
    )
    title: str = Field(
        min_length=1,
        max_length=500,
        description="Name of the project or package",
        examples=["Dự án nước sạch cho các xã biên giới huyện Hương Sơn"],
    )
    aid_kind: AidKind = Field(description="Project, non-project or emergency relief", examples=["project"])
    sector: AidSector = Field(description="Sector", examples=["water_sanitation"])
    amount: Decimal = Field(
        gt=0, max_digits=18, decimal_places=2, description="Committed amount", examples=[250000]
    )
    currency: CurrencyCode = Field(description="ISO 4217 currency of the amount", examples=["USD"])
    recipient_agency: AgencySlug = Field(
        description="Agency or district receiving the aid", examples=["ubnd-huyen-huong-son"]
    )
    appraising_agency: AgencySlug = Field(
        "so-ke-hoach-dau-tu", description="Agency that appraised it", examples=["so-ke-hoach-dau-tu"]
    )
    approval: DocumentRef = Field(
        description="Decision approving the aid",
        examples=[{"number": "3120/QĐ-UBND", "issued_on": "2021-11-30", "issuer": "UBND tỉnh Hà Tĩnh"}],
    )
    start_date: date | None = Field(None, description="Start of implementation", examples=["2022-01-01"])
    end_date: date | None = Field(None, description="End of implementation", examples=["2023-12-31"])

    @model_validator(mode="after")
    def _dates_in_order(self) -> AidCommittedV1:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise CrossFieldError("end_date", "end_date is before start_date")
        return self
