"""Duties on the real stack: an ad hoc request binds exactly the agencies it names by its own
deadline and is not the periodic report; a returned report counts once sent again, on that day;
the escalation service asks for the missing ad hoc report of the agency that did not answer."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from schemas.codec import encode
from services.db import make_engine
from services.escalations.clock import MovableClock
from services.escalations.service import EscalationService
from tests.support import System, new_system, sample

pytestmark = pytest.mark.integration
VN = ZoneInfo("Asia/Ho_Chi_Minh")
REQUEST = "ht-dot-xuat-2021-09"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """Hà Tĩnh with plan 53/KH-UBND issued; the escalation service is driven by the test."""
    system = new_system(tmp_path_factory.mktemp("duties"), DOINGOAI_ESCALATIONS="false").start()
    issued = sample("plan_issued", aggregate_id="ha-tinh-53-2021", data={"number": "53/KH-UBND",
                                                                        "issued_on": "2021-02-26"})
    system.wait_projected(post(system, "so-ngoai-vu", issued))
    yield system
    system.stop()


def post(system: System, agency: str, event) -> int:
    key = f"agency:{agency}"
    if key not in system.tokens:
        system.tokens[key] = system.credentials("ha-tinh", agency)["token"]
    r = httpx.post(f"{system.http}/events", content=encode(event), headers={
        "content-type": "application/cloudevents+json", "authorization": f"Bearer {system.tokens[key]}"})
    assert r.status_code == 202, r.text
    return r.json()["sequence"]


def compliance(system: System, period: str, day: str, **params: str) -> list[dict]:
    r = system.get("/api/reports/compliance", province="ha-tinh", period=period, date=day, **params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_an_ad_hoc_request_binds_its_two_agencies_only_and_is_not_the_annual_report(stack: System):
    asked = sample("report_requested", aggregate_id=REQUEST, data={
        "report_kind": "ad_hoc", "period": "2021", "title": "Báo cáo đột xuất tình hình người nước ngoài",
        "deadline": "2021-09-15", "requested_agencies": ["so-y-te", "so-tu-phap"], "basis": None})
    post(stack, "so-ngoai-vu", asked)
    answer = sample("report_submitted", agency="so-y-te", aggregate_id="ht-so-y-te-dot-xuat", data={
        "report_kind": "ad_hoc", "period": "2021", "title": "Báo cáo đột xuất", "submitted_on": "2021-09-10",
        "request_id": REQUEST})
    stack.wait_projected(post(stack, "so-y-te", answer))

    rows = compliance(stack, "2021", "2021-09-20")
    requested = [(r["agency"], r["status"], r["deadline"], r["request_id"]) for r in rows if r["duty"] == "request"]
    assert requested == [("so-tu-phap", "missing", "2021-09-15", REQUEST),
                         ("so-y-te", "on_time", "2021-09-15", REQUEST)]
    assert {r["basis"] for r in rows if r["duty"] == "request"} == {"Báo cáo đột xuất tình hình người nước ngoài"}
    [annual] = [r for r in rows if r["duty"] == "periodic" and r["agency"] == "so-y-te"]
    assert (annual["status"], annual["submitted_on"], annual["deadline"]) == ("pending", None, "2021-10-10")
    assert not [r for r in rows if r["duty"] == "none"]  # the answer counts for its request, nowhere else
    [later] = compliance(stack, "2021", "2021-10-11", agency="so-y-te")[:1]
    assert (later["duty"], later["status"]) == ("periodic", "missing")


def test_a_returned_report_is_missing_until_sent_again_and_late_when_sent_after_the_deadline(stack: System):
    aggregate = "ht-so-noi-vu-2021-H1"
    first = sample("report_submitted", agency="so-noi-vu", aggregate_id=aggregate, data={
        "report_kind": "semiannual", "period": "2021-H1", "submitted_on": "2021-05-20", "request_id": None})
    post(stack, "so-noi-vu", first)
    back = sample("report_returned", aggregate_id=aggregate, data={
        "returned_to": "so-noi-vu", "returned_on": "2021-05-27", "resubmit_by": None})
    stack.wait_projected(post(stack, "so-ngoai-vu", back))
    [row] = compliance(stack, "2021-H1", "2021-05-28", agency="so-noi-vu")
    assert (row["status"], row["submitted_on"], row["report_status"]) == ("missing", None, "returned")
    assert row["note"] == "Báo cáo bị trả lại ngày 27/05/2021, chưa gửi lại"

    again = sample("report_submitted", agency="so-noi-vu", aggregate_id=aggregate, data={
        "report_kind": "semiannual", "period": "2021-H1", "submitted_on": "2021-06-02", "request_id": None})
    stack.wait_projected(post(stack, "so-noi-vu", again))
    [row] = compliance(stack, "2021-H1", "2021-06-10", agency="so-noi-vu")
    assert (row["status"], row["submitted_on"], row["days_late"]) == ("late", "2021-06-02", 8)


async def test_the_agency_that_did_not_answer_the_request_is_escalated_and_the_one_that_did_is_not(stack: System):
    nc = await stack.service_nats()
    engine = make_engine(stack.runtime()["database_url"], pool_size=2)
    try:
        service = EscalationService(nc, engine, MovableClock(datetime(2021, 9, 16, 8, tzinfo=VN)))
        published = await service.tick()
        raised = {e.data["responsible_agency"] for e in published if e.type.endswith("escalation_raised.v1")
                  and e.data["cause_subject"] == f"report/{REQUEST}"}
        assert raised == {"so-tu-phap"}
        message = next(e.data["message"] for e in published if e.data.get("cause_subject") == f"report/{REQUEST}")
        assert message == ("Sở Tư pháp chưa gửi báo cáo theo yêu cầu “Báo cáo đột xuất tình hình người nước ngoài” "
                           "(hạn 15/09/2021)")
        missing_h1 = {e.data["responsible_agency"] for e in published if e.data.get("period") == "2021-H1"}
        assert "so-tu-phap" in missing_h1 and "so-noi-vu" not in missing_h1 and "so-ngoai-vu" not in missing_h1
    finally:
        await nc.close()
        await engine.dispose()
