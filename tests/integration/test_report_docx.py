"""`doingoai report` and GET /api/reports/consolidated.docx on the demo scenario: the Word report of
Hà Tĩnh 2021-H1 has the administrative header block and tables that match the read models."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import unicodedata
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import pytest

from schemas.reference import agencies
from services.names import vi_sorted
from services.reports import labels as vi
from services.reports.data import task_heading
from services.reports.text_width import words
from tests.support import System, demo_system

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
WINDOW = {"from": "2020-12-15", "to": "2021-06-14"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    with demo_system(tmp_path_factory.mktemp("report"), DOINGOAI_ESCALATIONS="false") as (system, _):
        yield system


@pytest.fixture(scope="module")
def report(demo: System, tmp_path_factory: pytest.TempPathFactory):
    """The report written by the command line, with the days before and after it ran (Việt Nam)."""
    out = tmp_path_factory.mktemp("out") / "r.docx"
    before = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    done = demo.cli("report", "--province", "ha-tinh", "--period", "2021-H1", "--out", str(out))
    after = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    assert done.returncode == 0, done.stderr
    return docx.Document(str(out)), {before, after}, json.loads(done.stdout)


def items(system: System, path: str, province: str = "ha-tinh", **params: str) -> list[dict]:
    r = system.get(path, province=province, **params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def in_window(rows: list[dict]) -> list[dict]:
    return [r for r in rows if WINDOW["from"] <= r["start_date"] <= WINDOW["to"]]


def table(doc, *first_headers: str) -> list[list[str]]:
    """The data rows (header row dropped) of the table whose header starts with `first_headers`."""
    for t in doc.tables:
        rows = [[c.text for c in row.cells] for row in t.rows]
        if tuple(rows[0][: len(first_headers)]) == first_headers:
            return [] if len(rows) == 2 and len(set(rows[1])) == 1 and rows[1][0].startswith("Không") else rows[1:]
    raise AssertionError(f"no table headed {first_headers}")


def d(iso: str | None) -> str:
    return vi.vn_date(date.fromisoformat(iso)) if iso else ""


def test_header_block_has_national_title_motto_issuing_body_number_date_and_title(report):
    doc, days, _ = report
    top, bottom = doc.tables[0].rows
    assert [p.text for p in top.cells[0].paragraphs if p.text] == ["UBND TỈNH HÀ TĨNH", "SỞ NGOẠI VỤ"]
    assert [p.text for p in top.cells[1].paragraphs if p.text] == ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                                                                  "Độc lập - Tự do - Hạnh phúc"]
    assert bottom.cells[0].text == "Số: …/BC-SNgV"
    assert bottom.cells[1].text in {vi.place_and_date("Hà Tĩnh", day) for day in days}
    texts = [p.text for p in doc.paragraphs]
    # Hà Tĩnh's plan of 2021 (53/KH-UBND) covers foreign affairs and international integration
    assert "BÁO CÁO" in texts and "Kết quả công tác đối ngoại và hội nhập quốc tế 6 tháng đầu năm 2021" in texts


def test_data_cutoff_is_the_decree_09_window_of_2021_h1(report):
    doc, _, summary = report
    assert "Thời gian chốt số liệu: từ ngày 15/12/2020 đến ngày 14/6/2021" in [p.text for p in doc.paragraphs]
    assert summary["window"] == ["2020-12-15", "2021-06-14"]


def test_delegation_rows_equal_the_read_models_delegations_in_the_window(demo, report):
    doc, _, _ = report
    expected = sorted(
        (("Đoàn vào" if kind == "delegation_in" else "Đoàn ra"), r["partner_name"], str(r["participants"]),
         f"{d(r['start_date'])} -\n{d(r['end_date'])}", r["title"])
        for kind in ("delegation_in", "delegation_out")
        for r in in_window(items(demo, "/api/activities", province="ha-tinh", kind=kind, **WINDOW)))
    rows = table(doc, "TT", "Đoàn", "Đối tác")
    got = sorted((r[1], r[2].rsplit(" (", 1)[0], r[4], r[5], r[6]) for r in rows)
    assert got == expected and len(got) == 2
    assert all(r[2].endswith("(Lào)") for r in rows)


def test_activity_agreement_and_aid_rows_equal_the_read_models(demo, report):
    doc, _, _ = report
    acts = in_window(items(demo, "/api/activities", province="ha-tinh", kind="activity", **WINDOW)
                     + items(demo, "/api/activities", province="ha-tinh", kind="conference", **WINDOW))
    assert sorted(r[1] for r in table(doc, "TT", "Tên hoạt động")) == sorted(a["title"] for a in acts)
    agreements = in_window(items(demo, "/api/activities", province="ha-tinh", kind="agreement", **WINDOW))
    assert [(r[1], r[4]) for r in table(doc, "TT", "Tên thỏa thuận")] == [
        (a["title"], d(a["start_date"])) for a in agreements]
    aid = in_window(items(demo, "/api/activities", province="ha-tinh", kind="aid", **WINDOW))
    assert [(r[1], r[3]) for r in table(doc, "TT", "Tên chương trình, dự án")] == [
        (a["title"], vi.money(a["amount"], a["currency"])) for a in aid]
    assert aid and table(doc, "TT", "Tên chương trình, dự án")[0][3] == "250.000 USD"


def test_late_and_missing_agencies_equal_the_compliance_read_model(demo, report):
    doc, _, _ = report
    compliance = items(demo, "/api/reports/compliance", province="ha-tinh", period="2021-H1")
    expected = {(c["agency_name"], d(c["deadline"]), d(c["submitted_on"]), vi.REPORT_STATUS[c["status"]])
                for c in compliance if c["status"] in ("late", "missing")}
    rows = table(doc, "TT", "Cơ quan, đơn vị", "Hạn gửi")
    assert {(r[1], r[2], r[3], r[5]) for r in rows} == expected
    assert len(rows) == len(expected) and {r[5] for r in rows} == {"Gửi chậm", "Chưa gửi"}


def test_task_and_difficulty_rows_equal_the_read_models_on_the_cutoff_day(demo, report):
    doc, _, _ = report
    tasks = items(demo, "/api/tasks", province="ha-tinh", date=WINDOW["to"])
    rows = table(doc, "TT", "Kế hoạch", "Nhiệm vụ")
    assert sorted((r[2], r[6]) for r in rows) == sorted(
        (f"{t['task_number']}. {task_heading(t['title'])}", vi.TASK_STATUS[t["status"]]) for t in tasks)
    difficulties = items(demo, "/api/difficulties", province="ha-tinh")
    assert [(r[2], r[6]) for r in table(doc, "TT", "Cơ quan, đơn vị", "Nội dung")] == [
        (x["topic"], vi.DIFFICULTY_STATUS[x["status"]]) for x in difficulties]
    assert table(doc, "TT", "Nội dung", "Loại cảnh báo") == []  # the escalation service is off here


def test_http_download_is_a_docx_of_the_same_report(demo, report):
    doc, _, _ = report
    r = demo.get("/api/reports/consolidated.docx", province="ha-tinh", period="2021-H1", timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == DOCX
    assert "bao-cao-doi-ngoai-nhan-dan-ha-tinh-2021-H1.docx" in r.headers["content-disposition"]
    downloaded = docx.Document(io.BytesIO(r.content))
    assert [p.text for p in downloaded.paragraphs] == [p.text for p in doc.paragraphs]
    assert len(downloaded.tables) == len(doc.tables)


def test_annual_report_and_a_chosen_date(demo, tmp_path: Path):
    out = tmp_path / "annual.docx"
    done = demo.cli("report", "--province", "ha-tinh", "--period", "2021", "--out", str(out), "--date", "2022-01-05")
    assert done.returncode == 0, done.stderr
    doc = docx.Document(str(out))
    assert doc.tables[0].rows[1].cells[1].text == "Hà Tĩnh, ngày 05 tháng 01 năm 2022"
    texts = [p.text for p in doc.paragraphs]
    assert "Kết quả công tác đối ngoại và hội nhập quốc tế năm 2021" in texts
    assert "Thời gian chốt số liệu: từ ngày 15/12/2020 đến ngày 14/12/2021" in texts


def test_bad_period_or_unknown_province_is_refused_with_exit_code_2_and_400_404(demo, tmp_path: Path):
    for province, period, says in (("ha-tinh", "2021-Q1", "period"), ("atlantis", "2021-H1", "unknown province")):
        done = demo.cli("report", "--province", province, "--period", period, "--out", str(tmp_path / "x.docx"))
        assert done.returncode == 2 and says in done.stderr
        assert not (tmp_path / "x.docx").exists()
    url = "/api/reports/consolidated.docx"
    assert demo.get(url, province="ha-tinh", period="2021-Q1").status_code == 400
    assert demo.get(url, province="atlantis", period="2021-H1").status_code == 404


@pytest.mark.parametrize(("province", "period"), [("ha-tinh", "2020"), ("kon-tum", "2021-H1"), ("kon-tum", "2021"),
                                                  ("ha-tinh", "2024")])
def test_where_no_plan_binds_the_units_the_report_says_so_and_asks_the_ubnd_to_direct_nobody(demo, province, period):
    r = demo.get("/api/reports/consolidated.docx", province=province, period=period, date="2025-01-05", timeout=60)
    assert r.status_code == 200, r.text
    doc = docx.Document(io.BytesIO(r.content))
    texts = [p.text for p in doc.paragraphs]
    assert any("không quy định các cơ quan, đơn vị báo cáo" in t for t in texts)
    assert not any("gửi báo cáo chậm hoặc chưa gửi báo cáo nghiêm túc" in t for t in texts)
    assert table(doc, "TT", "Cơ quan, đơn vị", "Hạn gửi") == []


def test_gia_lai_report_says_its_deadline_is_the_configured_default(demo):
    r = demo.get("/api/reports/consolidated.docx", province="gia-lai", period="2020-H1", timeout=60)
    assert r.status_code == 200, r.text
    texts = [p.text for p in docx.Document(io.BytesIO(r.content)).paragraphs]
    assert any("trước ngày 20/6/2020 (thời hạn mặc định do tỉnh cấu hình, kế hoạch không nêu ngày)" in t for t in texts)


def all_text(doc) -> str:
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def test_the_report_names_agencies_countries_and_plans_never_their_codes(demo: System, tmp_path: Path):
    """No agency slug of the province, and no plan slug, is in the text of the report of any province."""
    texts = {}
    for province, period in (("ha-tinh", "2021-H1"), ("gia-lai", "2020-H1"), ("kon-tum", "2021-H1"),
                             ("dong-nai", "2022")):
        out = tmp_path / f"{province}.docx"
        done = demo.cli("report", "--province", province, "--period", period, "--out", str(out))
        assert done.returncode == 0, done.stderr
        texts[province] = all_text(docx.Document(str(out)))
        slugs = {a.slug for a in agencies(province)} | {f"{province}-"}
        assert not [s for s in slugs if s in texts[province]], province
    assert "Kế hoạch năm 2020" in texts["gia-lai"]  # its plan's copy has no number: named by its year


def test_rendered_pages_break_no_word_and_list_agencies_in_vietnamese_order(report, tmp_path: Path):
    """LibreOffice renders the report (as Word would, with Times New Roman's metrics): every word of every
    table comes out whole on the pages; the pages are saved as test-artifacts/report-ha-tinh-2021-H1-*.png."""
    doc, _, summary = report
    soffice, pdftotext = shutil.which("soffice") or shutil.which("libreoffice"), shutil.which("pdftotext")
    if soffice is None or pdftotext is None:
        pytest.skip("LibreOffice and poppler-utils render the report (apt-get install libreoffice-writer-nogui "
                    "poppler-utils)")
    source = tmp_path / "r.docx"
    doc.save(str(source))
    done = subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/lo", "--headless", "--convert-to",
                           "pdf", "--outdir", str(tmp_path), str(source)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and (tmp_path / "r.pdf").exists(), done.stderr
    rendered = subprocess.run([pdftotext, "-raw", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                              check=True).stdout
    tokens = set(unicodedata.normalize("NFC", rendered).split())
    table_words = {w for t in doc.tables[1:-1] for row in t.rows for c in row.cells for w in words(c.text)}
    broken = sorted(w for w in table_words if len(w) > 1 and w not in tokens and w.rstrip("-") not in tokens)
    assert not broken, broken[:20]
    bang6 = table(doc, "TT", "Cơ quan, đơn vị", "Hạn gửi")
    names = [r[1] for r in bang6 if r[5] == "Chưa gửi"]
    assert names.index("UBND huyện Đức Thọ") < names.index("UBND huyện Vũ Quang") and names == vi_sorted(names)
    if shutil.which("pdftoppm"):
        ARTIFACTS.mkdir(exist_ok=True)
        subprocess.run(["pdftoppm", "-r", "70", "-png", str(tmp_path / "r.pdf"),
                        str(ARTIFACTS / f"report-ha-tinh-{summary['period']}")], check=True, timeout=120)
