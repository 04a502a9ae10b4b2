"""Escalations: a deadline passed or a matter is beyond authority, so a higher agency is told."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field, model_validator

from schemas.base import CrossFieldError, EventData, event
from schemas.common import AgencySlug, Period, PersonRef
from schemas.envelope import SUBJECT_RE
from schemas.labels import LabelledEnum


class EscalationTrigger(LabelledEnum, StrEnum):
    difficulty_unacknowledged = "difficulty_unacknowledged"
    difficulty_unhandled = "difficulty_unhandled"
    difficulty_beyond_authority = "difficulty_beyond_authority"
    report_missing = "report_missing"
    task_overdue = "task_overdue"
    information_unacknowledged = "information_unacknowledged"


@event(
    "escalation_raised",
    version=1,
    aggregate="escalation",
    title_vi="Cảnh báo, đề xuất cấp trên xử lý",
    title_en="Escalation raised",
)
class EscalationRaisedV1(EventData):
    """Something was not done in time (or is beyond authority): a target agency must act."""

    trigger: EscalationTrigger = Field(description="What caused the escalation", examples=["report_missing"])
    cause_subject: str = Field(
        pattern=SUBJECT_RE.pattern,
        description="Subject (<kind>/<id>) of the aggregate concerned",
        examples=["report/ha-tinh-so-tu-phap-2021-H1"],
    )
    cause_event_id: str | None = Field(
        None,
        max_length=128,
        description="Id of the event that set the deadline, if any",
        examples=["0b7f3c1e-52a4-4f0e-9d57-5d7c3c1a9e21"],
    )
    level: int = Field(
        ge=1,
        le=10,
        description="Rank in the escalation policy, 1 first (default: SNgV officer, SNgV director, UBND's office)",
        examples=[1],
    )
    target_agency: AgencySlug = Field(
        description="Agency that must act, the only one that acknowledges the escalation", examples=["so-ngoai-vu"]
    )
    target_role: str | None = Field(
        None, max_length=200, description="Role notified at that agency", examples=["Chuyên viên Sở Ngoại vụ"]
    )
    responsible_agency: AgencySlug | None = Field(
        None,
        description="Agency that missed the deadline (whoever's step it was), if any; it receives the escalation too",
        examples=["so-tu-phap"],
    )
    period: Period | None = Field(None, description="Reporting period concerned", examples=["2021-H1"])
    due_at: AwareDatetime | None = Field(
        None, description="The deadline that was missed, if any", examples=["2021-05-25T23:59:59+07:00"]
    )
    ack_by: AwareDatetime = Field(
        description="The target agency should acknowledge by then", examples=["2021-05-28T17:00:00+07:00"]
    )
    message: str = Field(
        min_length=1,
        max_length=5000,
        description="Message for the target agency, in Vietnamese",
        examples=["Sở Tư pháp chưa gửi báo cáo 6 tháng đầu năm 2021 (hạn 25/05/2021)"],
    )

    @model_validator(mode="after")
    def _ack_after_deadline(self) -> EscalationRaisedV1:
        if self.due_at is not None and self.ack_by <= self.due_at:
            raise CrossFieldError("ack_by", "ack_by must be after due_at")
        return self


@event(
    "escalation_acknowledged",
    version=1,
    aggregate="escalation",
    title_vi="Đã tiếp nhận cảnh báo",
    title_en="Escalation acknowledged",
)
class EscalationAcknowledgedV1(EventData):
    """The target agency has seen the escalation and says who is dealing with it."""

    agency: AgencySlug = Field(description="Acknowledging agency", examples=["so-ngoai-vu"])
    by: PersonRef = Field(
        description="Who acknowledged",
        examples=[{"name": "Lê Văn Cường", "title": "Phó Giám đốc Sở Ngoại vụ"}],
    )
    action: str | None = Field(
        None, max_length=5000, description="What will be done", examples=["Đã đôn đốc Sở Tư pháp gửi báo cáo"]
    )


@event(
    "escalation_closed",
    version=1,
    aggregate="escalation",
    title_vi="Đã đóng cảnh báo",
    title_en="Escalation closed",
)
class EscalationClosedV1(EventData):
    """The cause of the escalation is gone (report submitted, task done, difficulty handled)."""

    reason: str = Field(
        min_length=1, max_length=2000, description="Why it is closed", examples=["Sở Tư pháp đã gửi báo cáo"]
    )
    cause_subject: str = Field(
        pattern=SUBJECT_RE.pattern,
        description="Subject of the aggregate concerned",
        examples=["report/ha-tinh-so-tu-phap-2021-H1"],
    )


@event(
    "escalation_reminded",
    version=1,
    aggregate="escalation",
    title_vi="Nhắc hạn",
    title_en="Deadline reminder sent",
)
class EscalationRemindedV1(EventData):
    """A deadline is near: the responsible agency is reminded before anything escalates."""

    trigger: EscalationTrigger = Field(description="What will escalate if missed", examples=["report_missing"])
    cause_subject: str = Field(
        pattern=SUBJECT_RE.pattern,
        description="Subject of the aggregate concerned",
        examples=["report/ha-tinh-so-tu-phap-2021-H1"],
    )
    target_agency: AgencySlug = Field(description="Agency reminded", examples=["so-tu-phap"])
    due_at: AwareDatetime = Field(description="The deadline", examples=["2021-05-25T23:59:59+07:00"])
    message: str = Field(
        min_length=1,
        max_length=5000,
        description="Message, in Vietnamese",
        examples=["Nhắc: hạn gửi báo cáo 6 tháng đầu năm 2021 là 25/05/2021"],
    )
