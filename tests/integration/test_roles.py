"""Roles in the rules on the real stack: a specialist's and a leader's escalation inboxes hold the
levels addressed to them; a specialist's session cannot accept a report, propose to the UBND or
decide (403 not_authorized, kept with its reason), a leader's can, an agency's token still can; an
acknowledgement names the person in the stream and in the read model."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from schemas.codec import encode
from schemas.envelope import CloudEvent
from services.store.outgoing import msg_id
from tests.integration.test_people import add, sign_in
from tests.support import System, sample

pytestmark = pytest.mark.integration
CE = {"content-type": "application/cloudevents+json"}


async def publish_as_system(system: System, *events: CloudEvent) -> int:
    """Publish escalation events as the escalation service does (the system identity); the last sequence."""
    nc = await system.service_nats()
    try:
        seq = 0
        for event in events:
            name = event.type.split(".")[-2]
            ack = await nc.jetstream().publish(f"doingoai.events.{event.province}.doingoai.{name}", encode(event),
                                               headers={"Nats-Msg-Id": msg_id(event.source, event.id)})
            seq = ack.seq
        return seq
    finally:
        await nc.close()


def levels(cause: str, late: str = "so-tu-phap") -> list[CloudEvent]:
    """Levels 1, 2 (Sở Ngoại vụ's specialists, then its leaders) and 3 (the UBND's office) of one cause."""
    targets = ((1, "so-ngoai-vu", "Chuyên viên Sở Ngoại vụ"), (2, "so-ngoai-vu", "Giám đốc Sở Ngoại vụ"),
               (3, "van-phong-ubnd-tinh", "Văn phòng UBND tỉnh (trình Lãnh đạo UBND tỉnh)"))
    return [sample("escalation_raised", agency="doingoai", aggregate_id=uuid.uuid4().hex,
                   data={"level": n, "target_agency": agency, "target_role": role, "responsible_agency": late,
                         "cause_subject": cause, "message": f"Sở Tư pháp chưa gửi báo cáo (cấp {n})"})
            for n, agency, role in targets]


def inbox_of(client: httpx.Client, **params: Any) -> set[str]:
    r = client.get("/api/escalations", params={"inbox": "true", **params})
    assert r.status_code == 200, r.text
    return {row["escalation_id"] for row in r.json()["items"]}


def write(client: httpx.Client, event: CloudEvent) -> httpx.Response:
    csrf = client.get("/api/me").json()["csrf_token"]
    return client.post("/events", content=encode(event), headers={**CE, "x-csrf-token": csrf})


def post(system: System, token: str, event: CloudEvent) -> httpx.Response:
    return httpx.post(f"{system.http}/events", content=encode(event),
                      headers={**CE, "authorization": f"Bearer {token}"}, timeout=30)


def kept_refusal(system: System, token: str, event_id: str) -> dict[str, Any]:
    """The rejection kept of `event_id` (rejections are listed once the worker has read them)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = httpx.get(f"{system.http}/api/rejected", headers={"authorization": f"Bearer {token}"},
                          params={"event_id": event_id}, timeout=30).json()["items"]
        if found:
            return found[0]  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"no rejection of {event_id} listed")


async def test_a_specialist_and_a_leader_of_sngv_see_the_levels_addressed_to_them(system: System,
                                                                                 agency: dict[str, str]):
    raised = levels(f"report/ha-tinh-so-tu-phap-{uuid.uuid4().hex[:8]}")
    system.wait_projected(await publish_as_system(system, *raised))
    ids = {e.subject.split("/")[1] for e in raised}
    id1, id2, id3 = (e.subject.split("/")[1] for e in raised)
    specialist = sign_in(system, add(system, "so-ngoai-vu", "specialist", "Nguyễn Thị Hoa", "Chuyên viên"))
    leader = sign_in(system, add(system, "so-ngoai-vu", "leader", "Hoàng Minh Đức", "Giám đốc Sở Ngoại vụ"))
    office = sign_in(system, add(system, "van-phong-ubnd-tinh", "specialist", "Lê Thu", "Chuyên viên Văn phòng"))
    late = sign_in(system, add(system, "so-tu-phap", "specialist", "Phan Văn Tâm", "Chuyên viên Sở Tư pháp"))

    assert inbox_of(specialist) & ids == {id1}  # level 1: Sở Ngoại vụ's specialists
    assert inbox_of(leader) & ids == {id2, id3}  # level 2, and level 3 that climbed above it
    assert inbox_of(office) & ids == {id3}  # level 3: every official of the UBND's office
    assert inbox_of(late) & ids == {id1, id2, id3}  # its late report: it learns who has been told
    assert inbox_of(leader, status="open", target="van-phong-ubnd-tinh") & ids == {id3}
    token = {"authorization": f"Bearer {agency['token']}"}
    as_token = httpx.get(f"{system.http}/api/escalations", params={"inbox": "true"}, headers=token).json()["items"]
    assert {r["escalation_id"] for r in as_token} & ids == {id1, id2}  # the agency: every level addressed to it
    whole = httpx.get(f"{system.http}/api/escalations", headers=token).json()["items"]
    assert {r["escalation_id"] for r in whole} & ids == ids  # without inbox: as before, the whole province
    assert {r["escalation_id"] for r in specialist.get("/api/escalations").json()["items"]} & ids == ids

    csrf = {"x-csrf-token": specialist.get("/api/me").json()["csrf_token"]}
    refused = specialist.post(f"/api/escalations/{id2}/acknowledge", json={}, headers=csrf)
    assert refused.status_code == 403 and refused.json()["error"] == "not_authorized", refused.text
    assert "leader" in refused.json()["message"]
    done = specialist.post(f"/api/escalations/{id1}/acknowledge", json={"action": "Đôn đốc Sở Tư pháp"}, headers=csrf)
    assert done.status_code == 202, done.text
    system.wait_projected(done.json()["sequence"])
    username = specialist.get("/api/me").json()["username"]
    row = next(r for r in specialist.get("/api/escalations", params={"status": "acknowledged"}).json()["items"]
               if r["escalation_id"] == id1)
    assert row["acknowledged_actor"] == f"Nguyễn Thị Hoa ({username})"
    assert row["acknowledged_by"] == "so-ngoai-vu: Nguyễn Thị Hoa"
    event = specialist.get(f"/api/events/{done.json()['id']}").json()["event"]
    assert event["actor"] == f"Nguyễn Thị Hoa ({username})" and event["data"]["action"] == "Đôn đốc Sở Tư pháp"
    assert inbox_of(specialist, status="open") & ids == set()  # acknowledged: no longer open in its inbox


