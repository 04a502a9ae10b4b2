"""An official signs in through the Vietnamese sign-in page in headless Chromium, sees the dashboard
as themselves, and signs out; an unsigned visitor is sent to the sign-in page. Where the province has
a single sign-on, the page's button leads through the real OpenID provider's pages and back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from playwright.async_api import Page, async_playwright

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


@asynccontextmanager
async def at_sign_in(system: System) -> AsyncIterator[Page]:
    """Headless Chromium sent from the dashboard's tasks to the sign-in page (no token in this browser,
    no session); on the way out, the page logged no Content-Security-Policy error."""
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await browser.new_page(viewport={"width": 1300, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
        await page.goto(f"{system.http}/?province=ha-tinh&period=2021-H1#nhiem-vu")
        await page.wait_for_url("**/login?next=*")
        yield page
        assert not errors, errors
        await browser.close()


async def test_an_official_signs_in_through_the_page_sees_the_dashboard_and_signs_out(signed: System):
    async with at_sign_in(signed) as page:
        await page.wait_for_load_state("networkidle")
        assert await page.is_hidden("#sso")  # no single sign-on configured: no button for it
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


async def test_an_official_signs_in_with_the_single_sign_on_and_lands_where_they_were_going(oidc_system: System):
    async with at_sign_in(oidc_system) as page:
        link = page.locator("#sso-link")
        await link.wait_for(state="visible")
        assert await link.text_content() == "Đăng nhập bằng tài khoản một cửa/SSO"
        await page.screenshot(path=str(ARTIFACTS / "sign-in-sso-button.png"))
        await link.click()
        await page.wait_for_selector("input[name=login]")  # the provider's own sign-in page
        assert page.url.startswith(oidc_system.env_extra["DOINGOAI_OIDC_ISSUER"])
        await page.fill("input[name=login]", "nguyen.van.an")
        await page.fill("input[name=password]", "mật khẩu ở hệ thống một cửa")
        await page.click("button[type=submit]")
        await page.wait_for_selector("input[name=prompt][value=consent]", state="attached")  # its consent page
        await page.click("button[type=submit]")
        await page.wait_for_selector("body[data-loaded='nhiem-vu']", timeout=20_000)  # back where it was going
        assert "Nguyễn Văn An" in (await page.text_content("#account") or "")
        cookies = {c["name"]: c for c in await page.context.cookies()}
        assert cookies["doingoai_session"]["httpOnly"] and cookies["doingoai_session"]["sameSite"] == "Lax"
        assert "doingoai_oidc" not in cookies  # the sign-in's state is gone once used
        await page.screenshot(path=str(ARTIFACTS / "sign-in-sso.png"), full_page=True)
