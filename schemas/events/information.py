"""Information exchange between agencies: shared with named recipients, acknowledged by each."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field, model_validator

from schemas.base import CrossFieldError, EventData, event
from schemas.common import AgencySlug, DocumentRef, PartnerRef, PersonRef
from schemas.labels import LabelledEnum


class InformationKind(LabelledEnum, StrEnum):
    partner = "partner"
    foreign_policy_event = "foreign_policy_event"
    activity_notice = "activity_notice"
    foreign_element_incident = "foreign_element_incident"
    guidance = "guidance"
    other = "other"


@event(
    "information_shared",
    version=1,
    aggregate="information",
    title_vi="Chia sẻ thông tin đối ngoại",
    title_en="Information shared",
)
class InformationSharedV1(EventData):
    """An agency shares information about a partner or a foreign-policy event with named agencies."""

    topic: str = Field(
        min_length=1,
        max_length=300,
        description="Subject line",
        examples=["Thông tin về đối tác tỉnh Bolykhamxay trước Hội nghị cấp cao thường niên"],
    )
    kind: InformationKind = Field(description="What the information is about", examples=["partner"])
    content: str = Field(
        min_length=1,
        max_length=20000,
        description="The information itself",
        examples=["Tỉnh Bolykhamxay đề nghị tăng cường hợp tác đào tạo nguồn nhân lực năm 2021"],
    )
    recipients: list[AgencySlug] = Field(
        min_length=1,
        max_length=200,
        description="Agencies the information is addressed to",
        examples=[["so-giao-duc-dao-tao", "cong-an-tinh", "bo-chi-huy-bien-phong"]],
    )
    partner: PartnerRef | None = Field(None, description="Foreign partner concerned, if any")
    acknowledgement_requested: bool = Field(
        True, description="Recipients are asked to acknowledge receipt", examples=[True]
    )
    respond_by: date | None = Field(
        None, description="Date by which recipients should acknowledge or reply", examples=["2021-03-15"]
    )
    attachments: list[DocumentRef] = Field(
        default_factory=list, max_length=50, title="Văn bản kèm theo", description="Documents attached"
    )

    @model_validator(mode="after")
    def _recipients_unique(self) -> InformationSharedV1:
        if len(set(self.recipients)) != len(self.recipients):
            raise CrossFieldError("recipients", "recipients contains duplicates")
        return self


@event(
    "information_acknowledged",
    version=1,
    aggregate="information",
    title_vi="Xác nhận đã nhận thông tin",
    title_en="Information acknowledged",
)
class InformationAcknowledgedV1(EventData):
    """A recipient agency confirms it received shared information."""

    agency: AgencySlug = Field(description="The recipient agency acknowledging", examples=["cong-an-tinh"])
    acknowledged_by: PersonRef | None = Field(
        None,
        description="Official who acknowledged",
        examples=[{"name": "Nguyễn Văn An", "title": "Phó Trưởng phòng Quản lý xuất nhập cảnh"}],
    )
    note: str | None = Field(
        None,
        max_length=5000,
        description="Reply or remark",
        examples=["Đã phổ biến đến các đơn vị trực thuộc"],
    )
