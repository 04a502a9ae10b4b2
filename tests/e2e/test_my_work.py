""""Việc cần làm" in headless Chromium: an official signs in and the dashboard opens on what waits on
their agency, dated dd/mm/yyyy in Việt Nam's time and named in Vietnamese; a specialist and a leader
of Sở Ngoại vụ each see the escalations of their own level, and the specialist acknowledges one."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, async_playwright

from schemas.reference import agencies
from tests.e2e.test_dashboard import ARTIFACTS, BROWSER_ZONE, CHROMIUM, FLAGS
from tests.integration.test_people import PASSWORD, add
from tests.integration.test_roles import levels, publish_as_system
from tests.support import System, demo_system

pytestmark = pytest.mark.e2e
DAY = re.compile(r"^\d{2}/\d{2}/\d{4}( \d{2}:\d{2})?$")


@pytest.fixture(scope="module")
async def working(tmp_path_factory: pytest.TempPathFactory):
    """The demo, and the three levels of an escalation about Sở Tư pháp's late report."""
    with demo_system(tmp_path_factory.mktemp("my-work"), DOINGOAI_ESCALATIONS="false") as (system, _):
        system.wait_projected(await publish_as_system(system, *levels("report/ha-tinh-so-tu-phap-2021-H1")))
        yield system


async def signed_in(browser: Browser, system: System, username: str) -> Page:
    """A page of a fresh browser context (no token, no cookie) signed in as `username`, on the dashboard."""
    context = await browser.new_context(viewport={"width": 1300, "height": 1000}, timezone_id=BROWSER_ZONE,
                                        locale="en-US")
    page = await context.new_page()
    await page.goto(f"{system.http}/?province=ha-tinh")
    await page.wait_for_url("**/login?next=*")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in button[type=submit]")
    await page.wait_for_selector("body[data-loaded]", timeout=20_000)
    return page


async def rows(page: Page) -> list[list[str]]:
    return await page.eval_on_selector_all(
        "#work tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent.trim()))")


async def test_an_official_signs_in_and_the_dashboard_opens_on_their_work(working: System):
    username = add(working, "so-tu-phap", "specialist", "Phan Văn Tâm", "Chuyên viên Sở Tư pháp")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await signed_in(browser, working, username)
        assert await page.get_attribute("body", "data-loaded") == "viec-can-lam"  # the default for a person
        assert await page.get_attribute("nav a.active", "data-tab") == "viec-can-lam"
        found = await rows(page)
        assert len(found) >= 3, found
        kinds = {r[1] for r in found}
        assert {"Thông tin cần xác nhận", "Báo cáo", "Nhiệm vụ"} <= kinds, kinds
        assert all(DAY.match(r[0]) or r[0] == "Không có hạn" for r in found), found
        info = next(r for r in found if r[1] == "Thông tin cần xác nhận")
        assert info[0] == "10/04/2021" and "của Sở Ngoại vụ" in info[2]  # respond_by, in Việt Nam's day
        report = next(r for r in found if r[1] == "Báo cáo")
        assert "Kế hoạch số 53/KH-UBND" in report[2] and report[3] == "Quá hạn, chưa gửi"
        text = await page.text_content("#viec-can-lam") or ""
        assert "Phan Văn Tâm (chuyên viên) — Sở Tư pháp" in text
        assert not [a.slug for a in agencies("ha-tinh") if a.slug in text]  # names, never codes
        await page.screenshot(path=str(ARTIFACTS / "my-work.png"), full_page=True)
        await page.click("#work tbody tr:has-text('Báo cáo') a")
        await page.wait_for_selector("body[data-loaded='bao-cao']", timeout=20_000)  # the item's link
        await browser.close()


async def test_a_leader_and_a_specialist_of_sngv_see_their_own_escalations(working: System):
    specialist = add(working, "so-ngoai-vu", "specialist", "Nguyễn Thị Hoa", "Chuyên viên Sở Ngoại vụ")
    leader = add(working, "so-ngoai-vu", "leader", "Hoàng Minh Đức", "Giám đốc Sở Ngoại vụ")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        seen = {}
        for username, shot in ((leader, "inbox-leader.png"), (specialist, "inbox-specialist.png")):
            page = await signed_in(browser, working, username)
            assert await page.get_attribute("body", "data-loaded") == "viec-can-lam"
            seen[username] = [r for r in await rows(page) if r[1] == "Cảnh báo"]
            assert await page.text_content(".card[data-kind='escalation'] .value") == str(len(seen[username]))
            await page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
        assert [r[2].split(":")[0] for r in seen[specialist]] == ["Cảnh báo cấp 1"]
        assert [r[2].split(":")[0] for r in seen[leader]] == ["Cảnh báo cấp 2"]
        assert seen[leader][0][0] == "28/05/2021 17:00"  # its acknowledgement deadline, Việt Nam's wall clock

        await page.click("#work button.work-ack")  # the specialist's page: acknowledge level 1
        await page.wait_for_selector("#work-message:has-text('Đã gửi xác nhận')")
        await page.wait_for_selector("#work button.work-ack", state="detached", timeout=20_000)  # not open now
        assert await page.text_content(".card[data-kind='escalation'] .value") == "0"
        await browser.close()
