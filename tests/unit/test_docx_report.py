"""The consolidated report rendered from a ReportData built here (no database), reopened with python-docx."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import docx
import pytest
from docx.oxml.ns import qn
from docx.shared import Pt

from services.queries.compliance import Compliance
from services.reports import labels as vi
from services.reports import model as m
from services.reports.data import (
    compliance_lines,
    escalation_lines,
    natural,
    report_scope,
    report_warnings,
    task_heading,
    task_lines,
)
from services.reports.docx_layout import CELL_MARGIN_CM, TABLE_PT, TEXT_WIDTH_CM, fit_columns, table_columns
from services.reports.docx_report import render, to_bytes
from services.reports.text_width import longest_word_cm

pytestmark = pytest.mark.unit


def sample(**overrides: object) -> m.ReportData:
    data = m.ReportData(
        province="ha-tinh", province_name="Hà Tĩnh", period="2021-H1",
        window_start=date(2020, 12, 15), window_end=date(2021, 6, 14), report_date=date(2021, 6, 18),
        as_of=date(2021, 6, 14),
        plans=(m.PlanRef("53/KH-UBND", date(2021, 2, 26), "Hoạt động đối ngoại và hội nhập quốc tế năm 2021"),),
        activities=(m.ActivityLine("Giao lưu hữu nghị nhân dân Hà Tĩnh - Bolykhamxay", "friendship_exchange",
                                   date(2021, 3, 26), date(2021, 3, 26), "Tỉnh Bolykhămxay (Lào)", "Sở Ngoại vụ",
                                   150, "held"),),
        delegations=(
            m.DelegationLine("in", "Tỉnh Bolykhămxay (Lào)", "Lào", "Phó Tỉnh trưởng", 15, date(2021, 3, 22),
                             date(2021, 3, 24), "Hội đàm hợp tác năm 2021", "Sở Ngoại vụ"),
            m.DelegationLine("out", "Tỉnh Khăm Muộn (Lào)", "Lào", "Phó Chủ tịch UBND tỉnh", 10, date(2021, 4, 12),
                             date(2021, 4, 15), "Ký kết biên bản hợp tác", "Sở Ngoại vụ"),
        ),
        aid=(m.AidLine("Dự án hỗ trợ nông nghiệp bền vững", "IPM (Nhật Bản)", Decimal("250000"), "USD",
                       "agriculture", "Sở Nông nghiệp và Phát triển nông thôn", date(2021, 5, 1)),),
        compliance=m.ComplianceSummary(date(2021, 5, 25), 20, 6, 1, 13, 0),
        late_or_missing=(m.ComplianceLine("Sở Y tế", date(2021, 5, 25), date(2021, 5, 28), 3, "late"),
                         m.ComplianceLine("Sở Tư pháp", date(2021, 5, 25), None, None, "missing")),
        difficulties=(m.DifficultyLine("UBND huyện Hương Sơn", "Quản lý cư dân qua lại biên giới", date(2021, 5, 14),
                                       "high", True, "escalated"),),
    )
    return m.ReportData(**{**data.__dict__, **overrides})  # type: ignore[arg-type]


def reopen(data: m.ReportData) -> docx.document.Document:
    return docx.Document(io.BytesIO(to_bytes(data)))


def table_with(doc: docx.document.Document, first_headers: tuple[str, ...]) -> list[list[str]]:
    for table in doc.tables:
        rows = [[c.text for c in row.cells] for row in table.rows]
        if tuple(rows[0][: len(first_headers)]) == first_headers:
            return rows
    raise AssertionError(f"no table headed {first_headers}")


def test_header_block_has_issuing_body_national_title_number_and_place_date():
    """The first table is the borderless header block of Decree 30/2020: UBND TỈNH HÀ TĨNH / SỞ NGOẠI VỤ
    (bold) with the number, national title and motto (bold) with the place and date (italic)."""
    doc = reopen(sample())
    header = doc.tables[0]
    left, right = header.rows[0].cells
    assert [p.text for p in left.paragraphs if p.text] == ["UBND TỈNH HÀ TĨNH", "SỞ NGOẠI VỤ"]
    assert [p.text for p in right.paragraphs if p.text] == ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                                                              "Độc lập - Tự do - Hạnh phúc"]
    assert all(r.bold for p in right.paragraphs for r in p.runs if r.text)
    assert left.paragraphs[1].runs[0].bold
    number, place_date = header.rows[1].cells
    assert number.text == "Số: …/BC-SNgV"
    assert place_date.text == "Hà Tĩnh, ngày 18 tháng 6 năm 2021"
    assert place_date.paragraphs[0].runs[0].italic
    assert "w:tblBorders" in header._tbl.xml and 'w:val="nil"' in header._tbl.xml


def test_title_and_data_cutoff_follow_the_header():
    texts = [p.text for p in reopen(sample()).paragraphs]
    assert "BÁO CÁO" in texts
    assert "Kết quả công tác đối ngoại nhân dân 6 tháng đầu năm 2021" in texts
    assert "Thời gian chốt số liệu: từ ngày 15/12/2020 đến ngày 14/6/2021" in texts
    annual = [p.text for p in reopen(sample(period="2021", window_end=date(2021, 12, 14))).paragraphs]
    assert "Kết quả công tác đối ngoại nhân dân năm 2021" in annual
    assert "III. PHƯƠNG HƯỚNG, NHIỆM VỤ NĂM 2022" in annual


def test_sections_follow_the_plans_structure():
    texts = [p.text for p in reopen(sample()).paragraphs]
    expected = ["I. KẾT QUẢ THỰC HIỆN", "1. Hoạt động đối ngoại nhân dân", "2. Đoàn ra, đoàn vào",
                "3. Thỏa thuận quốc tế", "4. Viện trợ phi chính phủ nước ngoài",
                "5. Tình hình thực hiện nhiệm vụ kế hoạch", "6. Chế độ báo cáo", "II. KHÓ KHĂN, VƯỚNG MẮC VÀ KIẾN NGHỊ",
                "III. PHƯƠNG HƯỚNG, NHIỆM VỤ 6 THÁNG CUỐI NĂM 2021"]
    positions = [texts.index(h) for h in expected]
    assert positions == sorted(positions)


def test_delegation_table_has_one_row_per_delegation_with_dd_mm_yyyy_dates():
    rows = table_with(reopen(sample()), ("TT", "Đoàn", "Đối tác"))
    assert rows[1] == ["1", "Đoàn vào", "Tỉnh Bolykhămxay (Lào)", "Phó Tỉnh trưởng", "15", "22/03/2021 -\n24/03/2021",
                       "Hội đàm hợp tác năm 2021"]
    assert [r[1] for r in rows[1:]] == ["Đoàn vào", "Đoàn ra"]


def test_late_and_missing_agencies_table_and_an_empty_table_says_nothing_happened():
    doc = reopen(sample())
    rows = table_with(doc, ("TT", "Cơ quan, đơn vị", "Hạn gửi"))
    assert rows[1:] == [["1", "Sở Y tế", "25/05/2021", "28/05/2021", "3", "Gửi chậm"],
                        ["2", "Sở Tư pháp", "25/05/2021", "", "", "Chưa gửi"]]
    agreements = table_with(doc, ("TT", "Tên thỏa thuận"))
    assert len(agreements) == 2 and set(agreements[1]) == {"Không phát sinh trong kỳ báo cáo"}


def test_aid_amount_is_written_with_vietnamese_digit_grouping():
    rows = table_with(reopen(sample()), ("TT", "Tên chương trình, dự án"))
    assert rows[1][3] == "250.000 USD"
    assert vi.number(Decimal("1234.50")) == "1.234,5"


def test_page_is_a4_with_decree_margins_and_times_new_roman():
    doc = reopen(sample())
    s = doc.sections[0]
    assert (round(s.page_width.cm, 1), round(s.page_height.cm, 1)) == (21.0, 29.7)
    cm = {k: round(getattr(s, f"{k}_margin").cm, 2) for k in ("top", "bottom", "left", "right")}
    assert 2.0 <= cm["top"] <= 2.5 and 2.0 <= cm["bottom"] <= 2.5
    assert 3.0 <= cm["left"] <= 3.5 and 1.5 <= cm["right"] <= 2.0
    assert doc.styles["Normal"].font.name == "Times New Roman"
    runs = [r for p in doc.paragraphs for r in p.runs if r.text]
    assert all(r.font.name == "Times New Roman" for r in runs)
    assert all(Pt(13) <= r.font.size <= Pt(14) for r in runs)


def test_ends_with_recipients_and_signer():
    doc = reopen(sample())
    recipients, signer = doc.tables[-1].rows[0].cells
    assert recipients.paragraphs[0].text == "Nơi nhận:"
    assert "- UBND tỉnh (để báo cáo);" in recipients.text and "- Lưu: VT." in recipients.text
    assert signer.paragraphs[0].text == "GIÁM ĐỐC"
    assert any(p.text.endswith("kính báo cáo UBND tỉnh xem xét, chỉ đạo./.") for p in doc.paragraphs)


def test_proposals_name_the_difficulty_beyond_authority_and_the_late_agencies():
    texts = [p.text for p in render(sample()).paragraphs]
    assert any("Quản lý cư dân qua lại biên giới" in t and t.startswith("- Đề nghị UBND tỉnh") for t in texts)
    assert any("02 cơ quan, đơn vị gửi báo cáo chậm" in t for t in texts)


def test_date_line_pads_days_below_10_and_months_1_and_2():
    assert vi.place_and_date("Kon Tum", date(2021, 2, 5)) == "Kon Tum, ngày 05 tháng 02 năm 2021"
    assert vi.place_and_date("Kon Tum", date(2021, 12, 25)) == "Kon Tum, ngày 25 tháng 12 năm 2021"


def test_tasks_are_judged_on_the_cutoff_day_and_sorted_by_number():
    """A task due after the window's last day is not overdue in the report; one completed before the
    window began is left out; II.10 comes after II.9."""
    row = {"plan_issued_on": date(2021, 2, 26), "plan_id": "p", "plan_number": "53/KH-UBND", "title": "t",
           "timeframe": "Năm 2021",
           "lead_agencies": ["so-ngoai-vu"], "due_date": date(2021, 12, 31), "progress_percent": None,
           "status": "assigned", "completed_on": None}
    rows = [{**row, "task_number": "II.10"}, {**row, "task_number": "II.9", "due_date": date(2021, 5, 1)},
            {**row, "task_number": "I.1", "status": "completed", "completed_on": date(2020, 1, 1)}]
    lines = task_lines(rows, {"so-ngoai-vu": "Sở Ngoại vụ"}, date(2020, 12, 15), date(2021, 6, 14),
                       date(2021, 6, 14))
    assert [(t.number, t.status, t.lead_agencies) for t in lines] == [
        ("II.9", "overdue", "Sở Ngoại vụ"), ("II.10", "assigned", "Sở Ngoại vụ")]
    assert natural("IV.2") > natural("III.10")


def test_escalations_keep_the_highest_level_of_each_cause_in_the_period():
    base = {"trigger": "task_overdue", "cause_subject": "task/ha-tinh-53-2021-III.1", "period": None,
            "due_at": datetime(2021, 5, 25, 16, 59, 59, tzinfo=UTC), "raised_at": datetime(2025, 1, 1, tzinfo=UTC),
            "target_agency": "so-ngoai-vu", "responsible_agency": "so-ngoai-vu", "message": "Nhiệm vụ III.1 quá hạn",
            "status": "open"}
    rows = [{**base, "level": 1}, {**base, "level": 2, "target_agency": "ubnd-tinh"},
            {**base, "level": 3, "due_at": datetime(2020, 5, 25, tzinfo=UTC)}]
    lines = escalation_lines(rows, {"ubnd-tinh": "Ủy ban nhân dân tỉnh"}, "2021-H1", date(2020, 12, 15),
                             date(2021, 6, 14))
    assert [(e.level, e.target, e.due_on) for e in lines] == [(2, "Ủy ban nhân dân tỉnh", date(2021, 5, 25))]


def test_escalations_are_one_line_per_agency_dated_by_their_cause_and_leave_the_reports_to_table_6():
    """Two recipients of one piece of information are two lines; a warning raised years later counts in the
    period of its deadline; the period's own missing reports are Bảng 6's (counted, not repeated)."""
    info = {"trigger": "information_unacknowledged", "cause_subject": "information/q1", "period": None, "level": 1,
            "due_at": datetime(2021, 4, 10, 16, 59, 59, tzinfo=UTC), "raised_at": datetime(2026, 12, 7, tzinfo=UTC),
            "target_agency": "so-ngoai-vu", "status": "open"}
    report = {**info, "trigger": "report_missing", "period": "2021-H1", "due_at": datetime(2021, 5, 25, tzinfo=UTC)}
    rows = [{**info, "responsible_agency": "so-noi-vu", "message": "Sở Nội vụ chưa xác nhận"},
            {**info, "responsible_agency": "cong-an-tinh", "message": "Công an tỉnh chưa xác nhận"},
            {**report, "cause_subject": "report/ha-tinh-so-y-te-2021-H1", "responsible_agency": "so-y-te",
             "message": "Sở Y tế chưa gửi báo cáo"},
            {**report, "cause_subject": "report/ha-tinh-thanh-tra-tinh-2021-H1", "responsible_agency": "thanh-tra-tinh",
             "message": "Thanh tra tỉnh chưa gửi báo cáo"}]
    names = {"so-noi-vu": "Sở Nội vụ", "cong-an-tinh": "Công an tỉnh", "so-ngoai-vu": "Sở Ngoại vụ"}
    lines = escalation_lines(rows, names, "2021-H1", date(2020, 12, 15), date(2021, 6, 14))
    assert [(e.message, e.due_on) for e in lines] == [("Công an tỉnh chưa xác nhận", date(2021, 4, 10)),
                                                      ("Sở Nội vụ chưa xác nhận", date(2021, 4, 10))]
    listed = {"so-y-te", "thanh-tra-tinh", "so-tu-phap"}  # Bảng 6: a warning closed by a report sent since is not
    assert report_warnings(rows, "2021-H1", listed) == 2 and report_warnings(rows, "2021", listed) == 0
    assert report_warnings(rows, "2021-H1", {"so-y-te"}) == 1
    texts = [p.text for p in reopen(sample(escalations=tuple(lines), report_warnings=2)).paragraphs]
    assert any(t.startswith("Có 02 nội dung đến hạn trong kỳ báo cáo") and "02 cơ quan, đơn vị tại Bảng 6" in t
               for t in texts)
    assert not any("phát sinh 02 cảnh báo" in t for t in texts)
    alone = [p.text for p in reopen(sample(report_warnings=2)).paragraphs]
    assert any(t.startswith("Ngoài việc chậm gửi báo cáo 6 tháng đầu năm 2021 của 02 cơ quan") for t in alone)


def test_task_table_names_a_task_by_its_heading_and_shows_the_timeframe_without_a_due_date():
    assert task_heading("Xây dựng các Chương trình, Kế hoạch phối hợp: kiến nghị; hướng dẫn; tập huấn") == (
        "Xây dựng các Chương trình, Kế hoạch phối hợp")
    assert task_heading("Bước 1: rà soát") == "Bước 1: rà soát"
    task = m.TaskLine("365/KH-UBND", "II.1", "Tuyên truyền", "Sở Ngoại vụ", None, "Hàng năm", None, "assigned")
    rows = table_with(reopen(sample(tasks=(task,))), ("TT", "Kế hoạch", "Nhiệm vụ"))
    assert rows[1] == ["1", "365/KH-UBND", "II.1. Tuyên truyền", "Sở Ngoại vụ", "Hàng năm", "", "Chưa báo cáo tiến độ"]


def test_late_and_missing_agencies_are_in_vietnamese_order():
    """'UBND huyện Đức Thọ' before 'UBND huyện Vũ Quang' (Đ after D, not after Z) and 'Ủy ban MTTQ tỉnh'
    among the U's, not after them."""
    names = ["Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh", "UBND huyện Vũ Quang", "Văn phòng Ủy ban nhân dân tỉnh",
             "UBND huyện Đức Thọ", "Sở Y tế", "UBND huyện Can Lộc", "Bộ Chỉ huy Quân sự tỉnh"]
    rows = [Compliance(f"a{i}", n, "2021-H1", date(2021, 5, 25), "missing", None, None, None)
            for i, n in enumerate(names)]
    _, lines = compliance_lines(rows)
    assert [x.agency for x in lines] == ["Bộ Chỉ huy Quân sự tỉnh", "Sở Y tế", "UBND huyện Can Lộc",
                                         "UBND huyện Đức Thọ", "UBND huyện Vũ Quang",
                                         "Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh", "Văn phòng Ủy ban nhân dân tỉnh"]


