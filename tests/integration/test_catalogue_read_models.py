"""The demo scenario through the real stack, and the coordination read models it produces."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import httpx
import pytest

from schemas.reference import plan
from services.demo.provinces import scenario
from tests.support import System, demo_system

pytestmark = pytest.mark.integration
VN = ZoneInfo("Asia/Ho_Chi_Minh")
CONTRACT_EVENTS = {
    "activity_planned", "activity_held", "activity_cancelled", "delegation_received", "delegation_sent",
    "conference_held", "agreement_signed", "aid_committed", "information_shared", "information_acknowledged",
    "plan_issued", "task_assigned", "task_progress_reported", "task_completed", "report_requested",
    "report_submitted", "report_returned", "report_accepted", "difficulty_raised", "difficulty_acknowledged",
    "guidance_issued", "difficulty_escalated", "decision_issued", "difficulty_resolved", "escalation_raised",
    "escalation_acknowledged", "partner_registered",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    with demo_system(tmp_path_factory.mktemp("demo"), DOINGOAI_ESCALATIONS="false") as loaded:
        yield loaded


def get(system: System, path: str, province: str = "ha-tinh", **params: str) -> dict:
    r = system.get(path, province=province, **params)
    assert r.status_code == 200, r.text
    return r.json()


def test_demo_publishes_every_event_over_http_and_nats(demo):
    system, summary = demo
    assert summary["events"] == len(scenario())
    assert summary["via http"] > 0 and summary["via nats"] > 0
    assert summary["provinces"] == ["dong-nai", "gia-lai", "ha-tinh", "kon-tum"]
    for province in summary["provinces"]:  # every step of the story is said by whom the plans give it to
        assert get(system, "/api/rejected", province=province, kind="not_authorized")["items"] == []


def test_gia_lai_shows_its_nine_tasks_with_their_lead_agencies(demo):
    system, _ = demo
    tasks = get(system, "/api/tasks", province="gia-lai")["items"]
    expected = {t.number: t.lead_agencies for t in plan("gia-lai-1109-2020").tasks}
    assert len(expected) == 9
    assert {t["task_number"]: t["lead_agencies"] for t in tasks} == expected
    progressed = [t for t in tasks if t["progress_percent"]]
    assert len(progressed) == 3 and all(t["status"] in ("in_progress", "overdue") for t in progressed)


def test_ha_tinh_2021_h1_compliance_names_the_agencies_late_against_25_may(demo):
    system, _ = demo
    rows = get(system, "/api/reports/compliance", province="ha-tinh", period="2021-H1")["items"]
    submitted = {s.agency: date.fromisoformat(s.event.data["submitted_on"]) for s in scenario()
                 if s.province == "ha-tinh" and s.event.type.endswith("report_submitted.v1")}
    late = {a for a, d in submitted.items() if d > date(2021, 5, 25)}
    assert late and len(late) < len(submitted)
    assert {r["agency"] for r in rows if r["status"] == "late"} == late
    assert {r["agency"] for r in rows if r["status"] == "on_time"} == set(submitted) - late
    units = [r for r in rows if r["agency"] != "so-ngoai-vu"]
    assert all(r["deadline"] == "2021-05-25" and r["deadline_basis"] == "plan" for r in units)
    assert {r["basis"] for r in units} == {"Kế hoạch số 53/KH-UBND"}
    missing = [r for r in rows if r["status"] == "missing"]
    assert missing and all(r["submitted_on"] is None for r in missing)
    [sngv] = [r for r in rows if r["agency"] == "so-ngoai-vu"]  # SNgV reports to the UBND; the plan names no date
    assert (sngv["deadline"], sngv["status"], sngv["note"]) == (None, "pending", "Kế hoạch không nêu thời hạn")


def test_a_report_returned_and_sent_again_after_25_may_is_late(demo):
    system, _ = demo
    [back] = [s for s in scenario() if s.province == "ha-tinh" and s.event.type.endswith("report_returned.v1")]
    agency = back.event.data["returned_to"]
    [row] = get(system, "/api/reports/compliance", province="ha-tinh", period="2021-H1", agency=agency)["items"]
    assert (row["status"], row["submitted_on"], row["days_late"]) == ("late", "2021-06-02", 8)


@pytest.mark.parametrize(("province", "period"), [("ha-tinh", "2020"), ("ha-tinh", "2020-H1"), ("kon-tum", "2021"),
                                                  ("kon-tum", "2021-H1"), ("ha-tinh", "2024"), ("ha-tinh", "2024-H1")])
def test_where_no_plan_binds_the_units_none_is_missing_or_late_and_the_view_says_so(demo, province, period):
    """Hà Tĩnh 365/KH-UBND: units report only on request; Kon Tum 3291/KH-UBND: SNgV reports to the
    UBND; plan 53 covers 2021 only: no unit owes a 6-month or annual report there, no 20/06, 20/12 or
    10/10/2024 deadline."""
    system, _ = demo
    found = get(system, "/api/reports/compliance", province=province, period=period, date="2025-01-01")
    rows = found["items"]
    assert not [r for r in rows if r["status"] in ("missing", "late")]
    assert all(r["deadline"] is None for r in rows if r["duty"] == "periodic")
    assert {r["agency"] for r in rows if r["duty"] == "periodic"} <= {"so-ngoai-vu"}
    assert found["note"] and "không quy định" in found["note"]
    if province == "ha-tinh":
        assert found["plan"] == "ha-tinh-365-2019" and "khi có yêu cầu" in found["note"]


def test_the_kon_tum_request_binds_exactly_the_three_agencies_it_names(demo):
    system, _ = demo
    rows = get(system, "/api/reports/compliance", province="kon-tum", period="2021-H1")["items"]
    asked = [r for r in rows if r["duty"] == "request"]
    assert sorted(r["agency"] for r in asked) == ["bo-chi-huy-bien-phong", "cong-an-tinh", "ubnd-huyen-ngoc-hoi"]
    assert {(r["request_id"], r["deadline"], r["deadline_basis"], r["status"]) for r in asked} == {
        ("kon-tum-bien-gioi-2021-q1", "2021-04-09", "request", "on_time")}
    assert [(r["agency"], r["status"]) for r in rows if r["duty"] == "periodic"] == [("so-ngoai-vu", "on_time")]


def test_gia_lai_2020_h1_is_due_by_the_configured_default_said_as_such(demo):
    system, _ = demo
    rows = get(system, "/api/reports/compliance", province="gia-lai", period="2020-H1")["items"]
    assert rows and {(r["deadline"], r["deadline_basis"]) for r in rows} == {("2020-06-20", "default")}
    assert "so-ngoai-vu" not in {r["agency"] for r in rows}  # the reports go to the UBND through SNgV
    assert all("mặc định do tỉnh cấu hình" in r["note"] for r in rows)
    assert {r["status"] for r in rows} == {"on_time", "late", "missing"}


def test_no_cause_of_the_escalation_service_asks_a_report_no_plan_sets(demo):
    """The escalation service's report causes are those of the compliance view: none in Hà Tĩnh
    outside 2021, none in Kon Tum but its request's, none due 10/10/2024."""
    system, _ = demo
    causes = asyncio.run(escalation_causes(system, date(2025, 1, 1)))
    reports = [c for c in causes if c.trigger == "report_missing"]
    assert not [c for c in reports if c.province == "ha-tinh" and c.period[:4] != "2021"]
    kon_tum = [c for c in reports if c.province == "kon-tum"]  # only the request's, all answered
    assert {c.cause_subject for c in kon_tum} == {"report/kon-tum-bien-gioi-2021-q1"}
    assert len(kon_tum) == 3 and all(c.resolved for c in kon_tum)
    assert {c.due_at.date() for c in reports if c.province == "ha-tinh"} == {date(2021, 5, 25), date(2021, 10, 10)}
    assert not [c for c in reports if c.due_at.date() == date(2024, 10, 10)]
    assert {c.due_at.date() for c in reports if c.province == "dong-nai"} == {
        date(y, 11, 15) for y in range(2022, 2026)}


