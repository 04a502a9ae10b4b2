"""Periodic and ad hoc reports agencies send to the UBND through SNgV."""

from __future__ import annotations

from datetime import date

from pydantic import Field, model_validator

from schemas.base import CrossFieldError, EventData, event
from schemas.common import AgencySlug, Attachment, DocumentNumber, DocumentRef, Period, ReportKind


@event(
    "report_submitted",
    version=1,
    aggregate="report",
    title_vi="Đã gửi báo cáo",
    title_en="Report submitted",
)
class ReportSubmittedV1(EventData):
    """An agency submitted a report for a period."""

    report_kind: ReportKind = Field(description="6-month, annual or ad hoc", examples=["semiannual"])
    period: Period = Field(description="Reporting period", examples=["2021-H1"])
    title: str = Field(
        min_length=1,
        max_length=500,
        title="Tên báo cáo",
        description="Title",
        examples=["Báo cáo công tác đối ngoại 6 tháng đầu năm 2021"],
    )
    document_number: DocumentNumber | None = Field(
        None, description="Number of the report document", examples=["45/BC-SNgV"]
    )
    submitted_on: date = Field(description="Date of submission", examples=["2021-05-20"])
    summary: str | None = Field(None, max_length=10000, title="Tóm tắt nội dung", description="Summary of content")
    request_id: str | None = Field(
        None, max_length=128, description="The report_requested aggregate this answers (ad hoc)"
    )
    attachments: list[Attachment] = Field(
        default_factory=list, max_length=20, examples=[[]],
        description="The report itself as a file (PDF or .docx): files uploaded first (POST /api/attachments)",
    )

    @model_validator(mode="after")
    def _period_fits_kind(self) -> ReportSubmittedV1:
        half = "-H" in self.period
        if self.report_kind == "semiannual" and not half:
            raise CrossFieldError("period", "a semiannual report needs a period like 2021-H1")
        if self.report_kind == "annual" and half:
            raise CrossFieldError("period", "an annual report needs a period like 2021")
        return self


def _check_period_fits_kind(report_kind: ReportKind, period: str) -> None:
    half = "-H" in period
    if report_kind == ReportKind.semiannual and not half:
        raise CrossFieldError("period", "a semiannual report needs a period like 2021-H1")
    if report_kind == ReportKind.annual and half:
        raise CrossFieldError("period", "an annual report needs a period like 2021")


@event(
    "report_requested",
    version=1,
    aggregate="report",
    title_vi="Yêu cầu báo cáo",
    title_en="Report requested",
)
class ReportRequestedV1(EventData):
    """SNgV (or the UBND) asks named agencies for a periodic or ad hoc report by a deadline."""

    report_kind: ReportKind = Field(description="6-month, annual or ad hoc", examples=["semiannual"])
    period: Period = Field(description="Reporting period", examples=["2021-H1"])
    title: str = Field(
        min_length=1,
        max_length=500,
        description="What is requested",
        examples=["Báo cáo kết quả công tác đối ngoại 6 tháng đầu năm 2021"],
    )
    deadline: date = Field(description="Reports must arrive by this date", examples=["2021-05-25"])
    requested_agencies: list[AgencySlug] = Field(
        min_length=1,
        max_length=500,
        description="Agencies that must report",
        examples=[["so-noi-vu", "so-tu-phap", "cong-an-tinh"]],
    )
    requested_by: AgencySlug = Field(
        "so-ngoai-vu", description="Agency that compiles the reports", examples=["so-ngoai-vu"]
    )
    data_from: date | None = Field(None, description="First day of data covered", examples=["2020-12-15"])
    data_to: date | None = Field(None, description="Last day of data covered", examples=["2021-06-14"])
    basis: DocumentRef | None = Field(
        None,
        description="Document setting the obligation",
        examples=[{"number": "53/KH-UBND", "issued_on": "2021-02-26", "issuer": "UBND tỉnh Hà Tĩnh"}],
    )
    content: str | None = Field(
        None, max_length=10000, description="What the report must cover", examples=["Theo đề cương gửi kèm"]
    )

    @model_validator(mode="after")
    def _consistent(self) -> ReportRequestedV1:
        _check_period_fits_kind(self.report_kind, self.period)
        if len(set(self.requested_agencies)) != len(self.requested_agencies):
            raise CrossFieldError("requested_agencies", "requested_agencies contains duplicates")
        if self.data_from and self.data_to and self.data_to < self.data_from:
            raise CrossFieldError("data_to", "data_to is before data_from")
        return self


@event(
    "report_returned",
    version=1,
    aggregate="report",
    title_vi="Trả lại báo cáo",
    title_en="Report returned",
)
class ReportReturnedV1(EventData):
    """SNgV returns a submitted report to its agency for correction."""

    returned_to: AgencySlug = Field(description="Agency that must correct the report", examples=["so-tu-phap"])
    returned_on: date = Field(description="Date returned", examples=["2021-05-27"])
    reason: str = Field(
        min_length=1,
        max_length=5000,
        description="Why the report is returned",
        examples=["Thiếu số liệu đoàn ra, đoàn vào theo biểu mẫu"],
    )
    problems: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Points to correct",
        examples=[["Biểu số 2 chưa điền", "Chưa có chữ ký thủ trưởng"]],
    )
    resubmit_by: date | None = Field(
        None, description="Deadline for the corrected report", examples=["2021-06-03"]
    )

    @model_validator(mode="after")
    def _resubmit_after_return(self) -> ReportReturnedV1:
        if self.resubmit_by is not None and self.resubmit_by < self.returned_on:
            raise CrossFieldError("resubmit_by", "resubmit_by is before returned_on")
        return self


@event(
    "report_accepted",
    version=1,
    aggregate="report",
    title_vi="Chấp nhận báo cáo",
    title_en="Report accepted",
)
class ReportAcceptedV1(EventData):
    """SNgV accepts a submitted report into the consolidated report."""

    accepted_on: date = Field(description="Date accepted", examples=["2021-05-28"])
    accepted_by: AgencySlug = Field("so-ngoai-vu", description="Accepting agency", examples=["so-ngoai-vu"])
    note: str | None = Field(None, max_length=5000, description="Remark", examples=["Đạt yêu cầu"])
    consolidated_report: DocumentRef | None = Field(
        None,
        description="The consolidated report it went into, once issued",
        examples=[{"number": "168/BC-UBND", "issued_on": "2021-06-10", "issuer": "UBND tỉnh Hà Tĩnh"}],
    )