def test_the_title_follows_the_scope_of_the_plans_of_the_year():
    plans = [{"plan_id": "ha-tinh-365-2019", "issued_on": date(2019, 10, 25)},
             {"plan_id": "ha-tinh-53-2021", "issued_on": date(2021, 2, 26)}]
    assert report_scope(plans, 2021) == "đối ngoại và hội nhập quốc tế"
    assert report_scope(plans, 2022) == report_scope(plans[:1], 2019) == "đối ngoại nhân dân"
    texts = [p.text for p in reopen(sample(scope="đối ngoại và hội nhập quốc tế")).paragraphs]
    assert "Kết quả công tác đối ngoại và hội nhập quốc tế 6 tháng đầu năm 2021" in texts
    assert any(t.startswith("Trên đây là báo cáo kết quả công tác đối ngoại và hội nhập quốc tế") for t in texts)


def cell_width_cm(cell) -> float:
    return int(cell._tc.tcPr.find(qn("w:tcW")).get(qn("w:w"))) / 567


def test_every_word_of_every_table_fits_its_column():
    """Columns are at least as wide as their longest word (measured in Times New Roman), so Word and
    LibreOffice never break a word between letters ("ngườ/i", "Mecklenb/urg"); the tables are as wide as
    the text and keep 13 pt where that is possible."""
    long_partner = "Bang Mecklenburg - Vorpommern (Đức)"
    data = sample(activities=(m.ActivityLine("Hội nghị xúc tiến đầu tư với Mecklenburg-Vorpommern",
                                             "investment_promotion", date(2021, 5, 10), None, long_partner,
                                             "Sở Kế hoạch và Đầu tư", 80, "held"),),
                  escalations=(m.EscalationLine("information_unacknowledged", "Sở Nội vụ chưa xác nhận", "Sở Ngoại vụ",
                                                1, date(2021, 4, 10), "open"),))
    doc = reopen(data)
    checked = 0
    for table in doc.tables[1:-1]:  # the data tables, between the header and the signature blocks
        grid = [int(c.get(qn("w:w"))) / 567 for c in table._tbl.tblGrid.findall(qn("w:gridCol"))]
        assert abs(sum(grid) - TEXT_WIDTH_CM) < 0.05
        for row in table.rows:
            if len(row.cells) != len(grid) or len({id(c._tc) for c in row.cells}) != len(grid):
                continue  # the merged "nothing happened" row
            for cell in row.cells:
                bold = any(r.bold for p in cell.paragraphs for r in p.runs)
                size = max(r.font.size.pt for p in cell.paragraphs for r in p.runs) if cell.text else TABLE_PT
                need = longest_word_cm(cell.text, size, bold) + 2 * CELL_MARGIN_CM
                assert need <= cell_width_cm(cell) + 1e-6, (cell.text, need, cell_width_cm(cell))
                checked += 1
    assert checked > 60
    sizes = {r.font.size.pt for t in doc.tables[1:-1] for row in t.rows for c in row.cells for p in c.paragraphs
             for r in p.runs}
    assert sizes == {TABLE_PT}
    assert longest_word_cm("người", 13, bold=True) > 1.0  # the header word once split in a 1.4 cm column


def test_columns_give_way_to_long_words_and_keep_their_proportions_otherwise():
    assert fit_columns([1, 1], [0.5, 0.5], 10) == [5, 5]
    assert fit_columns([1, 3], [4, 1], 10) == [4, 6]
    assert fit_columns([1, 1], [6, 6], 10) is None
    widths, size = table_columns(("Tên", "Đối tác"), (3, 1), [("Hội đàm", "Bolykhămxay/Khammouane 2021")])
    need = longest_word_cm("Bolykhămxay/Khammouane", TABLE_PT) + 2 * CELL_MARGIN_CM
    assert size == TABLE_PT and widths[1] >= need > TEXT_WIDTH_CM / 4 and sum(widths) == pytest.approx(TEXT_WIDTH_CM)
    widths, size = table_columns(("TT", "X"), (1, 1), [("1", "W" * 60)])  # no width holds it: smallest size
    assert size == 11 and sum(widths) == pytest.approx(TEXT_WIDTH_CM)