async def test_a_specialist_cannot_accept_a_report_nor_propose_nor_decide_a_leader_can(system: System,
                                                                                     agency: dict[str, str]):
    unit = system.credentials("ha-tinh", "so-tu-phap")["token"]
    report = sample("report_submitted", agency="so-tu-phap")
    other = sample("report_submitted", agency="so-tu-phap")
    raised = sample("difficulty_raised", agency="so-tu-phap")
    for event in (report, other, raised):
        stored = post(system, unit, event)
        assert stored.status_code == 202, stored.text
    ack = sample("difficulty_acknowledged", aggregate_id=raised.subject.split("/")[1], data={"within_authority": False})
    stored = post(system, agency["token"], ack)
    assert stored.status_code == 202, stored.text
    system.wait_projected(stored.json()["sequence"])
    specialist = sign_in(system, add(system, "so-ngoai-vu", "specialist", "Nguyễn Thị Hoa", "Chuyên viên"))
    leader = sign_in(system, add(system, "so-ngoai-vu", "leader", "Trần Thị Bình", "Phó Giám đốc Sở Ngoại vụ"))
    report_id = report.subject.split("/")[1]

    accept = sample("report_accepted", aggregate_id=report_id)
    refused = write(specialist, accept)
    assert refused.status_code == 403 and refused.json()["error"] == "not_authorized", refused.text
    assert "lãnh đạo Sở Ngoại vụ" in refused.json()["problems"][0]["message"]
    kept = kept_refusal(system, agency["token"], accept.id)  # a refusal is kept with its reason
    assert kept["kind"] == "not_authorized" and "lãnh đạo" in str(kept["problems"]), kept
    accepted = write(leader, accept)
    assert accepted.status_code == 202, accepted.text
    system.wait_projected(accepted.json()["sequence"])
    rows = httpx.get(f"{system.http}/api/reports", headers={"authorization": f"Bearer {agency['token']}"},
                     params={"agency": "so-tu-phap"}, timeout=30).json()["items"]
    assert next(r for r in rows if r["report_id"] == report_id)["status"] == "accepted"
    stored_accept = leader.get(f"/api/events/{accept.id}").json()["event"]
    assert stored_accept["actor"].startswith("Trần Thị Bình (")

    returned = sample("report_returned", aggregate_id=other.subject.split("/")[1])
    assert write(specialist, returned).status_code == 403
    assert post(system, agency["token"], returned).status_code == 202  # the agency's system: as before

    difficulty = raised.subject.split("/")[1]
    escalate = sample("difficulty_escalated", aggregate_id=difficulty)
    assert write(specialist, escalate).json()["error"] == "not_authorized"
    proposed = write(leader, escalate)
    assert proposed.status_code == 202, proposed.text
    system.wait_projected(proposed.json()["sequence"])
    decide = sample("decision_issued", agency="van-phong-ubnd-tinh", aggregate_id=difficulty)
    clerk = sign_in(system, add(system, "van-phong-ubnd-tinh", "specialist", "Lê Thu", "Chuyên viên Văn phòng"))
    no = write(clerk, decide)
    assert no.status_code == 403 and "lãnh đạo UBND tỉnh" in no.json()["problems"][0]["message"]
    chief = sign_in(system, add(system, "van-phong-ubnd-tinh", "leader", "Võ Văn Hải", "Chánh Văn phòng UBND tỉnh"))
    decided = write(chief, decide)
    assert decided.status_code == 202, decided.text
    system.wait_projected(decided.json()["sequence"])
    found = chief.get("/api/difficulties", params={"status": "decision_issued"}).json()["items"]
    assert difficulty in {d["difficulty_id"] for d in found}
