"""Difficulties (khó khăn, vướng mắc) agencies raise with SNgV."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field, model_validator

from schemas.base import CrossFieldError, EventData, event
from schemas.common import AgencySlug, Attachment, DocumentRef, PartnerRef, PersonRef, Severity
from schemas.labels import LabelledEnum


@event(
    "difficulty_raised",
    version=1,
    aggregate="difficulty",
    title_vi="Báo cáo khó khăn, vướng mắc",
    title_en="Difficulty raised",
)
class DifficultyRaisedV1(EventData):
    """A unit reports a difficulty to SNgV for guidance."""

    topic: str = Field(
        min_length=1,
        max_length=300,
        description="Topic",
        examples=["Thủ tục cấp phép hội thảo quốc tế"],
    )
    description: str = Field(
        min_length=1,
        max_length=10000,
        description="What the difficulty is",
        examples=["Chưa rõ thẩm quyền cho phép tổ chức hội thảo có đại biểu nước ngoài cấp huyện"],
    )
    severity: Severity = Field(description="How serious", examples=["medium"])
    beyond_authority: bool = Field(
        False,
        description="The raiser's view that it is beyond SNgV's authority (shown; SNgV judges, on acknowledgement)",
        examples=[False],
    )
    addressed_to: AgencySlug = Field(
        "so-ngoai-vu", description="Agency asked for guidance", examples=["so-ngoai-vu"]
    )
    partner: PartnerRef | None = Field(None, description="Foreign partner involved, if any")
    related_task: str | None = Field(None, max_length=128, description="Plan task concerned, if any")
    proposal: str | None = Field(None, max_length=5000, title="Đề xuất của đơn vị",
                                 description="What the unit proposes")
    attachments: list[Attachment] = Field(
        default_factory=list, max_length=20, examples=[[]],
        description="Documents the unit sends with it: files uploaded first (POST /api/attachments)",
    )


@event(
    "difficulty_acknowledged",
    version=1,
    aggregate="difficulty",
    title_vi="Tiếp nhận khó khăn, vướng mắc",
    title_en="Difficulty acknowledged",
)
class DifficultyAcknowledgedV1(EventData):
    """SNgV has received the difficulty and taken it up."""

    acknowledged_on: date = Field(description="Date taken up", examples=["2021-04-02"])
    handler: AgencySlug = Field("so-ngoai-vu", description="Agency handling it", examples=["so-ngoai-vu"])
    officer: PersonRef | None = Field(
        None,
        description="Official in charge",
        examples=[{"name": "Trần Thị Bình", "title": "Trưởng phòng Hợp tác quốc tế"}],
    )
    within_authority: bool | None = Field(
        None,
        description="SNgV's judgement: can it decide alone? false: beyond its authority, it proposes to the UBND tỉnh",
        examples=[True],
    )
    respond_by: date | None = Field(None, description="Date guidance is expected by", examples=["2021-04-09"])
    note: str | None = Field(
        None, max_length=5000, description="Remark", examples=["Đang xin ý kiến Bộ Ngoại giao"]
    )

    @model_validator(mode="after")
    def _respond_after_acknowledging(self) -> DifficultyAcknowledgedV1:
        if self.respond_by is not None and self.respond_by < self.acknowledged_on:
            raise CrossFieldError("respond_by", "respond_by is before acknowledged_on")
        return self


@event(
    "guidance_issued",
    version=1,
    aggregate="difficulty",
    title_vi="Hướng dẫn xử lý khó khăn, vướng mắc",
    title_en="Guidance issued",
)
class GuidanceIssuedV1(EventData):
    """SNgV (or the agency responsible) tells the unit how to deal with the difficulty."""

    issued_by: AgencySlug = Field("so-ngoai-vu", description="Agency giving guidance", examples=["so-ngoai-vu"])
    issued_on: date = Field(description="Date of the guidance", examples=["2021-04-07"])
    guidance: str = Field(
        min_length=1,
        max_length=20000,
        description="The guidance",
        examples=["Hội thảo có đại biểu nước ngoài do UBND cấp huyện tổ chức thuộc thẩm quyền của UBND tỉnh"],
    )
    addressed_to: list[AgencySlug] = Field(
        default_factory=list,
        max_length=200,
        description="Agencies the guidance is sent to (the raiser at least)",
        examples=[["ubnd-huyen-huong-son"]],
    )
    document: DocumentRef | None = Field(
        None,
        description="Guidance document",
        examples=[{"number": "312/SNgV-HTQT", "issued_on": "2021-04-07", "issuer": "Sở Ngoại vụ Hà Tĩnh"}],
    )


@event(
    "difficulty_escalated",
    version=1,
    aggregate="difficulty",
    title_vi="Đề xuất UBND tỉnh xem xét, giải quyết",
    title_en="Difficulty escalated",
)
class DifficultyEscalatedV1(EventData):
    """Beyond its authority, SNgV aggregates the difficulty and proposes a decision to the UBND."""

    escalated_to: AgencySlug = Field("ubnd-tinh", description="Body asked to decide", examples=["ubnd-tinh"])
    escalated_on: date = Field(description="Date of the proposal", examples=["2021-04-12"])
    reason: str = Field(
        min_length=1,
        max_length=5000,
        title="Lý do vượt thẩm quyền",
        description="Why it is beyond SNgV's authority",
        examples=["Vượt thẩm quyền của Sở Ngoại vụ"],
    )
    proposal: str = Field(
        min_length=1,
        max_length=10000,
        title="Đề xuất UBND tỉnh quyết định",
        description="What SNgV proposes the UBND decide",
        examples=["Đề nghị UBND tỉnh cho phép tổ chức hội thảo và giao Sở Ngoại vụ hướng dẫn thủ tục"],
    )
    document: DocumentRef | None = Field(
        None,
        title="Tờ trình",
        description="SNgV's submission (tờ trình)",
        examples=[{"number": "45/TTr-SNgV", "issued_on": "2021-04-12", "issuer": "Sở Ngoại vụ Hà Tĩnh"}],
    )
    decide_by: date | None = Field(
        None,
        description="Date a decision is needed by (else the province's UBND decision limit applies)",
        examples=["2021-04-23"],
    )
    attachments: list[Attachment] = Field(
        default_factory=list, max_length=20, examples=[[]],
        description="The submission (tờ trình) and its annexes as files: files uploaded first (POST /api/attachments)",
    )

    @model_validator(mode="after")
    def _deadline_after_escalation(self) -> DifficultyEscalatedV1:
        if self.decide_by is not None and self.decide_by < self.escalated_on:
            raise CrossFieldError("decide_by", "decide_by is before escalated_on")
        return self


@event(
    "decision_issued",
    version=1,
    aggregate="difficulty",
    title_vi="UBND tỉnh ban hành quyết định",
    title_en="Decision issued",
)
class DecisionIssuedV1(EventData):
    """The UBND decided on an escalated difficulty."""

    decided_by: AgencySlug = Field("ubnd-tinh", description="Deciding body", examples=["ubnd-tinh"])
    decision: DocumentRef = Field(
        description="The decision document (its issued_on is required)",
        examples=[{"number": "1205/QĐ-UBND", "issued_on": "2021-04-20", "issuer": "UBND tỉnh Hà Tĩnh"}],
    )
    summary: str = Field(
        min_length=1,
        max_length=10000,
        title="Nội dung quyết định",
        description="What was decided",
        examples=["Cho phép UBND huyện Hương Sơn tổ chức hội thảo quốc tế về phát triển du lịch biên giới"],
    )
    assigned_agencies: list[AgencySlug] = Field(
        default_factory=list,
        max_length=200,
        description="Agencies charged with carrying out the decision",
        examples=[["ubnd-huyen-huong-son", "so-ngoai-vu"]],
    )

    @model_validator(mode="after")
    def _decision_is_dated(self) -> DecisionIssuedV1:
        if self.decision.issued_on is None:
            raise CrossFieldError("decision.issued_on", "decision.issued_on is required")
        return self


class Resolution(LabelledEnum, StrEnum):
    resolved = "resolved"
    withdrawn = "withdrawn"
    no_longer_relevant = "no_longer_relevant"


@event(
    "difficulty_resolved",
    version=1,
    aggregate="difficulty",
    title_vi="Đã giải quyết khó khăn, vướng mắc",
    title_en="Difficulty resolved",
)
class DifficultyResolvedV1(EventData):
    """The difficulty is closed: resolved, withdrawn by the unit, or no longer relevant."""

    outcome: Resolution = Field(Resolution.resolved, description="How it closed", examples=["resolved"])
    resolved_on: date = Field(description="Date closed", examples=["2021-04-26"])
    resolved_by: AgencySlug = Field(description="Agency closing it", examples=["so-ngoai-vu"])
    resolution: str = Field(
        min_length=1,
        max_length=10000,
        description="How it was resolved",
        examples=["Hội thảo đã được cấp phép theo Quyết định 1205/QĐ-UBND"],
    )
