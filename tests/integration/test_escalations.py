"""Escalations on the real stack with a moved clock: deadlines in working days across Tết, the
climb to the UBND's office, the difficulty path on SNgV's judgement, missing reports, delivery to a
durable subscriber (the target's and the late unit's own), restarts."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from schemas.codec import encode
from schemas.difficulty_lifecycle import StepLimits
from services.db import make_engine
from services.escalations.clock import MovableClock
from services.escalations.service import EscalationService
from services.natsauth import consumer_names
from services.store import ESCALATIONS_STREAM
from tests.support import System, nats_options, new_system, sample

pytestmark = pytest.mark.integration
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def vn(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VN)


@pytest.fixture(scope="module")
def esc(tmp_path_factory: pytest.TempPathFactory):
    """A system whose own escalation service is off: the tests drive one with a movable clock."""
    system = new_system(tmp_path_factory.mktemp("esc"), DOINGOAI_ESCALATIONS="false").start()
    yield system
    system.stop()


class Driver:
    def __init__(self, system: System, clock: MovableClock, nc, engine):
        self.system, self.clock = system, clock
        self.nc, self.engine = nc, engine
        self.service = EscalationService(nc, engine, clock, limits_by_province={"ha-tinh": StepLimits(acknowledge=4)})

    async def at(self, moment: str) -> list:
        """Move the clock, evaluate, wait until the read models hold the result."""
        self.clock.set(vn(moment))
        published = await self.service.tick()
        last = (await self.nc.jetstream().stream_info("DOINGOAI_EVENTS")).state.last_seq
        self.system.wait_projected(last)
        return published

    def escalations(self, **params: str) -> list[dict]:
        return self.system.get("/api/escalations", **params).json()["items"]


@pytest.fixture
async def driver(esc: System):
    nc = await esc.service_nats()
    engine = make_engine(esc.runtime()["database_url"], pool_size=2)
    yield Driver(esc, MovableClock(vn("2026-01-01T00:00:00")), nc, engine)
    await nc.close()
    await engine.dispose()


def post(system: System, creds: dict, event) -> int:
    r = httpx.post(f"{system.http}/events", content=encode(event), headers={
        "content-type": "application/cloudevents+json", "authorization": f"Bearer {creds['token']}"})
    assert r.status_code == 202, r.text
    return r.json()["sequence"]


async def test_difficulty_raised_the_week_before_tet_escalates_on_the_right_working_day_then_climbs(esc, driver):
    """Hà Tĩnh acknowledges within 4 working days: raised Tue 10/02/2026, the days left are 11, 12,
    13/02 and — after Tết (14–22/02) — 23/02, so it escalates on 24/02; unacknowledged, it climbs to
    the SNgV director, then to the office that receives SNgV's proposals for the UBND tỉnh."""
    creds = esc.credentials("ha-tinh", "so-noi-vu")
    event = sample("difficulty_raised", agency="so-noi-vu", aggregate_id="tet-2026")
    event = event.model_copy(update={"time": vn("2026-02-10T10:00:00")})
    esc.wait_projected(post(esc, creds, event))

    assert await driver.at("2026-02-12T23:00:00") == []
    # the reminder comes one working day before the deadline day 23/02: that is Fri 13/02, before Tết
    assert [e.type for e in await driver.at("2026-02-13T08:00:00")] == ["vn.gov.doingoai.escalation_reminded.v1"]
    assert await driver.at("2026-02-23T23:59:00") == []
    raised = await driver.at("2026-02-24T08:00:00")
    assert [(e.data["level"], e.data["target_agency"]) for e in raised] == [(1, "so-ngoai-vu")]
    assert raised[0].data["cause_subject"] == "difficulty/tet-2026"

    assert await driver.at("2026-02-25T17:00:00") == []  # level 1 has until the end of Wed 25/02
    climbed = await driver.at("2026-02-26T08:00:00")
    assert [(e.data["level"], e.data["target_role"]) for e in climbed] == [(2, "Giám đốc Sở Ngoại vụ")]
    assert await driver.at("2026-03-02T17:00:00") == []  # level 2 has until the end of Mon 02/03
    top = await driver.at("2026-03-03T08:00:00")
    assert [(e.data["level"], e.data["target_agency"]) for e in top] == [(3, "van-phong-ubnd-tinh")]
    rows = driver.escalations(target="van-phong-ubnd-tinh", status="open")
    assert [r["cause_subject"] for r in rows] == ["difficulty/tet-2026"]