def test_the_monthly_broadcast_is_monthly_and_annual_tasks_fall_overdue_year_by_year(demo):
    system, _ = demo
    dong_nai = {t["task_number"]: t for t in get(system, "/api/tasks", province="dong-nai")["items"]}
    assert dong_nai["III.12"]["recurrence"] == "monthly" and dong_nai["III.12"]["status"] != "overdue"
    assert dong_nai["III.14"]["instances"][0] == {"year": 2022, "due_date": "2022-11-15", "completed_on": None,
                                                  "status": "overdue"}
    on = {t["task_number"]: t for t in get(system, "/api/tasks", province="gia-lai", date="2021-01-05")["items"]}
    assert (on["5"]["status"], on["5"]["due_date"]) == ("overdue", "2020-12-31")  # not done for 2020
    assert (on["8"]["status"], on["8"]["due_date"]) == ("in_progress", "2021-12-31")  # done for 2020
    assert on["8"]["instances"] == [
        {"year": 2020, "due_date": "2020-12-31", "completed_on": "2020-11-20", "status": "completed"},
        {"year": 2021, "due_date": "2021-12-31", "completed_on": None, "status": "open"}]
    later = {t["task_number"]: t for t in get(system, "/api/tasks", province="gia-lai", date="2022-01-03")["items"]}
    assert (later["8"]["status"], later["8"]["due_date"]) == ("overdue", "2021-12-31")
    causes = asyncio.run(escalation_causes(system, date(2022, 1, 3)))
    eight = {c.key: c.resolved for c in causes if c.cause_subject == f"task/{plan('gia-lai-1109-2020').task_id('8')}"}
    assert eight == {"gia-lai:task/gia-lai-1109-2020-8:2020": True, "gia-lai:task/gia-lai-1109-2020-8:2021": False,
                     "gia-lai:task/gia-lai-1109-2020-8:2022": False}


