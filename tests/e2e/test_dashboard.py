"""The web dashboard in headless Chromium after `doingoai demo`, checked against the API."""

from __future__ import annotations

import io
import json
import shutil
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from schemas.reference import agencies, plans
from services.names import vi_key
from tests.support import System, demo_system

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VN = ZoneInfo("Asia/Ho_Chi_Minh")
BROWSER_ZONE = "America/Los_Angeles"
"""The browser runs far from Việt Nam: what it shows must not depend on where it is."""
LATEST = {"ha-tinh": "2021-H1", "kon-tum": "2021-H1", "gia-lai": "2020-H1", "dong-nai": "2022"}
"""The latest period with data of each province in the demo."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    with demo_system(tmp_path_factory.mktemp("e2e"), DOINGOAI_ESCALATION_TICK_S="1") as (system, _):
        deadline = time.monotonic() + 60
        while not api(system, "/api/escalations", province="ha-tinh", status="open")["items"]:
            assert time.monotonic() < deadline, "no escalation was raised after the demo"
            time.sleep(0.5)
        yield system


def api(system: System, path: str, province: str = "ha-tinh", **params: str) -> dict:
    return system.get(path, province=province, **params).json()


def test_the_demos_escalation_messages_name_agencies_and_plans_never_their_codes(demo: System):
    seen = 0
    for province in ("ha-tinh", "gia-lai", "kon-tum", "dong-nai"):
        messages = [e["message"] for e in api(demo, "/api/escalations", province=province)["items"]]
        codes = {a.slug for a in agencies(province)} | {f"{province}-"}
        assert not [(c, m) for m in messages for c in codes if c in m], province
        seen += len(messages)
    assert seen > 0


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the module; each test's page is in a browser context of its own."""
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A page with nothing stored yet (no token, no cookie), in the far-away time zone."""
    page = await browser.new_page(viewport={"width": 1300, "height": 1000}, timezone_id=BROWSER_ZONE, locale="en-US")
    yield page
    await page.context.close()


async def open_tab(page: Page, system: System, tab: str, province: str = "ha-tinh",
                   period: str | None = "2021-H1") -> None:
    """Open a tab as the province's Sở Ngoại vụ: its token is in the browser before the page loads.
    With no period, the dashboard chooses one."""
    key = f"sngv-{province}"
    if key not in system.tokens:
        system.tokens[key] = system.credentials(province, "so-ngoai-vu")["token"]
    await page.add_init_script(f"localStorage.setItem('doingoai-token', {json.dumps(system.tokens[key])})")
    chosen = "" if period is None else f"&period={period}"
    await page.goto(f"{system.http}/?province={province}{chosen}#{tab}")
    await page.wait_for_selector(f"body[data-loaded='{tab}']", timeout=20_000)


def codes_of(province: str) -> set[str]:
    """Every agency slug of the province and every plan slug: none may be shown to people."""
    return {a.slug for a in agencies(province)} | {p.slug for p in plans(province)}


def codes_in(text: str, province: str) -> list[str]:
    return sorted(c for c in codes_of(province) if c in text)


async def test_headline_figures_and_charts_match_the_api(demo: System, page: Page):
    await open_tab(page, demo, "tong-quan")
    board = api(demo, "/api/dashboard", province="ha-tinh", period="2021-H1")["headline"]
    for key in ("activities_held", "delegations_in", "delegations_out", "agreements"):
        shown = await page.text_content(f".card[data-key='{key}'] .value")
        assert shown == str(board[key]), key
    assert "250.000 USD" in (await page.text_content(".card[data-key='aid'] .value") or "")
    reports = api(demo, "/api/dashboard", province="ha-tinh", period="2021-H1")["reports"]
    owed = [r for r in api(demo, "/api/reports/compliance", province="ha-tinh", period="2021-H1")["items"]
            if r["duty"] == "periodic" and r["agency"] != "so-ngoai-vu"]  # the units' reports to Sở Ngoại vụ
    sent = sum(1 for r in owed if r["status"] in ("on_time", "late"))
    assert reports["expected"] == len(owed) > 30
    assert reports["submitted"] == reports["on_time"] + reports["late"] == sent
    assert await page.text_content(".card[data-key='reports'] .value") == f"{sent} trên {len(owed)}"
    label = await page.text_content(".card[data-key='reports'] .label") or ""
    assert label.startswith("cơ quan đã gửi báo cáo 6 tháng đầu năm 2021") and f"{reports['late']} gửi chậm" in label
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


async def test_the_dashboard_opens_on_the_latest_period_with_data(demo: System, page: Page):
    """Opened with no period, each province's dashboard shows the latest period that has data there (the API's
    `latest_period`), not the current half-year: Hà Tĩnh 2021-H1, Gia Lai 2020-H1, Đồng Nai 2022."""
    for province, period in LATEST.items():
        listed = api(demo, "/api/provinces", province=province)["items"]
        assert [(p["slug"], p["latest_period"]) for p in listed] == [(province, period)]
        await open_tab(page, demo, "tong-quan", province=province, period=None)
        assert await page.eval_on_selector("#period", "s => s.value") == period, province
        assert f"period={period}" in page.url
        if province == "ha-tinh":
            shown = await page.text_content(".card[data-key='activities_held'] .value")
            assert shown == str(api(demo, "/api/dashboard", period=period)["headline"]["activities_held"]) != "0"
            await page.screenshot(path=str(ARTIFACTS / "dashboard-latest-period.png"), full_page=True)


async def test_names_not_codes_on_every_tab(demo: System, page: Page):
    """Agencies, plans, countries and partner kinds are shown by their Vietnamese names: no agency or plan
    slug, no country code, no 'locality'/'organisation' on any tab; task columns are headed by agency names."""
    await open_tab(page, demo, "tong-quan")
    overview = await page.text_content("main") or ""
    assert "Lào" in await page.text_content("#chart-countries") and "LA" not in await page.text_content(
        "#chart-countries")
    assert "Tỉnh Bolykhămxay, Lào" in overview and "Bang Mecklenburg - Vorpommern, Đức" in overview
    assert "Sở Ngoại vụ" in overview and not codes_in(overview, "ha-tinh")

    await open_tab(page, demo, "nhiem-vu")
    headers = await page.eval_on_selector_all("#tasks thead th", "hs => hs.map(h => h.textContent)")
    assert "Các trường Đại học, Cao đẳng trên địa bàn tỉnh" in headers and "Ủy ban MTTQ tỉnh" in headers
    leads = headers[3:-3]
    names = {a.short_name or a.name_vi: a.name_vi for a in agencies("ha-tinh")}
    assert leads == sorted(leads, key=lambda h: vi_key(names.get(h, h)))  # Intl.Collator('vi') is CLDR's too
    assert not codes_in(await page.text_content("main") or "", "ha-tinh")
    await page.screenshot(path=str(ARTIFACTS / "dashboard-tasks-names.png"), full_page=True)

    await open_tab(page, demo, "nhiem-vu", province="gia-lai", period="2020-H1")
    gia_lai = await page.text_content("#tasks") or ""
    assert "Kế hoạch năm 2020" in gia_lai and not codes_in(gia_lai, "gia-lai")

    await open_tab(page, demo, "bao-cao")
    agencies_shown = await page.eval_on_selector_all("#compliance tbody tr td:first-child",
                                                     "ts => ts.map(t => t.textContent)")
    assert agencies_shown.index("UBND huyện Đức Thọ") < agencies_shown.index("UBND huyện Vũ Quang")
    assert agencies_shown == sorted(agencies_shown, key=vi_key) and "Ủy ban MTTQ tỉnh" not in agencies_shown

    await open_tab(page, demo, "doi-tac")
    partners = await page.text_content("#partners") or ""
    assert {"Địa phương", "Tổ chức", "Lào", "Đức", "Nhật Bản", "Hàn Quốc"} <= set(
        await page.eval_on_selector_all("#partners td", "ts => ts.map(t => t.textContent)"))
    assert not {"locality", "organisation", ">LA<", ">JP<", ">DE<"} & {w for w in partners.split()}
    await page.click("a[data-partner='bolykhamxay']")
    await page.wait_for_selector("#partner-history tbody tr")
    assert not codes_in(await page.text_content("main") or "", "ha-tinh")
    await page.screenshot(path=str(ARTIFACTS / "dashboard-partners.png"), full_page=True)

    await open_tab(page, demo, "kiem-toan")  # subjects stay the aggregates' ids: auditors trace them
    column = (await page.eval_on_selector_all("#audit thead th", "hs => hs.map(h => h.textContent)")).index("Cơ quan")
    who = await page.eval_on_selector_all(f"#audit tbody td:nth-child({column + 1})",
                                          "ts => ts.map(t => t.textContent)")
    assert "Sở Ngoại vụ" in who and not codes_in(" ".join(who), "ha-tinh")


async def test_times_are_shown_in_vietnam_and_dates_as_dates(demo: System, page: Page):
    """In a browser set to Los Angeles, an escalation raised at 23:44 UTC on 06/12 shows as 06:44 on 07/12
    (Việt Nam); each escalation's time is its `raised_at` in Asia/Ho_Chi_Minh, dd/mm/yyyy HH:MM; plain dates
    (a task's due date) are the same day everywhere."""
    await open_tab(page, demo, "canh-bao")
    assert await page.evaluate("vnTime('2021-12-06T23:44:00Z')") == "07/12/2021 06:44"
    assert await page.evaluate("vnDay('2021-12-06T23:44:00Z')") == "07/12/2021"
    assert await page.evaluate("vnDate('2021-12-31')") == "31/12/2021"
    shown = await page.eval_on_selector_all("#escalations tbody time", "ts => ts.map(t => [t.dateTime, t.textContent])")
    assert shown
    for iso, text in shown:
        assert text == datetime.fromisoformat(iso).astimezone(VN).strftime("%d/%m/%Y %H:%M"), (iso, text)
    rows = api(demo, "/api/escalations", province="ha-tinh", status="open")["items"]
    messages = await page.text_content("#escalations") or ""
    assert not codes_in(messages, "ha-tinh")
    assert any(r["trigger"] == "information_unacknowledged" and r["message"] in messages for r in rows)
    await page.screenshot(path=str(ARTIFACTS / "dashboard-escalations-vn-time.png"), full_page=True)

    await open_tab(page, demo, "kiem-toan")
    shown_audit = await page.text_content("#audit tbody") or ""
    audit = api(demo, "/api/audit", province="ha-tinh", limit="20", order="desc")["items"]
    recorded = [r["recorded_at"] for r in audit]
    assert any(datetime.fromisoformat(t).astimezone(VN).strftime("%d/%m/%Y %H:%M") in shown_audit for t in recorded)


def test_no_agency_code_in_escalation_messages_or_the_report_of_any_province(demo: System):
    """Every escalation message of the demo, and the text of each province's consolidated report for its
    latest period, name agencies and plans: none of the province's agency or plan slugs appears."""
    for province, period in LATEST.items():
        messages = [e["message"] for e in api(demo, "/api/escalations", province=province, reminders="true")["items"]]
        assert messages or province == "dong-nai"
        assert not [(c, m) for m in messages for c in codes_in(m, province)], province
        r = demo.get("/api/reports/consolidated.docx", province=province, period=period, timeout=60)
        assert r.status_code == 200, r.text
        doc = docx.Document(io.BytesIO(r.content))
        text = "\n".join([p.text for p in doc.paragraphs]
                         + [c.text for t in doc.tables for row in t.rows for c in row.cells])
        assert not codes_in(text, province), province
    information = [e["message"] for e in api(demo, "/api/escalations", province="ha-tinh")["items"]
                   if e["trigger"] == "information_unacknowledged"]
    assert any(m.startswith("Sở Nội vụ chưa xác nhận") for m in information)