async def test_acknowledging_stops_the_climb_and_resolving_closes(esc, driver):
    creds = esc.credentials("ha-tinh", "so-tu-phap")
    sngv = esc.credentials("ha-tinh", "so-ngoai-vu")
    event = sample("difficulty_raised", agency="so-tu-phap", aggregate_id="ack-2026")
    esc.wait_projected(post(esc, creds, event.model_copy(update={"time": vn("2026-03-02T09:00:00")})))
    raised = await driver.at("2026-03-09T08:00:00")
    esc_id = next(e.subject.split("/")[1] for e in raised if e.data["cause_subject"] == "difficulty/ack-2026")
    r = httpx.post(f"{esc.http}/api/escalations/{esc_id}/acknowledge",
                   json={"by": {"name": "Nguyễn Văn An"}, "action": "Đã liên hệ Sở Tư pháp"},
                   headers={"authorization": f"Bearer {sngv['token']}"})
    assert r.status_code == 202, r.text
    other = httpx.post(f"{esc.http}/api/escalations/{esc_id}/acknowledge",
                       headers={"authorization": f"Bearer {creds['token']}"})
    assert other.status_code == 403
    esc.wait_projected(r.json()["sequence"])
    assert await driver.at("2026-03-21T08:00:00") == []  # acknowledged: no climb
    assert driver.escalations(status="acknowledged")[0]["escalation_id"] == esc_id

    ack = sample("difficulty_acknowledged", aggregate_id="ack-2026")
    esc.wait_projected(post(esc, sngv, ack.model_copy(update={"time": vn("2026-03-22T09:00:00")})))
    closed = await driver.at("2026-03-23T08:00:00")
    assert [e.type for e in closed if e.data.get("cause_subject") == "difficulty/ack-2026"] == [
        "vn.gov.doingoai.escalation_closed.v1"]


async def test_a_missing_ha_tinh_six_month_report_escalates_after_25_may(esc, driver):
    """Plan 53/KH-UBND, once issued, sets the units' 6-month report before 25/5 of 2021."""
    sngv = esc.credentials("ha-tinh", "so-ngoai-vu")
    issued = sample("plan_issued", aggregate_id="ha-tinh-53-2021",
                    data={"number": "53/KH-UBND", "issued_on": "2021-02-26"})
    esc.wait_projected(post(esc, sngv, issued))
    creds = esc.credentials("ha-tinh", "so-y-te")
    report = sample("report_submitted", agency="so-y-te", aggregate_id="ht-so-y-te-2021-H1",
                    data={"period": "2021-H1", "report_kind": "semiannual", "submitted_on": "2021-05-20"})
    esc.wait_projected(post(esc, creds, report))
    before = await driver.at("2021-05-25T20:00:00")
    assert not [e for e in before if e.type.endswith("escalation_raised.v1")]
    after = await driver.at("2021-05-26T08:00:00")
    missing = {e.data["responsible_agency"] for e in after if e.data.get("trigger") == "report_missing"}
    assert "so-tu-phap" in missing and "so-y-te" not in missing
    row = next(r for r in driver.escalations(trigger="report_missing") if r["responsible_agency"] == "so-tu-phap")
    assert row["period"] == "2021-H1" and row["due_at"].startswith("2021-05-25T")