async def escalation_causes(system: System, today: date) -> list:
    """The causes the escalation service reads from the read models on `today` (nothing published)."""
    from services.db import make_engine
    from services.escalations.clock import MovableClock
    from services.escalations.service import EscalationService

    nc = await system.service_nats()
    engine = make_engine(system.runtime()["database_url"], pool_size=1)
    try:
        service = EscalationService(nc, engine, MovableClock(datetime.combine(today, time(8), VN)))
        async with engine.connect() as conn:
            found = await service.causes(conn)
        assert found.parked == []
        return found.causes
    finally:
        await nc.close()
        await engine.dispose()


def test_a_v1_event_is_projected_through_the_v2_model(demo):
    """The Hà Tĩnh friendship exchange is published as activity_held v1 (single `partner`); the read
    model shows it in the v2 shape (`partners` list), and the stored event keeps its v1 type."""
    system, _ = demo
    v1 = next(s.event for s in scenario() if s.event.type.endswith("activity_held.v1"))
    stored = get(system, f"/api/events/{v1.id}")
    assert stored["event"]["type"] == "vn.gov.doingoai.activity_held.v1"
    assert "partner" in stored["event"]["data"]
    rows = get(system, "/api/activities", province="ha-tinh", kind="activity")["items"]
    row = next(r for r in rows if r["subject"] == v1.subject)
    assert row["partner_id"] == "bolykhamxay"
    assert row["detail"]["partners"][0]["partner_id"] == "bolykhamxay"


def test_dashboard_partners_information_and_difficulties_answer_from_the_read_models(demo):
    system, _ = demo
    board = get(system, "/api/dashboard", province="ha-tinh", period="2021-H1")
    assert board["headline"]["delegations_in"] == 1 and board["headline"]["delegations_out"] == 1
    assert board["headline"]["agreements"] == 1 and board["headline"]["aid_committed"] == {"USD": 250000.0}
    assert board["delegations_by_country"] == {"LA": 2}
    assert board["difficulties"] == {"guidance_issued": 1, "escalated": 1}
    partner = get(system, "/api/partners/bolykhamxay")
    assert {h["kind"] for h in partner["history"]} == {"delegation_in", "activity", "agreement"}
    info = get(system, "/api/information", province="ha-tinh")["items"][0]
    assert len(info["acknowledged"]) == 1 and len(info["pending"]) == 2


