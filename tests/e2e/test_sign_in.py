"""An official signs in through the Vietnamese sign-in page in headless Chromium, sees the dashboard
as themselves, and signs out; an unsigned visitor is sent to the sign-in page."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

from tests.e2e.test_dashboard import ARTIFACTS, CHROMIUM, FLAGS
from tests.support import System, demo_system

pytestmark = pytest.mark.e2e
PASSWORD = "mật khẩu của Bình 2021"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory):
    with demo_system(tmp_path_factory.mktemp("sign-in"), DOINGOAI_ESCALATIONS="false") as (system, _):
        added = system.cli("users", "add", "--province", "ha-tinh", "--agency", "so-ngoai-vu", "--username",
                           "tran.thi.binh", "--name", "Trần Thị Bình", "--title", "Phó Giám đốc Sở Ngoại vụ",
                           "--role", "leader", "--password-stdin", input=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        yield system


async def test_an_official_signs_in_through_the_page_sees_the_dashboard_and_signs_out(signed: System):
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await browser.new_page(viewport={"width": 1300, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)

        await page.goto(f"{signed.http}/?province=ha-tinh&period=2021-H1#nhiem-vu")
        await page.wait_for_url("**/login?next=*")  # no token in this browser, no session: sign in first
        await page.fill("#username", "tran.thi.binh")
        await page.fill("#password", "sai mật khẩu")
        await page.click("button[type=submit]")
        await page.wait_for_selector("#message:has-text('không đúng')")
        assert await page.input_value("#username") == "tran.thi.binh"  # typed once
        await page.fill("#password", PASSWORD)
        await page.screenshot(path=str(ARTIFACTS / "sign-in-page.png"))
        await page.click("#sign-in button[type=submit]")
        await page.wait_for_selector("body[data-loaded='nhiem-vu']", timeout=20_000)  # back where it was going
        assert "Trần Thị Bình" in (await page.text_content("#account") or "")
        assert await page.eval_on_selector_all("#tasks tbody tr", "rs => rs.length") >= 1
        await page.click("nav a[data-tab='tong-quan']")
        await page.wait_for_selector("body[data-loaded='tong-quan']", timeout=20_000)
        assert await page.text_content(".card[data-key='activities_held'] .value") not in (None, "", "0")
        await page.screenshot(path=str(ARTIFACTS / "sign-in.png"), full_page=True)
        cookies = {c["name"]: c for c in await page.context.cookies()}
        assert cookies["doingoai_session"]["httpOnly"] and cookies["doingoai_session"]["sameSite"] == "Lax"
        assert await page.evaluate("document.cookie") == ""  # no script of the page reads the session

        await page.click("#sign-out")
        await page.wait_for_url("**/login")
        await page.goto(f"{signed.http}/")
        await page.wait_for_url("**/login?next=*")
        assert not errors, errors
        await browser.close()