async def test_an_offline_subscriber_gets_every_escalation_once_in_order_and_a_restart_duplicates_none(esc, driver):
    sngv = esc.credentials("kon-tum", "so-ngoai-vu")
    unit = esc.credentials("kon-tum", "so-noi-vu")
    own = "doingoai.escalations.kon-tum.so-ngoai-vu"
    durable, peek = consumer_names("kon-tum", "so-ngoai-vu")[:2]  # kon-tum_so-ngoai-vu_1, _2: SNgV's own names
    nc = await nats.connect(sngv["nats_url"], **nats_options(sngv))
    js = nc.jetstream()
    await js.add_consumer(ESCALATIONS_STREAM, ConsumerConfig(
        name=durable, durable_name=durable, filter_subject=own, ack_policy=AckPolicy.EXPLICIT))
    await nc.close()  # the subscriber goes offline

    for n in range(3):  # three difficulties of Mon 04/05, due by the end of Wed 06/05
        event = sample("difficulty_raised", province="kon-tum", agency="so-noi-vu", aggregate_id=f"kt-{n}")
        esc.wait_projected(post(esc, unit, event.model_copy(update={"time": vn(f"2026-05-04T0{7 + n}:00:00")})))
    raised = await driver.at("2026-05-07T08:00:00")
    assert [e.data["cause_subject"] for e in raised if e.type.endswith("raised.v1") and e.source.startswith(
        "/provinces/kon-tum/")] == [
        "difficulty/kt-0", "difficulty/kt-1", "difficulty/kt-2"]
    restarted = EscalationService(driver.nc, driver.engine, driver.clock)  # a new process, same history
    assert await restarted.tick() == []

    nc = await nats.connect(sngv["nats_url"], **nats_options(sngv))
    try:
        sub = await nc.jetstream().pull_subscribe_bind(durable=durable, stream=ESCALATIONS_STREAM)
        got = []
        for _ in range(5):
            try:
                msgs = await sub.fetch(10, timeout=1)
            except (nats.errors.TimeoutError, TimeoutError):  # nats-py raises either when nothing is left
                break
            for m in msgs:
                got.append(m)
                await m.ack()
        raised = [m for m in got if b"escalation_raised" in m.data]
        causes = [__import__("json").loads(m.data)["data"]["cause_subject"] for m in raised]
        assert causes == ["difficulty/kt-0", "difficulty/kt-1", "difficulty/kt-2"]
        assert len({m.headers["Nats-Msg-Id"] for m in got}) == len(got)
        with pytest.raises(nats.errors.Error):
            await nc.jetstream().add_consumer(ESCALATIONS_STREAM, ConsumerConfig(
                name=peek, durable_name=peek, filter_subject="doingoai.escalations.ha-tinh.so-ngoai-vu"),
                timeout=2)
    finally:
        await nc.close()


async def pull(creds: dict, durable: str, want: int, wait: float = 20) -> list:
    """Pull from an agency's own durable consumer (as the agency, with its inbox prefix) until `want`
    messages came or `wait` seconds passed; ack them. Returns the messages."""
    nc = await nats.connect(creds["nats_url"], **nats_options(creds))
    got: list = []
    try:
        sub = await nc.jetstream().pull_subscribe_bind(durable=durable, stream=ESCALATIONS_STREAM)
        deadline = asyncio.get_running_loop().time() + wait
        while len(got) < want and asyncio.get_running_loop().time() < deadline:
            try:
                msgs = await sub.fetch(10, timeout=1)
            except (nats.errors.TimeoutError, TimeoutError):  # nats-py raises either when nothing is left
                continue
            for m in msgs:
                got.append(m)
                await m.ack()
    finally:
        await nc.close()
    return got


async def own_consumer(creds: dict, province: str, agency: str) -> str:
    """The agency's durable consumer `<province>_<agency>_1` on its own escalation subject."""
    durable = consumer_names(province, agency)[0]
    nc = await nats.connect(creds["nats_url"], **nats_options(creds))
    try:
        await nc.jetstream().add_consumer(ESCALATIONS_STREAM, ConsumerConfig(
            name=durable, durable_name=durable, filter_subject=f"doingoai.escalations.{province}.{agency}",
            ack_policy=AckPolicy.EXPLICIT))
    finally:
        await nc.close()
    return durable


def of(events: list, subject: str) -> list[tuple]:
    return [(e.data["level"], e.data["trigger"], e.data["target_agency"], e.data["responsible_agency"])
            for e in events if e.type.endswith("escalation_raised.v1") and e.data["cause_subject"] == subject]