def test_rows_carry_names_beside_their_codes_and_provinces_their_latest_period(demo):
    """The codes stay; names are added where people read them, and each province tells the latest period
    with data (where the dashboard opens)."""
    system, _ = demo
    board = get(system, "/api/dashboard", province="ha-tinh", period="2021-H1")
    assert board["country_names"] == {"LA": "Lào"}
    reports = board["reports"]
    assert reports["expected"] == sum(reports.get(s, 0) for s in ("on_time", "late", "missing", "pending"))
    task = get(system, "/api/tasks", province="gia-lai")["items"][0]
    assert task["plan_id"] == "gia-lai-1109-2020" and task["plan_label"] == "Kế hoạch năm 2020"
    assert task["plan_name"].startswith("Kế hoạch năm 2020 “Triển khai Quyết định số 1109/QĐ-TTg")
    assert len(task["lead_agency_names"]) == len(task["lead_agencies"]) and "Sở Ngoại vụ" in task["lead_agency_names"]
    partners = {p["slug"]: p for p in get(system, "/api/partners", province="ha-tinh")["items"]}
    assert (partners["mecklenburg-vorpommern"]["country"], partners["mecklenburg-vorpommern"]["country_name"]) == (
        "DE", "Đức")
    assert (partners["ipm-nhat-ban"]["kind_name"], partners["ipm-nhat-ban"]["country_name"]) == ("Tổ chức", "Nhật Bản")
    activity = get(system, "/api/activities", province="ha-tinh", kind="aid")["items"][0]
    assert activity["agency_name"] and activity["partner_country_name"] == "Nhật Bản"
    names = get(system, "/api/names", province="ha-tinh")
    assert names["agencies"]["uy-ban-mttq-tinh"] == {"name": "Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh",
                                                     "short_name": "Ủy ban MTTQ tỉnh"}
    assert names["plans"]["ha-tinh-53-2021"]["label"] == "53/KH-UBND" and names["countries"]["TW"].startswith("Đài")
    latest = {p: get(system, "/api/provinces", province=p)["items"][0]["latest_period"]
              for p in ("ha-tinh", "kon-tum", "gia-lai", "dong-nai")}
    assert latest == {"ha-tinh": "2021-H1", "kon-tum": "2021-H1", "gia-lai": "2020-H1", "dong-nai": "2022"}
    on = {day: get(system, "/api/provinces", province="ha-tinh", date=day)["items"][0]["latest_period"]
          for day in ("2019-01-10", "2020-06-01", "2021-03-01")}  # as known on a day: plan 365 of 25/10/2019, then 53
    assert on == {"2019-01-10": None, "2020-06-01": "2019", "2021-03-01": "2021-H1"}


def test_tables_export_as_csv(demo):
    system, _ = demo
    r = system.get("/api/tasks", province="gia-lai", format="csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert len(rows) == 9 and rows[0]["plan_id"] == "gia-lai-1109-2020"
    r2 = httpx.get(f"{system.http}/api/reports/compliance", params={"province": "ha-tinh", "period": "2021-H1"},
                   headers={"accept": "text/csv", **system.reader("ha-tinh")})
    assert "so-y-te" in r2.text and r2.text.splitlines()[0].lstrip("\ufeff").startswith("agency,")


def test_replaying_the_stream_rebuilds_identical_tables(demo):
    """`doingoai replay` into a fresh schema gives the same checksum for every read-model table."""
    system, _ = demo
    from tests.integration.test_recovery import checksums_of

    done = system.cli("replay", "--schema", "demo_replay")
    assert done.returncode == 0, done.stderr
    replayed = json.loads(done.stdout)["checksums"]
    live = asyncio.run(checksums_of(system, "doingoai"))
    assert replayed == live
    assert replayed["tasks"] and replayed["reports"]


def test_running_the_demo_again_stores_nothing_twice(demo):
    system, summary = demo
    again = system.cli("demo")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["already stored"] == summary["events"]


def test_every_contract_event_has_a_schema_and_an_asyncapi_channel(demo):
    system, _ = demo
    names = {e["name"] for e in get(system, "/schemas")["event_types"]}
    assert CONTRACT_EVENTS <= names
    doc = get(system, "/asyncapi.json")
    assert doc["asyncapi"].startswith("3.")
    assert names <= set(doc["channels"])
    assert doc["channels"]["difficulty_raised"]["address"] == "doingoai.events.{province}.{agency}.difficulty_raised"
