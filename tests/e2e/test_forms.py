"""An official of a district types what the agency did: signed in, in headless Chromium, they record a
difficulty and a report with its PDF through the forms drawn from the event schemas, see a bad date
refused at its field first, and SNgV then finds both (and the file) through the API."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest
from playwright.async_api import Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.e2e.test_dashboard import ARTIFACTS, CHROMIUM, FLAGS
from tests.e2e.test_my_work import rows, signed_in
from tests.integration.test_people import add
from tests.support import System, new_system

pytestmark = pytest.mark.e2e
PASSWORD = "mật khẩu của Hùng 2021"
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n") + "Báo cáo công tác đối ngoại 6 tháng đầu năm 2021".encode()


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory):
    system = new_system(tmp_path_factory.mktemp("forms"), DOINGOAI_ESCALATIONS="false").start()
    try:
        added = system.cli("users", "add", "--province", "ha-tinh", "--agency", "ubnd-huyen-nghi-xuan",
                           "--username", "le.van.hung", "--name", "Lê Văn Hùng", "--title",
                           "Chuyên viên Phòng Nội vụ huyện Nghi Xuân", "--role", "specialist", "--password-stdin",
                           input=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        yield system
    finally:
        system.stop()


def _sngv(system: System, path: str, **params: str) -> httpx.Response:
    token = system.credentials("ha-tinh", "so-ngoai-vu")["token"]
    return httpx.get(f"{system.http}{path}", params=params, headers={"authorization": f"Bearer {token}"}, timeout=30)


def _until(check, seconds: float = 30):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "not found in time"
        time.sleep(0.3)
    return found


async def _recorded(page: Page, errors: list[str]) -> None:
    """Wait for the form's answer: recorded, or (failing) what the form says instead."""
    try:
        await page.wait_for_selector(".form-message.ok", timeout=30_000)
    except PlaywrightTimeout:
        await page.screenshot(path="/tmp/forms-debug.png", full_page=True)
        raise AssertionError(f"{await page.text_content('#form-host')} {errors}") from None