async def test_sngv_s_judgement_not_the_raisers_flag_takes_a_difficulty_to_the_ubnd_office(esc, driver):
    """Gia Lai, default limits. Both difficulties are raised on Mon 05/10/2026 and acknowledged the
    same day: `gl-flag` carries the raiser's beyond_authority and SNgV says nothing of it; SNgV judges
    `gl-judged` beyond its authority. The flag escalates nothing by itself (an earlier version had
    it at the UBND by Mon 12/10): both wait for the step's 10 working days (end of Mon 19/10), the
    judged one as SNgV's proposal step, and climb to the UBND's office. SNgV's proposal (tờ trình)
    closes that and starts the UBND's decision timer (decide_by), whose office is then responsible
    and is told on its own subject."""
    unit = esc.credentials("gia-lai", "so-noi-vu")
    sngv = esc.credentials("gia-lai", "so-ngoai-vu")
    office = esc.credentials("gia-lai", "van-phong-ubnd-tinh")
    for key, flag, minute in (("gl-flag", True, 0), ("gl-judged", False, 5)):
        raised = sample("difficulty_raised", province="gia-lai", agency="so-noi-vu", aggregate_id=key,
                        data={"beyond_authority": flag, "topic": f"Vướng mắc {key}"})
        post(esc, unit, raised.model_copy(update={"time": vn(f"2026-10-05T09:0{minute}:00")}))
    for key, within, minute in (("gl-flag", None, 0), ("gl-judged", False, 5)):
        ack = sample("difficulty_acknowledged", province="gia-lai", aggregate_id=key,
                     data={"acknowledged_on": "2026-10-05", "within_authority": within, "respond_by": None})
        last = post(esc, sngv, ack.model_copy(update={"time": vn(f"2026-10-05T10:0{minute}:00")}))
    esc.wait_projected(last)
    listed = {d["difficulty_id"]: (d["beyond_authority"], d["within_authority"])
              for d in esc.get("/api/difficulties", province="gia-lai").json()["items"]}
    assert listed == {"gl-flag": (True, None), "gl-judged": (False, False)}  # the raiser's view, SNgV's judgement

    quiet = await driver.at("2026-10-13T08:00:00")
    assert of(quiet, "difficulty/gl-flag") == [] and of(quiet, "difficulty/gl-judged") == []
    reminded = await driver.at("2026-10-19T23:00:00")  # reminded from the working day before the deadline
    assert sorted(e.data["cause_subject"] for e in reminded if e.type.endswith("escalation_reminded.v1")
                  and e.data["cause_subject"].startswith("difficulty/gl-")) == [
        "difficulty/gl-flag", "difficulty/gl-judged"]
    assert of(reminded, "difficulty/gl-flag") == [] and of(reminded, "difficulty/gl-judged") == []
    first = await driver.at("2026-10-20T08:00:00")
    assert of(first, "difficulty/gl-flag") == [(1, "difficulty_unhandled", "so-ngoai-vu", "so-ngoai-vu")]
    assert of(first, "difficulty/gl-judged") == [(1, "difficulty_beyond_authority", "so-ngoai-vu", "so-ngoai-vu")]
    second = await driver.at("2026-10-22T08:00:00")
    assert [lv for lv, *_ in of(second, "difficulty/gl-judged")] == [2]
    top = await driver.at("2026-10-27T08:00:00")
    assert of(top, "difficulty/gl-judged") == [(3, "difficulty_beyond_authority", "van-phong-ubnd-tinh",
                                                "so-ngoai-vu")]
    inbox = driver.escalations(province="gia-lai", target="van-phong-ubnd-tinh", status="open")
    assert {(r["cause_subject"], r["trigger"]) for r in inbox} == {
        ("difficulty/gl-judged", "difficulty_beyond_authority"), ("difficulty/gl-flag", "difficulty_unhandled")}

    proposal = sample("difficulty_escalated", province="gia-lai", aggregate_id="gl-judged", data={
        "escalated_on": "2026-10-28", "decide_by": "2026-11-06",
        "document": {"number": "12/TTr-SNgV", "issued_on": "2026-10-28", "issuer": "Sở Ngoại vụ Gia Lai"}})
    esc.wait_projected(post(esc, sngv, proposal.model_copy(update={"time": vn("2026-10-28T09:00:00")})))
    closed = await driver.at("2026-10-29T08:00:00")
    assert sum(1 for e in closed if e.type.endswith("escalation_closed.v1")
               and e.data["cause_subject"] == "difficulty/gl-judged") == 3
    before = await driver.at("2026-11-06T20:00:00")  # decide_by is not past: its office is only reminded
    assert [e.data["target_agency"] for e in before if e.data.get("cause_subject") == "difficulty/gl-judged"] == [
        "van-phong-ubnd-tinh"]
    assert of(before, "difficulty/gl-judged") == []
    late = await driver.at("2026-11-09T08:00:00")
    assert of(late, "difficulty/gl-judged") == [(1, "difficulty_beyond_authority", "so-ngoai-vu",
                                                 "van-phong-ubnd-tinh")]
    [decide] = [e for e in late if e.data.get("cause_subject") == "difficulty/gl-judged"]
    assert "Tờ trình số 12/TTr-SNgV" in decide.data["message"] and "06/11/2026" in decide.data["message"]

    # the office's own consumer gets what reached it as the target (level 3, the reminder of its own
    # step) and, once, the copy of the escalation of its own late decision
    durable = await own_consumer(office, "gia-lai", "van-phong-ubnd-tinh")
    got = await pull(office, durable, want=4)
    data = [json.loads(m.data)["data"] for m in got]
    assert sorted((d["cause_subject"], d.get("level", 0), d["target_agency"]) for d in data) == [
        ("difficulty/gl-flag", 3, "van-phong-ubnd-tinh"), ("difficulty/gl-judged", 0, "van-phong-ubnd-tinh"),
        ("difficulty/gl-judged", 1, "so-ngoai-vu"), ("difficulty/gl-judged", 3, "van-phong-ubnd-tinh")]
    copy = next(m for m, d in zip(got, data, strict=True) if d.get("level") == 1)
    assert copy.headers["Nats-Msg-Id"] == f"van-phong-ubnd-tinh {decide.source} {decide.id}"
    assert len({m.headers["Nats-Msg-Id"] for m in got}) == len(got)

    decision = sample("decision_issued", province="gia-lai", agency="van-phong-ubnd-tinh", aggregate_id="gl-judged",
                      data={"decided_by": "van-phong-ubnd-tinh"})
    esc.wait_projected(post(esc, office, decision.model_copy(update={"time": vn("2026-11-10T09:00:00")})))
    done = await driver.at("2026-11-11T08:00:00")
    assert [e.data["cause_subject"] for e in done if e.type.endswith("escalation_closed.v1")
            and e.data["cause_subject"] == "difficulty/gl-judged"] == ["difficulty/gl-judged"]


