"""GET /api/my-work on the real stack: what waits on an agency — an information to acknowledge, a
report due, a task due, an escalation — oldest deadline first, named in Vietnamese (never by codes),
with nothing of another agency; a signed-in official's escalations are those of their role's level."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from schemas.envelope import CloudEvent
from tests.integration.test_people import add, sign_in
from tests.integration.test_roles import levels, post, publish_as_system
from tests.support import System, sample

pytestmark = pytest.mark.integration
OFFICE, OTHER = "van-phong-ubnd-tinh", "so-y-te"
CODE = re.compile(r"\b[a-z0-9]+(?:-[a-z0-9]+)+\b")
"""A slug (so-ngoai-vu, ha-tinh-kiem-tra-…): what a title must not show."""


def work_for(agency: str, tag: str) -> list[CloudEvent]:
    """Sở Ngoại vụ shares information with `agency`, asks it for a report, gives it a task."""
    return [
        sample("information_shared", aggregate_id=f"info-{tag}-{agency}",
               data={"topic": f"Tình hình đối tác {tag}", "recipients": [agency], "respond_by": "2021-04-10"}),
        sample("report_requested", aggregate_id=f"request-{tag}-{agency}",
               data={"report_kind": "ad_hoc", "period": "2021-H1", "title": f"Báo cáo đột xuất {tag}",
                     "deadline": "2021-03-15", "requested_agencies": [agency]}),
        sample("task_assigned", aggregate_id=f"task-{tag}-{agency}",
               data={"plan_id": f"ha-tinh-kiem-tra-{tag}", "plan_number": "77/KH-UBND", "task_number": "1",
                     "title": f"Rà soát quy chế {tag}", "lead_agencies": [agency], "coordinating_agencies": [],
                     "recurrence": "once", "due_date": "2021-06-30"}),
    ]


def my_work(system: System, token: str, **params: Any) -> dict[str, Any]:
    r = httpx.get(f"{system.http}/api/my-work", params=params, headers={"authorization": f"Bearer {token}"},
                  timeout=60)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def subjects(items: list[dict[str, Any]]) -> list[str]:
    return [i["subject"] for i in items]


async def test_an_agency_sees_what_waits_on_it_oldest_deadline_first_and_nothing_of_another(
        system: System, agency: dict[str, str]):
    tag = uuid.uuid4().hex[:8]
    mine, theirs = work_for(OFFICE, tag), work_for(OTHER, tag)
    for event in mine + theirs:
        stored = post(system, agency["token"], event)
        assert stored.status_code == 202, stored.text
    escalation = sample("escalation_raised", agency="doingoai", aggregate_id=uuid.uuid4().hex, data={
        "level": 3, "target_agency": OFFICE, "target_role": "Văn phòng UBND tỉnh", "responsible_agency": "so-ngoai-vu",
        "cause_subject": f"difficulty/{tag}", "trigger": "difficulty_beyond_authority", "period": None,
        "due_at": "2021-05-25T23:59:59+07:00", "ack_by": "2021-05-28T17:00:00+07:00",
        "message": "Khó khăn “Quản lý cư dân qua lại biên giới” của UBND huyện Hương Sơn chưa có quyết định"})
    system.wait_projected(await publish_as_system(system, escalation))
    office = system.credentials("ha-tinh", OFFICE)["token"]

    found = my_work(system, office)
    assert found["agency"] == OFFICE and found["agency_name"] == "Văn phòng Ủy ban nhân dân tỉnh"
    items = found["items"]
    expected = [f"report/request-{tag}-{OFFICE}", f"information/info-{tag}-{OFFICE}", escalation.subject,
                f"task/task-{tag}-{OFFICE}"]
    assert [s for s in subjects(items) if s in expected] == expected  # oldest deadline first
    dated = [i["deadline"] for i in items if i["deadline"]]
    assert dated == sorted(dated, key=datetime.fromisoformat) and all(d.endswith("+07:00") for d in dated)
    assert all(i["deadline"] for i in items[:len(dated)])  # no deadline: last
    ours = {i["subject"]: i for i in items if i["subject"] in expected}
    assert [ours[s]["kind"] for s in expected] == ["report", "information", "escalation", "task"]
    assert ours[expected[0]]["deadline"].startswith("2021-03-15T23:59:59")
    assert ours[expected[2]]["deadline"] == "2021-05-28T17:00:00+07:00"
    assert ours[expected[0]]["state"] == "missing" and ours[expected[0]]["state_name"] == "Quá hạn, chưa gửi"
    assert ours[expected[0]]["link"] == "#bao-cao" and ours[expected[3]]["link"] == "#nhiem-vu"
    assert "Sở Ngoại vụ" in ours[expected[1]]["title"] and "Kế hoạch số 77/KH-UBND" in ours[expected[3]]["title"]
    assert f"Báo cáo đột xuất {tag}" in ours[expected[0]]["title"]
    assert not [i["title"] for i in ours.values() if CODE.search(i["title"])]  # names, never codes

    others = {e.subject for e in theirs}
    assert not others & set(subjects(items))  # nothing of another agency
    assert others <= set(subjects(my_work(system, system.credentials("ha-tinh", OTHER)["token"])["items"]))

    clerk = sign_in(system, add(system, OFFICE, "specialist", "Lê Thu", "Chuyên viên Văn phòng"))
    as_person = clerk.get("/api/my-work").json()
    assert as_person["role"] == "specialist" and as_person["name"] == "Lê Thu"
    assert [s for s in subjects(as_person["items"]) if s in expected] == expected  # level 3: every official
    csv = clerk.get("/api/my-work", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv") and f"Báo cáo đột xuất {tag}" in csv.text
    assert clerk.get("/api/my-work", params={"province": "kon-tum"}).status_code == 403


async def test_a_specialist_and_a_leader_of_sngv_have_their_own_escalations_to_do(system: System):
    raised = levels(f"report/ha-tinh-so-tu-phap-{uuid.uuid4().hex[:8]}")
    system.wait_projected(await publish_as_system(system, *raised))
    one, two, three = (e.subject for e in raised)
    specialist = sign_in(system, add(system, "so-ngoai-vu", "specialist", "Nguyễn Thị Hoa", "Chuyên viên"))
    leader = sign_in(system, add(system, "so-ngoai-vu", "leader", "Hoàng Minh Đức", "Giám đốc Sở Ngoại vụ"))
    for client, sees, not_seen in ((specialist, one, {two, three}), (leader, two, {one, three})):
        work = client.get("/api/my-work").json()
        escalations = [i for i in work["items"] if i["kind"] == "escalation"]
        assert sees in subjects(escalations) and not not_seen & set(subjects(escalations)), work["role"]
        item = next(i for i in escalations if i["subject"] == sees)
        assert item["title"].startswith("Cảnh báo cấp") and item["link"] == "#canh-bao" and item["state"] == "open"
