"""The web dashboard in headless Chromium after `doingoai demo`, checked against the API."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from tests.support import System, new_system

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    system = new_system(tmp_path_factory.mktemp("e2e"), DOINGOAI_ESCALATION_TICK_S="1").start()
    done = system.cli("demo")
    assert done.returncode == 0, done.stderr
    system.wait_projected(json.loads(done.stdout)["events"])
    deadline = time.monotonic() + 60
    while not api(system, "/api/escalations", province="ha-tinh", status="open")["items"]:
        assert time.monotonic() < deadline, "no escalation was raised after the demo"
        time.sleep(0.5)
    yield system
    system.stop()


def api(system: System, path: str, province: str = "ha-tinh", **params: str) -> dict:
    return system.get(path, province=province, **params).json()


@pytest.fixture
async def page():
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield await browser.new_page(viewport={"width": 1300, "height": 1000})
        await browser.close()


async def open_tab(page: Page, system: System, tab: str, province: str = "ha-tinh", period: str = "2021-H1") -> None:
    """Open a tab as the province's Sở Ngoại vụ: its token is in the browser before the page loads."""
    key = f"sngv-{province}"
    if key not in system.tokens:
        system.tokens[key] = system.credentials(province, "so-ngoai-vu")["token"]
    await page.add_init_script(f"localStorage.setItem('doingoai-token', {json.dumps(system.tokens[key])})")
    await page.goto(f"{system.http}/?province={province}&period={period}#{tab}")
    await page.wait_for_selector(f"body[data-loaded='{tab}']", timeout=20_000)


async def test_headline_figures_and_charts_match_the_api(demo: System, page: Page):
    await open_tab(page, demo, "tong-quan")
    board = api(demo, "/api/dashboard", province="ha-tinh", period="2021-H1")["headline"]
    for key in ("activities_held", "delegations_in", "delegations_out", "agreements"):
        shown = await page.text_content(f".card[data-key='{key}'] .value")
        assert shown == str(board[key]), key
    assert "250.000 USD" in (await page.text_content(".card[data-key='aid'] .value") or "")
    bars = await page.eval_on_selector_all("#chart-months rect.bar", "rs => rs.map(r => +r.dataset.value)")
    window = api(demo, "/api/dashboard", province="ha-tinh", period="2021-H1")["window"]
    in_window = api(demo, "/api/activities", province="ha-tinh", **{"from": window["from"], "to": window["to"]})
    assert sum(bars) == sum(1 for a in in_window["items"] if window["from"] <= a["start_date"] <= window["to"])
    assert await page.eval_on_selector_all("#chart-countries rect.bar", "rs => rs.length") >= 1
    await page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)


async def test_task_matrix_and_compliance_match_the_api(demo: System, page: Page):
    await open_tab(page, demo, "nhiem-vu", province="gia-lai", period="2020-H1")
    rows = await page.eval_on_selector_all("#tasks tbody tr", "rs => rs.length")
    assert rows == api(demo, "/api/tasks", province="gia-lai")["count"] == 9
    overdue_api = sum(1 for t in api(demo, "/api/tasks", province="gia-lai")["items"] if t["status"] == "overdue")
    assert await page.eval_on_selector_all("#tasks tr.overdue", "rs => rs.length") == overdue_api
    await page.screenshot(path=str(ARTIFACTS / "dashboard-tasks.png"), full_page=True)

    await open_tab(page, demo, "bao-cao")
    late_api = [r for r in api(demo, "/api/reports/compliance", province="ha-tinh", period="2021-H1")["items"]
                if r["status"] == "late"]
    assert await page.eval_on_selector_all("#compliance .late", "rs => rs.length") == len(late_api) > 0


async def test_acknowledging_an_escalation_moves_it_out_of_the_inbox(demo: System, page: Page):
    open_before = api(demo, "/api/escalations", province="ha-tinh", status="open", target="so-ngoai-vu")["items"]
    await open_tab(page, demo, "canh-bao")  # as Sở Ngoại vụ, the escalations' target
    button = page.locator("button.ack").first
    chosen = await button.get_attribute("data-id")
    assert chosen in {e["escalation_id"] for e in open_before}
    await button.click()
    await page.wait_for_selector("#esc-message:has-text('Đã gửi xác nhận')", timeout=10_000)
    await page.wait_for_selector(f"button.ack[data-id='{chosen}']", state="detached", timeout=20_000)
    acknowledged = api(demo, "/api/escalations", province="ha-tinh", status="acknowledged")["items"]
    assert chosen in {e["escalation_id"] for e in acknowledged}
    await page.select_option("#esc-status", "acknowledged")
    await page.wait_for_selector("#escalations button.ack >> nth=0", state="detached", timeout=10_000)
    assert "Đã tiếp nhận" in (await page.text_content("#escalations") or "")
    await page.screenshot(path=str(ARTIFACTS / "dashboard-escalations.png"), full_page=True)


async def test_partner_history_and_security_headers(demo: System, page: Page):
    await open_tab(page, demo, "doi-tac")
    await page.click("a[data-partner='bolykhamxay']")
    await page.wait_for_selector("#partner-history tbody tr")
    history = api(demo, "/api/partners/bolykhamxay")["history"]
    assert await page.eval_on_selector_all("#partner-history tbody tr", "rs => rs.length") == len(history)
    r = httpx.get(f"{demo.http}/")
    assert "default-src 'self'" in r.headers["content-security-policy"] and r.headers["x-frame-options"] == "DENY"
    assert "cdn" not in r.text.lower() and "https://" not in r.text
