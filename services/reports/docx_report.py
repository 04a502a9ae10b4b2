"""Render a `ReportData` as the consolidated report SNgV sends the UBND tỉnh (pure: no database).

Layout of Decree 30/2020/NĐ-CP: header block (issuing body | national title and motto; number |
place and date), title, data cut-off (Decree 09/2019/NĐ-CP), sections I-III with tables, closing,
recipients (Nơi nhận) and signature."""

from __future__ import annotations

import io
from collections import Counter
from decimal import Decimal
from pathlib import Path

import docx
from docx.document import Document

from services.reports import labels as vi
from services.reports.docx_layout import (
    CENTER,
    LEFT,
    TEXT_WIDTH_CM,
    body,
    cell_line,
    data_table,
    heading,
    keep_together,
    layout_table,
    rule,
    setup_page,
    text,
)
from services.reports.model import ReportData

DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ISSUER, ISSUER_CODE, SIGNER_TITLE = "SỞ NGOẠI VỤ", "SNgV", "GIÁM ĐỐC"
HEADER_COLS = (5.6, TEXT_WIDTH_CM - 5.6)
RECIPIENTS = ("UBND tỉnh (để báo cáo);", "Bộ Ngoại giao (để báo cáo);", "Các sở, ban, ngành cấp tỉnh;",
              "UBND các huyện, thị xã, thành phố;", "Lưu: VT.")


def filename(data: ReportData) -> str:
    return f"bao-cao-doi-ngoai-nhan-dan-{data.province}-{data.period}.docx"


def title_of(data: ReportData) -> str:
    """'Kết quả công tác đối ngoại nhân dân 6 tháng đầu năm 2021', with the scope of the year's plans."""
    return f"Kết quả công tác {data.scope} {vi.period_label(data.period)}"


def cutoff_line(data: ReportData) -> str:
    return (f"Thời gian chốt số liệu: từ ngày {vi.prose_date(data.window_start)} "
            f"đến ngày {vi.prose_date(data.window_end)}")


def render(data: ReportData) -> Document:
    doc = docx.Document()
    setup_page(doc)
    _header_block(doc, data)
    _title(doc, data)
    _results(doc, data)
    _difficulties(doc, data)
    _orientation(doc, data)
    _signature(doc, data)
    props = doc.core_properties
    props.title, props.author, props.language = f"Báo cáo {title_of(data)}", "Sở Ngoại vụ", "vi-VN"
    return doc


def to_bytes(data: ReportData) -> bytes:
    out = io.BytesIO()
    render(data).save(out)
    return out.getvalue()


def write(data: ReportData, path: Path) -> None:
    path.write_bytes(to_bytes(data))


def _header_block(doc: Document, data: ReportData) -> None:
    top, bottom = layout_table(doc, HEADER_COLS, rows=2).rows
    cell_line(top.cells[0], f"UBND TỈNH {data.province_name.upper()}", first=True, size=13)
    cell_line(top.cells[0], ISSUER, size=13, bold=True)
    rule(top.cells[0], 2.0, HEADER_COLS[0] - 0.4)
    cell_line(top.cells[1], "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", first=True, size=13, bold=True)
    cell_line(top.cells[1], "Độc lập - Tự do - Hạnh phúc", size=14, bold=True)
    rule(top.cells[1], 6.4, HEADER_COLS[1] - 0.4)
    number = data.document_number or "…"
    cell_line(bottom.cells[0], f"Số: {number}/BC-{ISSUER_CODE}", first=True, size=13, before=6)
    cell_line(bottom.cells[1], vi.place_and_date(data.province_name, data.report_date), first=True, size=14,
              italic=True, before=6)