async def test_a_district_official_records_a_difficulty_and_a_report_with_its_file(district: System, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    report_file = tmp_path / "Báo cáo 6 tháng đầu năm 2021.pdf"
    report_file.write_bytes(PDF)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await browser.new_page(viewport={"width": 1300, "height": 1100})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text)  # the refused answers (401 before sign-in, 422) are expected
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        await page.goto(f"{district.http}/?province=ha-tinh#ghi-nhan")
        await page.wait_for_url("**/login?next=*")
        await page.fill("#username", "le.van.hung")
        await page.fill("#password", PASSWORD)
        await page.click("#sign-in button[type=submit]")
        await page.wait_for_selector("body[data-loaded='ghi-nhan']", timeout=20_000)
        offered = await page.eval_on_selector_all("#form-type option", "os => os.map(o => o.value)")
        assert {"difficulty_raised", "report_submitted", "activity_held", "delegation_received"} <= set(offered)
        assert not {"decision_issued", "difficulty_acknowledged", "report_accepted"} & set(offered)  # not its word

        await page.select_option("#form-type", "difficulty_raised")
        form = "#form-difficulty_raised"
        await page.wait_for_selector(f"{form} .field[data-path='data.topic'] input")
        assert "Chủ đề" in (await page.text_content(f"{form} .field[data-path='data.topic']") or "")
        await page.fill(f"{form} .field[data-path='data.topic'] input", "Thủ tục cho phép hội thảo quốc tế cấp huyện")
        await page.fill(f"{form} .field[data-path='data.description'] textarea",
                        "Chưa rõ thẩm quyền cho phép hội thảo có đại biểu Lào do huyện tổ chức")
        await page.select_option(f"{form} .field[data-path='data.severity'] select", label="Cao")
        await page.check(f"{form} .field[data-path='data.beyond_authority'] input")
        await page.click(f"{form} button[type=submit]")
        await _recorded(page, errors)
        await page.screenshot(path=str(ARTIFACTS / "forms-difficulty.png"), full_page=True)

        await page.select_option("#form-type", "report_submitted")
        form = "#form-report_submitted"
        await page.wait_for_selector(f"{form} .field[data-path='data.period'] input")
        await page.select_option(f"{form} .field[data-path='data.report_kind'] select", label="Báo cáo 6 tháng")
        await page.fill(f"{form} .field[data-path='data.period'] input", "2021-H1")
        await page.fill(f"{form} .field[data-path='data.title'] input", "Báo cáo công tác đối ngoại 6 tháng năm 2021")
        await page.fill(f"{form} .field[data-path='data.submitted_on'] input", "31/02/2021")  # no such day
        await page.set_input_files(f"{form} .field[data-path='data.attachments'] input[type=file]", str(report_file))
        await page.click(f"{form} button[type=submit]")
        error = await page.wait_for_selector(f"{form} .field[data-path='data.submitted_on'] p.field-error",
                                             timeout=30_000)
        assert "Ngày không hợp lệ" in (await error.text_content() or "")
        assert await page.locator(f"{form} .field.invalid").count() == 1  # only the bad field is marked
        await page.screenshot(path=str(ARTIFACTS / "forms-errors.png"), full_page=True)

        await page.fill(f"{form} .field[data-path='data.submitted_on'] input", "20/05/2021")
        await page.click(f"{form} button[type=submit]")
        await _recorded(page, errors)
        await page.screenshot(path=str(ARTIFACTS / "forms-report.png"), full_page=True)
        report_id = await page.get_attribute("#form-host", "data-recorded")
        assert not errors, errors
        await browser.close()

    difficulty = _until(lambda: [d for d in _sngv(district, "/api/difficulties", province="ha-tinh").json()["items"]
                                 if d["agency"] == "ubnd-huyen-nghi-xuan"])[0]
    assert difficulty["topic"] == "Thủ tục cho phép hội thảo quốc tế cấp huyện" and difficulty["severity"] == "high"
    assert difficulty["beyond_authority"] is True and difficulty["status"] == "raised"
    report = _until(lambda: _sngv(district, "/api/reports", province="ha-tinh", agency="ubnd-huyen-nghi-xuan")
                    .json()["items"])[0]
    assert report["period"] == "2021-H1" and report["submitted_on"] == "2021-05-20"
    event = _sngv(district, f"/api/events/{report_id}").json()["event"]
    assert event["actor"] == "Lê Văn Hùng (le.van.hung)"
    sha = hashlib.sha256(PDF).hexdigest()
    assert event["data"]["attachments"][0]["sha256"] == sha
    assert event["data"]["attachments"][0]["name"] == "Báo cáo 6 tháng đầu năm 2021.pdf"
    got = _sngv(district, f"/api/attachments/{sha}")
    assert got.status_code == 200 and got.content == PDF

    # the receiving agency: a specialist of Sở Ngoại vụ signs in and finds both in "Việc cần làm"
    specialist = add(district, "so-ngoai-vu", "specialist", "Đỗ Thị Mai", "Chuyên viên Sở Ngoại vụ")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await signed_in(browser, district, specialist)
        assert await page.get_attribute("body", "data-loaded") == "viec-can-lam"
        titles = [r[2] for r in await rows(page)]
        await page.screenshot(path=str(ARTIFACTS / "forms-received-my-work.png"), full_page=True)
        await browser.close()
    assert any(t.startswith("Tiếp nhận khó khăn “Thủ tục cho phép hội thảo quốc tế cấp huyện” của UBND huyện Nghi "
                            "Xuân") for t in titles), titles
    assert any("Báo cáo công tác đối ngoại 6 tháng năm 2021" in t and "UBND huyện Nghi Xuân" in t
               for t in titles), titles
