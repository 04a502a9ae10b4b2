"""The Vietnamese names of the payloads' fields and of their enumerated values, as the published JSON
Schemas carry them: each property's `title` (pydantic's `field_title_generator`, unless the field states
its own `title`) and, beside each enum's `enum`, `x-labels-vi` ({value: name}). Forms are drawn from
these schemas, so a new event version needs no new page: only its new field names here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import GetJsonSchemaHandler
from pydantic.fields import ComputedFieldInfo, FieldInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

FIELD_TITLES_VI: Mapping[str, str] = {
    "accepted_by": "Cơ quan tiếp nhận", "accepted_on": "Ngày chấp nhận", "ack_by": "Hạn tiếp nhận",
    "acknowledged_by": "Người xác nhận", "acknowledged_on": "Ngày tiếp nhận",
    "acknowledgement_requested": "Đề nghị xác nhận đã nhận", "action": "Việc sẽ làm",
    "addressed_to": "Gửi đến", "agency": "Cơ quan", "aid_kind": "Hình thức viện trợ", "amount": "Giá trị",
    "appraising_agency": "Cơ quan thẩm định", "approval": "Văn bản cho phép", "areas": "Lĩnh vực hợp tác",
    "arrival_date": "Ngày đến", "assigned_agencies": "Cơ quan được giao thực hiện",
    "attachments": "Tệp đính kèm", "basis": "Căn cứ", "beyond_authority": "Vượt thẩm quyền của Sở Ngoại vụ",
    "by": "Người tiếp nhận", "cancelled_on": "Ngày quyết định hủy", "cause_event_id": "Sự kiện gây ra",
    "cause_subject": "Đối tượng liên quan", "co_organisers": "Đối tác đồng tổ chức, tài trợ",
    "completed_on": "Ngày hoàn thành", "consolidated_report": "Báo cáo tổng hợp",
    "consultation": "Ý kiến của Bộ Ngoại giao", "content": "Nội dung",
    "coordinating_agencies": "Cơ quan phối hợp", "country": "Quốc gia", "currency": "Loại tiền",
    "data_from": "Số liệu từ ngày", "data_to": "Số liệu đến ngày", "deadline": "Hạn gửi",
    "decide_by": "Đề nghị quyết định trước ngày", "decided_by": "Cơ quan quyết định",
    "decision": "Quyết định", "departure_date": "Ngày đi", "description": "Nội dung khó khăn, vướng mắc",
    "destination": "Nơi đến", "difficulties": "Khó khăn, vướng mắc", "document": "Văn bản",
    "document_number": "Số văn bản", "donor": "Nhà tài trợ", "due_at": "Hạn", "due_date": "Hạn hoàn thành",
    "end_date": "Đến ngày", "escalated_on": "Ngày trình", "escalated_to": "Trình cơ quan",
    "evidence": "Văn bản chứng minh kết quả", "expected_participants": "Số người dự kiến tham gia",
    "expected_result": "Kết quả dự kiến", "focal_agency": "Cơ quan đầu mối",
    "foreign_participants": "Trong đó người nước ngoài", "funding_source": "Nguồn kinh phí",
    "guidance": "Nội dung hướng dẫn", "handler": "Cơ quan xử lý", "head": "Trưởng đoàn",
    "host_agency": "Cơ quan đón tiếp", "issued_by": "Cơ quan hướng dẫn", "issued_on": "Ngày ban hành",
    "issuer": "Cơ quan ban hành", "kind": "Loại", "lead_agencies": "Cơ quan chủ trì",
    "lead_agency": "Cơ quan chủ trì", "legal_basis": "Căn cứ pháp lý", "level": "Cấp cảnh báo",
    "locality": "Địa phương", "location": "Địa điểm", "media_type": "Loại tệp", "message": "Nội dung",
    "name": "Họ và tên", "name_original": "Tên gốc", "name_vi": "Tên tiếng Việt", "note": "Ghi chú",
    "number": "Số, ký hiệu", "object": "Mã lưu trữ", "officer": "Cán bộ phụ trách",
    "online": "Trực tuyến hoặc kết hợp", "organisation": "Tổ chức", "organiser": "Cơ quan tổ chức",
    "outcome": "Kết quả", "participants": "Số người tham gia", "partner": "Đối tác nước ngoài",
    "partner_id": "Đối tác trong danh mục", "partner_signatory": "Người ký phía đối tác",
    "partners": "Đối tác nước ngoài", "period": "Kỳ báo cáo", "permission": "Văn bản cho phép",
    "plan": "Kế hoạch", "plan_id": "Kế hoạch", "plan_number": "Số kế hoạch",
    "planned_end": "Dự kiến đến ngày", "planned_start": "Dự kiến từ ngày", "postponed": "Tạm hoãn",
    "problems": "Nội dung cần sửa", "progress_percent": "Tỷ lệ hoàn thành (%)", "proposal": "Đề xuất",
    "purpose": "Mục đích", "reason": "Lý do", "recipient_agency": "Cơ quan tiếp nhận viện trợ",
    "recipients": "Cơ quan nhận thông tin", "recurrence": "Tính chất thực hiện",
    "related_task": "Nhiệm vụ liên quan", "relationship": "Quan hệ với tỉnh", "report_kind": "Loại báo cáo",
    "reported_on": "Ngày báo cáo", "request_id": "Yêu cầu báo cáo", "requested_agencies": "Cơ quan phải báo cáo",
    "requested_by": "Cơ quan tổng hợp", "resolution": "Cách giải quyết", "resolved_by": "Cơ quan đóng",
    "resolved_on": "Ngày đóng", "respond_by": "Hạn trả lời", "responsible_agency": "Cơ quan chịu trách nhiệm",
    "resubmit_by": "Hạn gửi lại", "result": "Kết quả", "return_date": "Ngày về", "returned_on": "Ngày trả lại",
    "returned_to": "Trả lại cơ quan", "sector": "Lĩnh vực", "sending_agency": "Cơ quan cử đoàn",
    "severity": "Mức độ", "sha256": "Mã băm SHA-256", "signatory_agency": "Cơ quan ký kết",
    "signed_by": "Người ký phía Việt Nam", "signed_on": "Ngày ký", "since": "Thiết lập quan hệ từ ngày",
    "size": "Số thành viên", "slug": "Mã đối tác", "start_date": "Từ ngày", "status": "Tình trạng",
    "submitted_on": "Ngày gửi", "summary": "Tóm tắt", "target_agency": "Cơ quan nhận cảnh báo",
    "target_role": "Người nhận", "task_count": "Số nhiệm vụ", "task_id": "Nhiệm vụ", "task_number": "Số thứ tự",
    "timeframe": "Thời gian thực hiện", "title": "Tiêu đề", "topic": "Chủ đề", "trigger": "Lý do cảnh báo",
    "valid_until": "Hiệu lực đến ngày", "within_authority": "Thuộc thẩm quyền của Sở Ngoại vụ",
}
"""Field name -> its Vietnamese label (a field whose meaning differs states its own `title`)."""

ENUM_LABELS_VI: Mapping[str, Mapping[str, str]] = {
    "ActivityKind": {
        "friendship_exchange": "Giao lưu hữu nghị", "cultural_exchange": "Giao lưu văn hóa",
        "anniversary": "Kỷ niệm ngày lễ, sự kiện", "training": "Tập huấn, bồi dưỡng",
        "external_information": "Thông tin đối ngoại", "investment_promotion": "Xúc tiến đầu tư",
        "overseas_vietnamese": "Công tác người Việt Nam ở nước ngoài", "border_twinning": "Kết nghĩa cụm dân cư",
        "inspection": "Kiểm tra", "commendation": "Thi đua, khen thưởng", "other": "Khác",
    },
    "FundingSource": {
        "state_budget": "Ngân sách nhà nước", "mobilised": "Nguồn vận động", "foreign_aid": "Viện trợ nước ngoài",
        "partner_funded": "Đối tác chi trả", "mixed": "Kết hợp nhiều nguồn",
    },
    "ConferenceKind": {"conference": "Hội nghị", "seminar": "Hội thảo", "workshop": "Tọa đàm", "forum": "Diễn đàn"},
    "AgreementKind": {
        "memorandum_of_understanding": "Biên bản ghi nhớ", "letter_of_intent": "Thư ý định",
        "cooperation_agreement": "Thỏa thuận hợp tác", "cooperation_minutes": "Biên bản hợp tác", "other": "Khác",
    },
    "AidKind": {"project": "Dự án", "non_project": "Phi dự án", "emergency_relief": "Cứu trợ khẩn cấp"},
    "AidSector": {
        "health": "Y tế", "education": "Giáo dục", "agriculture": "Nông nghiệp", "environment": "Môi trường",
        "water_sanitation": "Nước sạch, vệ sinh môi trường", "social_welfare": "An sinh xã hội",
        "disaster_relief": "Khắc phục thiên tai", "capacity_building": "Nâng cao năng lực", "other": "Khác",
    },
    "Severity": {"low": "Thấp", "medium": "Trung bình", "high": "Cao", "critical": "Nghiêm trọng"},
    "ReportKind": {"semiannual": "Báo cáo 6 tháng", "annual": "Báo cáo năm", "ad_hoc": "Báo cáo đột xuất"},
    "Resolution": {
        "resolved": "Đã giải quyết", "withdrawn": "Đơn vị rút lại", "no_longer_relevant": "Không còn cần thiết",
    },
    "InformationKind": {
        "partner": "Thông tin về đối tác", "foreign_policy_event": "Sự kiện đối ngoại lớn",
        "activity_notice": "Thông báo hoạt động", "foreign_element_incident": "Vụ việc có yếu tố nước ngoài",
        "guidance": "Hướng dẫn", "other": "Khác",
    },
    "PartnerKind": {
        "locality": "Địa phương", "organisation": "Tổ chức", "ngo": "Tổ chức phi chính phủ",
        "embassy": "Cơ quan đại diện ngoại giao", "international_organisation": "Tổ chức quốc tế",
        "friendship_association": "Hội hữu nghị", "university": "Trường đại học", "enterprise": "Doanh nghiệp",
        "other": "Khác",
    },
    "Recurrence": {
        "once": "Một lần (có hạn)", "annually": "Hằng năm", "ongoing": "Thường xuyên",
        "periodic_or_ad_hoc": "Định kỳ hoặc đột xuất", "monthly": "Hằng tháng",
    },
    "TaskStatus": {"on_track": "Đúng tiến độ", "delayed": "Chậm tiến độ", "blocked": "Bị vướng mắc"},
    "EscalationTrigger": {
        "difficulty_unacknowledged": "Khó khăn chưa được tiếp nhận", "difficulty_unhandled": "Khó khăn chưa được xử lý",
        "difficulty_beyond_authority": "Vượt thẩm quyền", "report_missing": "Chưa gửi báo cáo",
        "task_overdue": "Nhiệm vụ quá hạn", "information_unacknowledged": "Thông tin chưa được xác nhận",
    },
    "MediaType": {
        "application/pdf": "PDF",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word (.docx)",
    },
}
"""Enum class name -> {value: Vietnamese name}."""


def vi_title(name: str, _: FieldInfo | ComputedFieldInfo) -> str:
    """The `title` of a field that states none (pydantic's `field_title_generator`)."""
    return FIELD_TITLES_VI.get(name, name)


class LabelledEnum:
    """Mixin of a StrEnum: its JSON Schema holds `x-labels-vi`, the Vietnamese name of each value."""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        labels = ENUM_LABELS_VI.get(cls.__name__, {})
        schema["x-labels-vi"] = {str(v): labels.get(str(v), str(v)) for v in schema.get("enum", [])}
        return schema


def enum_label(enum_name: str, value: Any) -> str:
    """The Vietnamese name of an enum value ('Severity', 'high' -> 'Cao'), or the value itself."""
    return ENUM_LABELS_VI.get(enum_name, {}).get(str(value), str(value))