def _title(doc: Document, data: ReportData) -> None:
    text(doc.add_paragraph(), "BÁO CÁO", bold=True, align=CENTER, before=18, keep_with_next=True)
    text(doc.add_paragraph(), title_of(data), bold=True, align=CENTER, before=0, keep_with_next=True)
    rule(doc, 3.5, TEXT_WIDTH_CM)
    text(doc.add_paragraph(), cutoff_line(data), italic=True, align=CENTER, before=6, after=6)
    plans = "; ".join(
        "Kế hoạch " + " ".join(x for x in (f"số {p.number}" if p.number else "",
                                           f"ngày {vi.prose_date(p.issued_on)}" if p.issued_on else "") if x)
        + f" của UBND tỉnh về {p.title[0].lower()}{p.title[1:]}" for p in data.plans)
    basis = f"Thực hiện {plans}, " if plans else ""
    body(doc, f"{basis}Sở Ngoại vụ tổng hợp kết quả công tác {data.scope} {vi.period_label(data.period)} "
         f"trên địa bàn tỉnh {data.province_name} từ số liệu các cơ quan, đơn vị cập nhật vào hệ thống theo dõi, "
         "tổng hợp thông tin đối ngoại nhân dân, như sau:")


def _caption(doc: Document, content: str) -> None:
    text(doc.add_paragraph(), content, bold=True, italic=True, align=CENTER, before=6, after=3, keep_with_next=True)


def _count(n: int) -> str:
    return f"{n:02d}" if 0 < n < 10 else str(n)