async def test_a_late_unit_receives_its_escalation_on_its_own_subject_once_and_only_the_target_acknowledges(
        esc, driver):
    """Đồng Nai: a task led by Sở Nội vụ, due Mon 02/11/2026, is not completed. Its escalation goes to
    SNgV (level 1) and to Sở Nội vụ itself on doingoai.escalations.dong-nai.so-noi-vu (đôn đốc), each
    once, with message ids of their own; a restarted service adds nothing. Sở Nội vụ acts by doing
    the task: it may not acknowledge the escalation, SNgV may."""
    sngv = esc.credentials("dong-nai", "so-ngoai-vu")
    unit = esc.credentials("dong-nai", "so-noi-vu")
    task = sample("task_assigned", province="dong-nai", aggregate_id="dn-task-1", data={
        "plan_id": "dong-nai-175-2022", "task_number": "9", "lead_agencies": ["so-noi-vu"],
        "coordinating_agencies": [], "due_date": "2026-11-02", "title": "Tổng kết công tác đối ngoại nhân dân"})
    esc.wait_projected(post(esc, sngv, task.model_copy(update={"time": vn("2026-10-01T09:00:00")})))
    unit_durable = await own_consumer(unit, "dong-nai", "so-noi-vu")
    sngv_durable = await own_consumer(sngv, "dong-nai", "so-ngoai-vu")

    raised = await driver.at("2026-11-03T08:00:00")
    assert of(raised, "task/dn-task-1") == [(1, "task_overdue", "so-ngoai-vu", "so-noi-vu")]
    [event] = [e for e in raised if e.data.get("cause_subject") == "task/dn-task-1"]
    restarted = EscalationService(driver.nc, driver.engine, driver.clock)
    assert await restarted.tick() == []

    [to_unit] = await pull(unit, unit_durable, want=1)
    [to_sngv] = await pull(sngv, sngv_durable, want=1)
    assert json.loads(to_unit.data)["id"] == json.loads(to_sngv.data)["id"] == event.id
    assert to_unit.subject == "doingoai.escalations.dong-nai.so-noi-vu"
    assert to_unit.headers["Nats-Msg-Id"] == f"so-noi-vu {event.source} {event.id}"
    assert to_sngv.headers["Nats-Msg-Id"] == f"{event.source} {event.id}"
    assert await pull(unit, unit_durable, want=1, wait=3) == []  # once

    esc_id = event.subject.split("/")[1]
    refused = httpx.post(f"{esc.http}/api/escalations/{esc_id}/acknowledge",
                         headers={"authorization": f"Bearer {unit['token']}"})
    assert refused.status_code == 403
    ok = httpx.post(f"{esc.http}/api/escalations/{esc_id}/acknowledge",
                    headers={"authorization": f"Bearer {sngv['token']}"})
    assert ok.status_code == 202, ok.text
    esc.wait_projected(ok.json()["sequence"])
    acknowledged = esc.get("/api/escalations", province="dong-nai", status="acknowledged").json()["items"]
    assert [(r["escalation_id"], r["responsible_agency"]) for r in acknowledged] == [(esc_id, "so-noi-vu")]
