"""An official signs in through the province's single sign-on in headless Chromium: the sign-in
page's button, the real OpenID provider's login and consent pages, and back to where they were going
as themselves."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

from tests.e2e.test_dashboard import ARTIFACTS, CHROMIUM, FLAGS
from tests.support import System

pytestmark = pytest.mark.e2e


async def test_an_official_signs_in_with_the_single_sign_on_and_lands_where_they_were_going(oidc_system: System):
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await browser.new_page(viewport={"width": 1300, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)

        await page.goto(f"{oidc_system.http}/?province=ha-tinh&period=2021-H1#nhiem-vu")
        await page.wait_for_url("**/login?next=*")
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
        await page.wait_for_selector("input[name=prompt][value=consent]", state="attached")  # consent
        await page.click("button[type=submit]")
        await page.wait_for_selector("body[data-loaded='nhiem-vu']", timeout=20_000)  # back where it was going
        assert "Nguyễn Văn An" in (await page.text_content("#account") or "")
        cookies = {c["name"]: c for c in await page.context.cookies()}
        assert cookies["doingoai_session"]["httpOnly"] and cookies["doingoai_session"]["sameSite"] == "Lax"
        assert "doingoai_oidc" not in cookies  # the sign-in's state is gone once used
        await page.screenshot(path=str(ARTIFACTS / "sign-in-sso.png"), full_page=True)
        assert not errors, errors
        await browser.close()
