"""Plans (kế hoạch) issued by the UBND and the tasks they assign to lead and coordinating agencies."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field, model_validator

from schemas.base import CrossFieldError, EventData, event
from schemas.common import AgencySlug, DocumentNumber, DocumentRef, Period
from schemas.labels import LabelledEnum


@event(
    "plan_issued",
    version=1,
    aggregate="plan",
    title_vi="Ban hành kế hoạch",
    title_en="Plan issued",
)
class PlanIssuedV1(EventData):
    """The UBND issued a plan (kế hoạch); its tasks follow as task_assigned events."""

    number: DocumentNumber | None = Field(
        None, description="Document number (None while the copy's number is blank)", examples=["365/KH-UBND"]
    )
    issued_on: date = Field(description="Date of issue", examples=["2019-10-25"])
    title: str = Field(
        min_length=1,
        max_length=1000,
        description="Title (trích yếu)",
        examples=[
            "Thực hiện Đề án theo dõi, tổng hợp, phối hợp, trao đổi thông tin giữa các cơ quan liên quan "
            "trong công tác đối ngoại nhân dân"
        ],
    )
    issuer: AgencySlug = Field("ubnd-tinh", description="Issuing body", examples=["ubnd-tinh"])
    legal_basis: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Documents the plan implements (căn cứ)",
        examples=[["Quyết định số 1109/QĐ-TTg ngày 28/8/2019 của Thủ tướng Chính phủ"]],
    )
    focal_agency: AgencySlug = Field(
        "so-ngoai-vu", description="Focal agency that monitors the plan", examples=["so-ngoai-vu"]
    )
    task_count: int | None = Field(
        None, ge=0, le=1000, description="Number of tasks the plan assigns, if stated", examples=[9]
    )


class Recurrence(LabelledEnum, StrEnum):
    """How often a task recurs, as the plan writes it."""

    once = "once"
    annually = "annually"  # "hàng năm": one instance a year, each with its own due date and completion
    ongoing = "ongoing"
    periodic_or_ad_hoc = "periodic_or_ad_hoc"
    monthly = "monthly"  # "hằng tháng"


@event(
    "task_assigned",
    version=1,
    aggregate="task",
    title_vi="Giao nhiệm vụ",
    title_en="Task assigned",
)
class TaskAssignedV1(EventData):
    """A plan assigns a task to lead agencies (chủ trì) with coordinating agencies (phối hợp)."""

    plan_id: str = Field(
        min_length=1, max_length=128, description="Aggregate id of the plan", examples=["gia-lai-1109-2020"]
    )
    plan_number: DocumentNumber | None = Field(
        None, description="Number of the plan", examples=["365/KH-UBND"]
    )
    task_number: str = Field(
        pattern=r"^[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*$",
        max_length=20,
        description="Number of the task within the plan",
        examples=["2"],
    )
    title: str = Field(
        min_length=1,
        max_length=2000,
        description="What is to be done",
        examples=[
            "Xây dựng Quy chế phối hợp của Ủy ban nhân dân tỉnh với Ủy ban Mặt trận Tổ quốc Việt Nam, "
            "tổ chức đoàn thể chính trị - xã hội cấp tỉnh trong triển khai công tác đối ngoại nhân dân"
        ],
    )
    lead_agencies: list[AgencySlug] = Field(
        min_length=1, max_length=20, description="Agencies in charge (chủ trì)", examples=[["so-ngoai-vu"]]
    )
    coordinating_agencies: list[AgencySlug] = Field(
        default_factory=list,
        max_length=100,
        description="Coordinating agencies (phối hợp)",
        examples=[["uy-ban-mttq-tinh", "doan-the-chinh-tri-xa-hoi", "co-quan-lien-quan"]],
    )
    timeframe: str = Field(
        min_length=1,
        max_length=200,
        description="Timeframe as the plan words it",
        examples=["Trong Quý II năm 2020"],
    )
    recurrence: Recurrence = Field(
        description="Once (with a due date), annually, monthly, ongoing, periodic or ad hoc", examples=["once"]
    )
    due_date: date | None = Field(None, description="Deadline, for a one-off task", examples=["2020-06-30"])
    expected_result: str | None = Field(
        None,
        max_length=2000,
        description="Expected result (kết quả)",
        examples=["Quy chế phối hợp được ban hành"],
    )

    @model_validator(mode="after")
    def _agencies_and_deadline_agree(self) -> TaskAssignedV1:
        if len(set(self.lead_agencies)) != len(self.lead_agencies):
            raise CrossFieldError("lead_agencies", "lead_agencies contains duplicates")
        if set(self.lead_agencies) & set(self.coordinating_agencies):
            raise CrossFieldError("coordinating_agencies", "an agency cannot both lead and coordinate the same task")
        if self.recurrence == Recurrence.once and self.due_date is None:
            raise CrossFieldError("due_date", "a one-off task needs a due_date")
        return self


class TaskStatus(LabelledEnum, StrEnum):
    on_track = "on_track"
    delayed = "delayed"
    blocked = "blocked"


@event(
    "task_progress_reported",
    version=1,
    aggregate="task",
    title_vi="Báo cáo tiến độ nhiệm vụ",
    title_en="Task progress reported",
)
class TaskProgressReportedV1(EventData):
    """An agency reports how far it has got with a task."""

    agency: AgencySlug = Field(description="Reporting agency", examples=["so-noi-vu"])
    reported_on: date = Field(description="Date of the progress report", examples=["2020-05-20"])
    status: TaskStatus = Field(description="On track, delayed or blocked", examples=["on_track"])
    progress_percent: int | None = Field(
        None, ge=0, le=100, description="Share done, if measurable", examples=[60]
    )
    period: Period | None = Field(None, description="Reporting period covered", examples=["2020-H1"])
    summary: str = Field(
        min_length=1,
        max_length=10000,
        description="What was done",
        examples=["Đã xây dựng dự thảo Quy chế, đang lấy ý kiến các đoàn thể"],
    )
    difficulties: str | None = Field(
        None,
        max_length=5000,
        description="Obstacles met, if any",
        examples=["Chậm nhận góp ý của một số đơn vị"],
    )


@event(
    "task_completed",
    version=1,
    aggregate="task",
    title_vi="Hoàn thành nhiệm vụ",
    title_en="Task completed",
)
class TaskCompletedV1(EventData):
    """A one-off task is done (or a recurring task is done for the period)."""

    agency: AgencySlug = Field(description="Agency reporting completion", examples=["so-ngoai-vu"])
    completed_on: date = Field(description="Completion date", examples=["2020-06-25"])
    result: str = Field(
        min_length=1,
        max_length=10000,
        description="The result achieved",
        examples=["Quy chế phối hợp được ban hành"],
    )
    period: Period | None = Field(
        None,
        description="Period completed, for a recurring task: for an annual task the year it covers "
        "(without it, the year of completed_on)",
        examples=["2020"],
    )
    evidence: list[DocumentRef] = Field(
        default_factory=list,
        max_length=50,
        description="Documents proving the result",
        examples=[
            [{"number": "15/QCPH-UBND-MTTQ", "issued_on": "2020-06-25", "issuer": "UBND tỉnh Gia Lai"}]
        ],
    )