def _results(doc: Document, d: ReportData) -> None:
    heading(doc, "I. KẾT QUẢ THỰC HIỆN")
    heading(doc, "1. Hoạt động đối ngoại nhân dân")
    status = Counter(a.status for a in d.activities)
    conferences = sum(1 for a in d.activities if a.kind == "conference")
    extra = "".join((
        f", trong đó có {_count(conferences)} hội nghị, hội thảo quốc tế" if conferences else "",
        f"; {_count(status['planned'])} hoạt động đang theo kế hoạch" if status["planned"] else "",
        f"; {_count(status['cancelled'])} hoạt động bị hủy" if status["cancelled"] else "",
    ))
    body(doc, f"Trong kỳ báo cáo, các cơ quan, đơn vị đã tổ chức {_count(status['held'])} hoạt động đối ngoại "
         f"nhân dân{extra} (Bảng 1).")
    _caption(doc, "Bảng 1. Hoạt động đối ngoại nhân dân")
    data_table(doc, ("TT", "Tên hoạt động", "Hình thức", "Thời gian", "Đối tác", "Cơ quan chủ trì", "Số người",
                     "Tình trạng"), (1.0, 3.2, 2.1, 2.6, 2.2, 2.0, 1.4, 1.5),
               [(str(i), a.title, vi.label(vi.ACTIVITY_KINDS, a.kind), vi.date_range(a.start, a.end), a.partner or "",
                 a.lead_agency, vi.number(a.participants) if a.participants is not None else "",
                 vi.label(vi.ACTIVITY_STATUS, a.status)) for i, a in enumerate(d.activities, 1)], left=(1, 4, 5))

    heading(doc, "2. Đoàn ra, đoàn vào")
    ins = [x for x in d.delegations if x.direction == "in"]
    outs = [x for x in d.delegations if x.direction == "out"]
    countries = Counter(x.country for x in d.delegations if x.country)
    top = ", ".join(f"{c} ({_count(n)} đoàn)" for c, n in countries.most_common(3))
    body(doc, f"Tỉnh đã đón {_count(len(ins))} đoàn vào với {sum(x.size or 0 for x in ins)} người và cử "
         f"{_count(len(outs))} đoàn ra với {sum(x.size or 0 for x in outs)} người"
         + (f"; đối tác chủ yếu: {top}" if top else "") + " (Bảng 2).")
    _caption(doc, "Bảng 2. Đoàn ra, đoàn vào")
    data_table(doc, ("TT", "Đoàn", "Đối tác", "Trưởng đoàn", "Số người", "Thời gian", "Nội dung, mục đích"),
               (1.0, 1.6, 2.6, 2.8, 1.4, 2.6, 4.0),
               [(str(i), vi.label(vi.DIRECTIONS, x.direction), x.partner or "", x.head or "",
                 str(x.size) if x.size is not None else "", vi.date_range(x.start, x.end), x.purpose)
                for i, x in enumerate(d.delegations, 1)], left=(2, 3, 6))

    heading(doc, "3. Thỏa thuận quốc tế")
    body(doc, f"Trong kỳ báo cáo, các cơ quan, địa phương đã ký kết {_count(len(d.agreements))} thỏa thuận quốc tế "
         "(Bảng 3)." if d.agreements else "Trong kỳ báo cáo, không phát sinh thỏa thuận quốc tế mới.")
    _caption(doc, "Bảng 3. Thỏa thuận quốc tế được ký kết")
    data_table(doc, ("TT", "Tên thỏa thuận", "Loại", "Đối tác", "Ngày ký", "Cơ quan ký kết"),
               (1.0, 4.4, 2.5, 3.1, 2.6, 2.4),
               [(str(i), x.title, vi.label(vi.AGREEMENT_KINDS, x.kind), x.partner or "", vi.vn_date(x.signed_on),
                 x.signatory) for i, x in enumerate(d.agreements, 1)], left=(1, 3, 5))

    heading(doc, "4. Viện trợ phi chính phủ nước ngoài")
    totals: dict[str, Decimal] = {}
    for x in d.aid:
        if x.amount is not None:
            totals[x.currency or ""] = totals.get(x.currency or "", Decimal(0)) + x.amount
    total = "; ".join(vi.money(v, c) for c, v in sorted(totals.items()))
    body(doc, f"Các cơ quan, đơn vị đã vận động, tiếp nhận {_count(len(d.aid))} chương trình, dự án viện trợ phi "
         f"chính phủ nước ngoài với tổng giá trị cam kết {total} (Bảng 4)." if d.aid
         else "Trong kỳ báo cáo, không phát sinh khoản viện trợ phi chính phủ nước ngoài mới.")
    _caption(doc, "Bảng 4. Viện trợ phi chính phủ nước ngoài")
    data_table(doc, ("TT", "Tên chương trình, dự án", "Nhà tài trợ", "Giá trị cam kết", "Lĩnh vực",
                     "Cơ quan tiếp nhận", "Ngày bắt đầu"), (1.0, 3.0, 2.6, 2.2, 1.9, 2.7, 2.6),
               [(str(i), x.title, x.donor or "", vi.money(x.amount, x.currency), vi.label(vi.AID_SECTORS, x.sector),
                 x.recipient, vi.vn_date(x.start)) for i, x in enumerate(d.aid, 1)], left=(1, 2, 5))

    heading(doc, "5. Tình hình thực hiện nhiệm vụ kế hoạch")
    by = Counter(t.status for t in d.tasks)
    body(doc, f"Tính đến ngày {vi.prose_date(d.as_of)}, trong tổng số {_count(len(d.tasks))} nhiệm vụ thuộc các kế "
         f"hoạch đang thực hiện: {_count(by['completed'])} nhiệm vụ hoàn thành, {_count(by['in_progress'])} nhiệm vụ "
         f"đang thực hiện, {_count(by['assigned'])} nhiệm vụ chưa báo cáo tiến độ, {_count(by['overdue'])} nhiệm vụ "
         "quá hạn (Bảng 5).")
    _caption(doc, "Bảng 5. Tình hình thực hiện nhiệm vụ")
    data_table(doc, ("TT", "Kế hoạch", "Nhiệm vụ", "Cơ quan chủ trì", "Thời hạn", "Tiến độ", "Tình trạng"),
               (1.0, 2.1, 6.0, 2.2, 2.6, 1.3, 1.9),
               [(str(i), t.plan, f"{t.number}. {t.title}", t.lead_agencies, vi.vn_date(t.due_date) or t.timeframe or "",
                 f"{t.progress_percent}%" if t.progress_percent is not None else "", vi.label(vi.TASK_STATUS, t.status))
                for i, t in enumerate(d.tasks, 1)], left=(2, 3))

    heading(doc, "6. Chế độ báo cáo")
    c = d.compliance
    if c.expected == 0:
        body(doc, f"{c.note or 'Không có kế hoạch nào quy định các cơ quan, đơn vị báo cáo định kỳ kỳ này'}.")
    else:
        due = f"trước ngày {vi.prose_date(c.deadline)}" if c.deadline else "chưa được quy định"
        if c.deadline and c.deadline_basis == "default":
            due += " (thời hạn mặc định do tỉnh cấu hình, kế hoạch không nêu ngày)"
        pending = f", {_count(c.pending)} chưa đến hạn" if c.pending else ""
        body(doc, f"Thời hạn gửi báo cáo {vi.period_label(d.period)}: {due}. Trong tổng số {_count(c.expected)} cơ "
             f"quan, đơn vị thực hiện chế độ báo cáo định kỳ: {_count(c.on_time)} gửi đúng hạn, {_count(c.late)} gửi "
             f"chậm, {_count(c.missing)} chưa gửi{pending}. Danh sách cơ quan, đơn vị gửi chậm hoặc chưa gửi tại "
             "Bảng 6.")
    _caption(doc, "Bảng 6. Cơ quan, đơn vị gửi báo cáo chậm hoặc chưa gửi")
    data_table(doc, ("TT", "Cơ quan, đơn vị", "Hạn gửi", "Ngày gửi", "Số ngày chậm", "Tình trạng"),
               (1.0, 5.8, 2.6, 2.6, 1.8, 2.2),
               [(str(i), x.agency, vi.vn_date(x.deadline), vi.vn_date(x.submitted_on),
                 str(x.days_late) if x.days_late is not None else "", vi.label(vi.REPORT_STATUS, x.status))
                for i, x in enumerate(d.late_or_missing, 1)], left=(1,),
               empty="Các cơ quan, đơn vị đều gửi báo cáo đúng hạn" if c.expected
               else "Không có cơ quan, đơn vị nào phải báo cáo định kỳ trong kỳ")


