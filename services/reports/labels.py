"""Vietnamese wording of the report: codes to labels, dates, numbers and periods (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from services.names import country_name

ACTIVITY_KINDS = {
    "friendship_exchange": "Giao lưu hữu nghị",
    "cultural_exchange": "Giao lưu văn hóa",
    "anniversary": "Kỷ niệm ngày lễ, sự kiện",
    "training": "Tập huấn, bồi dưỡng",
    "external_information": "Thông tin đối ngoại",
    "investment_promotion": "Xúc tiến đầu tư",
    "overseas_vietnamese": "Công tác người Việt Nam ở nước ngoài",
    "border_twinning": "Kết nghĩa cụm dân cư biên giới",
    "inspection": "Kiểm tra, thanh tra",
    "commendation": "Thi đua, khen thưởng",
    "other": "Hoạt động khác",
    "conference": "Hội nghị, hội thảo quốc tế",
}
ACTIVITY_STATUS = {"held": "Đã tổ chức", "planned": "Theo kế hoạch", "cancelled": "Đã hủy"}
DIRECTIONS = {"in": "Đoàn vào", "out": "Đoàn ra"}
AGREEMENT_KINDS = {
    "memorandum_of_understanding": "Biên bản ghi nhớ",
    "letter_of_intent": "Ý định thư",
    "cooperation_agreement": "Thỏa thuận hợp tác",
    "cooperation_minutes": "Biên bản hợp tác",
    "other": "Thỏa thuận khác",
}
AID_SECTORS = {
    "health": "Y tế",
    "education": "Giáo dục",
    "agriculture": "Nông nghiệp",
    "environment": "Môi trường",
    "water_sanitation": "Nước sạch và vệ sinh môi trường",
    "social_welfare": "An sinh xã hội",
    "disaster_relief": "Khắc phục hậu quả thiên tai",
    "capacity_building": "Nâng cao năng lực",
    "other": "Lĩnh vực khác",
}
TASK_STATUS = {
    "assigned": "Chưa báo cáo tiến độ",
    "in_progress": "Đang thực hiện",
    "completed": "Hoàn thành",
    "overdue": "Quá hạn",
}
REPORT_STATUS = {"late": "Gửi chậm", "missing": "Chưa gửi", "on_time": "Đúng hạn", "pending": "Chưa đến hạn",
                 "no_duty": "Không có nghĩa vụ báo cáo"}
SEVERITY = {"low": "Thấp", "medium": "Trung bình", "high": "Cao", "critical": "Nghiêm trọng"}
DIFFICULTY_STATUS = {
    "raised": "Chờ Sở Ngoại vụ tiếp nhận",
    "acknowledged": "Sở Ngoại vụ đã tiếp nhận",
    "guidance_issued": "Sở Ngoại vụ đã hướng dẫn",
    "escalated": "Đã đề xuất UBND tỉnh",
    "decision_issued": "UBND tỉnh đã quyết định",
    "resolved": "Đã giải quyết",
}
TRIGGERS = {
    "difficulty_unacknowledged": "Khó khăn chưa được tiếp nhận đúng hạn",
    "difficulty_unhandled": "Khó khăn chưa được hướng dẫn, xử lý đúng hạn",
    "difficulty_beyond_authority": "Khó khăn vượt thẩm quyền Sở Ngoại vụ",
    "report_missing": "Chưa gửi báo cáo đúng hạn",
    "task_overdue": "Nhiệm vụ quá hạn",
    "information_unacknowledged": "Thông tin chưa được xác nhận",
}
ESCALATION_STATUS = {"open": "Chưa xử lý", "acknowledged": "Đã tiếp nhận", "closed": "Đã xử lý xong"}


def label(labels: Mapping[str, str], code: str | None) -> str:
    """The Vietnamese label of a code; the code itself when it has none."""
    if code is None:
        return ""
    return labels.get(code, code)


def vn_date(d: date | None) -> str:
    """dd/mm/yyyy, as in tables: 22/03/2021."""
    return "" if d is None else f"{d.day:02d}/{d.month:02d}/{d.year}"


def prose_date(d: date) -> str:
    """d/m/yyyy, as in running text: 14/6/2021."""
    return f"{d.day}/{d.month}/{d.year}"


def date_range(start: date | None, end: date | None) -> str:
    """'22/03/2021 -' and '24/03/2021' on two lines of a table cell; one date when they agree."""
    if start is None:
        return vn_date(end)
    if end is None or end == start:
        return vn_date(start)
    return f"{vn_date(start)} -\n{vn_date(end)}"


def place_and_date(place: str, d: date) -> str:
    """The date line of Decree 30/2020/NĐ-CP: days below 10 and months 1-2 take a leading zero."""
    month = f"{d.month:02d}" if d.month < 3 else str(d.month)
    return f"{place}, ngày {d.day:02d} tháng {month} năm {d.year}"


def number(n: int | Decimal | float) -> str:
    """Vietnamese digit grouping: 250.000; 1.234,5."""
    whole, _, frac = f"{Decimal(str(n)):,f}".partition(".")
    frac = frac.rstrip("0")
    return whole.replace(",", ".") + (f",{frac}" if frac else "")


def money(amount: Decimal | None, currency: str | None) -> str:
    if amount is None:
        return ""
    return f"{number(amount)} {currency or ''}".strip()


def partner(name: str | None, country: str | None) -> str | None:
    """'Tỉnh Bolykhămxay (Lào)'; the country alone when the partner has no name."""
    country_vi = country_name(country)
    if name and country_vi:
        return f"{name} ({country_vi})"
    return name or country_vi or None


def period_label(period: str) -> str:
    """'2021-H1' -> '6 tháng đầu năm 2021'; '2021' -> 'năm 2021'."""
    return f"6 tháng đầu năm {period[:4]}" if period.endswith("-H1") else f"năm {period[:4]}"


def next_period_label(period: str) -> str:
    """What the orientation section plans for: '6 tháng cuối năm 2021' after H1, 'năm 2022' after 2021."""
    year = int(period[:4])
    return f"6 tháng cuối năm {year}" if period.endswith("-H1") else f"năm {year + 1}"