def _difficulties(doc: Document, d: ReportData) -> None:
    heading(doc, "II. KHÓ KHĂN, VƯỚNG MẮC VÀ KIẾN NGHỊ")
    heading(doc, "1. Khó khăn, vướng mắc")
    by = Counter(x.status for x in d.difficulties)
    handled = by["guidance_issued"] + by["decision_issued"]
    body(doc, f"Trong kỳ báo cáo, các cơ quan, đơn vị đã phản ánh {_count(len(d.difficulties))} khó khăn, vướng mắc "
         f"đến Sở Ngoại vụ; trong đó {_count(handled)} nội dung đã được hướng dẫn hoặc quyết định, "
         f"{_count(by['escalated'])} nội dung vượt thẩm quyền đã đề xuất UBND tỉnh, {_count(by['resolved'])} nội dung "
         f"đã giải quyết xong (Bảng 7).")
    _caption(doc, "Bảng 7. Khó khăn, vướng mắc")
    data_table(doc, ("TT", "Cơ quan, đơn vị", "Nội dung", "Ngày phản ánh", "Mức độ", "Thẩm quyền", "Tình trạng xử lý"),
               (1.0, 2.7, 3.6, 2.6, 1.7, 2.2, 2.2),
               [(str(i), x.agency, x.topic, vi.vn_date(x.raised_on), vi.label(vi.SEVERITY, x.severity),
                 "Vượt thẩm quyền Sở Ngoại vụ" if x.beyond_authority else "Thuộc thẩm quyền Sở Ngoại vụ",
                 vi.label(vi.DIFFICULTY_STATUS, x.status)) for i, x in enumerate(d.difficulties, 1)], left=(1, 2))
    heading(doc, "2. Cảnh báo, nhắc việc")
    body(doc, _warnings(d))
    _caption(doc, "Bảng 8. Cảnh báo, nhắc việc")
    data_table(doc, ("TT", "Nội dung", "Loại cảnh báo", "Cơ quan tiếp nhận", "Cấp", "Hạn xử lý", "Tình trạng"),
               (1.0, 6.2, 2.3, 2.2, 1.1, 2.4, 1.8),
               [(str(i), x.message, vi.label(vi.TRIGGERS, x.trigger), x.target, str(x.level), vi.vn_date(x.due_on),
                 vi.label(vi.ESCALATION_STATUS, x.status)) for i, x in enumerate(d.escalations, 1)], left=(1, 3))
    heading(doc, "3. Kiến nghị, đề xuất")
    for line in _proposals(d):
        body(doc, f"- {line}")


def _warnings(d: ReportData) -> str:
    """What was escalated, counted by the deadlines that fell in the period (not by the day a warning was sent);
    the period's own reports not sent are Bảng 6's, only counted here."""
    reports = (f"việc chậm gửi báo cáo {vi.period_label(d.period)} của {_count(d.report_warnings)} cơ quan, đơn vị "
               "tại Bảng 6" if d.report_warnings else "")
    if not d.escalations:
        if reports:
            return f"Ngoài {reports} đã được cảnh báo, trong kỳ báo cáo không phát sinh cảnh báo, nhắc việc khác."
        return "Trong kỳ báo cáo, không phát sinh cảnh báo, nhắc việc."
    return (f"Có {_count(len(d.escalations))} nội dung đến hạn trong kỳ báo cáo nhưng chưa được tiếp nhận, xử lý "
            "hoặc hoàn thành đúng hạn và đã được hệ thống cảnh báo, nhắc việc (Bảng 8)"
            + (f"; {reports} cũng đã được cảnh báo." if reports else "."))


def _proposals(d: ReportData) -> list[str]:
    out = [f"Đề nghị UBND tỉnh xem xét, quyết định đối với nội dung “{x.topic}” do {x.agency} phản ánh, "
           "vượt thẩm quyền của Sở Ngoại vụ." for x in d.difficulties
           if x.beyond_authority and x.status in ("raised", "acknowledged", "escalated")]
    if d.late_or_missing:
        out.append(f"Đề nghị UBND tỉnh chỉ đạo {_count(len(d.late_or_missing))} cơ quan, đơn vị gửi báo cáo chậm "
                   "hoặc chưa gửi báo cáo nghiêm túc thực hiện chế độ báo cáo định kỳ theo quy định.")
    overdue = sum(1 for t in d.tasks if t.status == "overdue")
    if overdue:
        out.append(f"Đề nghị UBND tỉnh chỉ đạo các cơ quan chủ trì đẩy nhanh tiến độ {_count(overdue)} nhiệm vụ "
                   "quá hạn.")
    return out or ["Không có kiến nghị."]


def _orientation(doc: Document, d: ReportData) -> None:
    heading(doc, f"III. PHƯƠNG HƯỚNG, NHIỆM VỤ {vi.next_period_label(d.period).upper()}")
    body(doc, f"Tiếp tục triển khai đồng bộ, hiệu quả các nhiệm vụ {d.scope} theo kế hoạch của UBND tỉnh; "
         "củng cố, tăng cường quan hệ hữu nghị, hợp tác với các địa phương, đối tác truyền thống; tăng cường công tác "
         "theo dõi, tổng hợp, phối hợp, trao đổi thông tin giữa các cơ quan, đơn vị theo Quyết định số 1109/QĐ-TTg "
         "của Thủ tướng Chính phủ; đôn đốc các cơ quan, đơn vị thực hiện nghiêm chế độ báo cáo định kỳ và kịp thời "
         "phản ánh khó khăn, vướng mắc về Sở Ngoại vụ để được hướng dẫn hoặc tổng hợp, đề xuất UBND tỉnh xem xét, "
         "quyết định.")
    body(doc, f"Trên đây là báo cáo {title_of(d)[0].lower()}{title_of(d)[1:]} của Sở Ngoại vụ tỉnh {d.province_name}, "
         "kính báo cáo UBND tỉnh xem xét, chỉ đạo./.", keep_with_next=True)


def _signature(doc: Document, d: ReportData) -> None:
    row = layout_table(doc, (TEXT_WIDTH_CM / 2, TEXT_WIDTH_CM / 2)).rows[0]
    keep_together(row)
    left, right = row.cells
    cell_line(left, "Nơi nhận:", first=True, size=12, bold=True, italic=True, align=LEFT, before=12)
    for line in RECIPIENTS:
        cell_line(left, f"- {line}", size=11, align=LEFT)
    cell_line(right, SIGNER_TITLE, first=True, size=14, bold=True, before=12)
    for _ in range(4):
        cell_line(right, "", size=14)
