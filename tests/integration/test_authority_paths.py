"""Who may say what (DOMAIN.md; CONTRACT.md §2, Authority) on the real stack, over both paths: for every
event type of the table the publisher the plans name is projected, and a wrong one (another agency of
the province, or the same agency of another province) is refused, over HTTP with 403 `not_authorized`
where the door can decide, over NATS as a `not_authorized` rejection, leaving the read model as it was.
Published in three rounds, each projected once: the aggregates' earlier steps, the allowed events, the
wrong ones (so that the door knows every aggregate) with the probes of what it cannot decide."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, NamedTuple

import httpx
import nats
import pytest
from sqlalchemy import select

from projections.models.catalogue import all_projections
from projections.models.rows import RowProjection
from schemas.authority import RULES
from schemas.codec import encode
from schemas.envelope import CloudEvent
from services.credentials import issue
from services.db import make_engine
from tests.support import System, nats_options, sample

pytestmark = pytest.mark.integration
A, B = f"tinh-{uuid.uuid4().hex[:6]}", f"tinh-{uuid.uuid4().hex[:6]}"
F, N, T, U, V, Y = "so-ngoai-vu", "so-noi-vu", "so-tu-phap", "ubnd-tinh", "van-phong-ubnd-tinh", "so-y-te"
SYS, FB, NB, UB = "doingoai", f"B:{F}", f"B:{N}", f"B:{U}"  # B:<agency>: the same agency in province B
CE, BATCH = "application/cloudevents+json", "application/cloudevents-batch+json"
PROJECTION = {name: p for p in all_projections() if isinstance(p, RowProjection) for name in p.reducers}
"""The read-model table of each event type."""
FAR = ("9999-12-31T20:00:00+00:00", "9999-12-31T20:00:00-05:00")
"""Times far ahead of their recording; the second has no moment in UTC (past year 9999 there)."""


def who(publisher: str) -> tuple[str, str]:
    return (B, publisher[2:]) if publisher.startswith("B:") else (A, publisher)


class Wrong(NamedTuple):
    publisher: str
    path: str  # of the refusal's problem: source (not its word), subject (not its province's), data.<field>
    data: dict[str, Any]


class Case(NamedTuple):
    name: str
    allowed: str
    via: str
    wrong: tuple[Wrong, ...]
    setup: tuple[tuple[str, str, dict[str, Any]], ...]  # earlier events of the aggregate: (publisher, name, data)
    data: dict[str, Any]
    shows: dict[str, Any]  # columns of the row once the allowed event is projected
    ident: str


def case(name: str, allowed: str, via: str, *wrong: Wrong, setup: tuple = (), data: dict | None = None,
         ident: str | None = None, **shows: Any) -> Case:
    return Case(name, allowed, via, wrong, setup, data or {}, shows, ident or uuid.uuid4().hex[:12])


def w(publisher: str, path: str = "source", **data: Any) -> Wrong:
    return Wrong(publisher, path, data)


RAISED = ((N, "difficulty_raised", {}),)
ACKED = (*RAISED, (F, "difficulty_acknowledged", {}))
TASK = ((F, "task_assigned", {"lead_agencies": [N], "coordinating_agencies": [Y]}),)
ESCALATION = ((SYS, "escalation_raised", {"target_agency": F}),)
OWN = (("activity_planned", "http", "planned"), ("activity_held", "nats", "held"),
       ("delegation_received", "http", "received"), ("delegation_sent", "nats", "sent"),
       ("conference_held", "http", "held"), ("agreement_signed", "nats", "signed"),
       ("aid_committed", "http", "committed"), ("difficulty_raised", "nats", "raised"))
CASES = [
    # an agency's own aggregates: another agency of the province does not speak of them; the same
    # agency of another province opens one of its own there, and never reaches this one
    *(case(name, N, via, w(T), *([w(NB, "subject")] if name == "activity_held" else []), agency=N, status=status)
      for name, via, status in OWN),
    case("information_shared", N, "http", w(T), agency=N),
    case("report_submitted", N, "nats", w(T), w(NB, "subject"), ident=f"{A}-{N}-2021-H1", agency=N,
         status="submitted"),
    case("activity_cancelled", N, "http", w(T), setup=((N, "activity_planned", {}),), status="cancelled"),
    # the focal agency's or the UBND's word
    case("partner_registered", F, "nats", w(T, name_vi="Đối tác khác"), data={"slug": f"doi-tac-{A}"},
         country="LA"),
    case("plan_issued", V, "http", w(T), w(N), agency=V),
    case("task_assigned", F, "nats", w(T), data=dict(TASK[0][2]), status="assigned"),
    case("report_requested", U, "http", w(T), period="2021-H1"),
    # a party of the task, for itself; another province's agency completing a task of A
    case("task_progress_reported", N, "nats", w(T), w(NB, "subject"), setup=TASK, status="in_progress"),
    case("task_completed", Y, "http", w(T), w(NB, "subject"), setup=TASK, status="completed"),
    # Sở Tư pháp, a recipient, acknowledging on behalf of Sở Nội vụ
    case("information_acknowledged", Y, "nats", w(T, "data.agency", agency=N), w(U), w(NB, "subject"),
         setup=((F, "information_shared", {"recipients": [N, Y, T]}),), acknowledged=[Y]),
    # Sở Tư pháp accepting its own report
    case("report_accepted", F, "http", w(T), w(FB, "subject"), setup=((T, "report_submitted", {}),),
         status="accepted"),
    case("report_returned", F, "nats", w(T), w(F, "data.returned_to", returned_to=T),
         setup=((N, "report_submitted", {}),), data={"returned_to": N}, status="returned"),
    # difficulties: SNgV's word, then the UBND's; Sở Tư pháp issuing guidance on Sở Nội vụ's difficulty;
    # another province's UBND deciding on A's difficulty
    case("difficulty_acknowledged", F, "http", w(T), w(FB, "subject"), setup=RAISED, status="acknowledged"),
    case("guidance_issued", F, "nats", w(T), w(FB, "subject"), setup=ACKED, status="guidance_issued"),
    case("difficulty_escalated", F, "http", w(N), w(U), setup=ACKED, status="escalated"),
    case("decision_issued", U, "nats", w(F), w(UB, "subject"), setup=(*ACKED, (F, "difficulty_escalated", {})),
         status="decision_issued"),
    case("difficulty_resolved", N, "http", w(T), w(NB, "subject"), setup=(*ACKED, (F, "guidance_issued", {})),
         status="resolved"),
    # the system alone raises, reminds and closes; Sở Tư pháp acknowledging an escalation addressed to
    # SNgV, and closing one
    case("escalation_raised", SYS, "nats", w(F), data={"target_agency": F}, status="open", level=1),
    case("escalation_reminded", SYS, "nats", w(N), status="open", level=0),
    case("escalation_acknowledged", F, "http", w(T), w(FB, "subject"), setup=ESCALATION, status="acknowledged"),
    case("escalation_closed", SYS, "nats", w(T), w(F), setup=ESCALATION, status="closed"),
]
BY_NAME = {c.name: c for c in CASES}
REPRODUCTIONS = {("escalation_acknowledged", T), ("escalation_closed", T), ("guidance_issued", T),
                 ("report_accepted", T), ("information_acknowledged", T),
                 ("decision_issued", UB), ("task_completed", NB), ("report_submitted", NB)}


def event(name: str, publisher: str, data: dict[str, Any], ident: str) -> CloudEvent:
    """An event of `publisher`, speaking for itself in the field that names it unless `data` says otherwise."""
    province, agency = who(publisher)
    itself = RULES[name].itself
    return sample(name, province=province, agency=agency, aggregate_id=ident,
                  data={**({itself: agency} if itself else {}), **data})


def key_of(name: str, ev: CloudEvent) -> str:
    p = PROJECTION[name]
    return ev.subject if p.key == "subject" else ev.data["slug"] if p.key == "slug" else ev.subject.split("/", 1)[1]


def opens_elsewhere(c: Case, wrong: Wrong) -> bool:
    """The same agency of another province, with an event that opens an aggregate: over NATS it opens
    one of that province's own (the door refuses it while only A holds the subject)."""
    return who(wrong.publisher)[0] != A and RULES[c.name].opens


class Attempt(NamedTuple):
    wrong: Wrong
    response: httpx.Response
    http_id: str
    nats_id: str
    seq: int


class World:
    """The three rounds, published and projected: what came back, what the read models show."""

    def __init__(self, system: System):
        self.system, self.last = system, 0
        self.http = httpx.AsyncClient(base_url=system.http, timeout=30)
        self.engine = make_engine(system.runtime()["database_url"], pool_size=2)
        self.creds: dict[str, dict[str, str]] = {}
        self.conns: dict[str, nats.aio.client.Client] = {}
        self.allowed: dict[str, tuple[CloudEvent, int]] = {}
        self.attempts: dict[str, list[Attempt]] = {c.name: [] for c in CASES}
        self.probes: dict[str, Any] = {}
        self.refused: set[str] = set()  # ids of the events a rejection is expected of

    async def close(self) -> None:
        for nc in self.conns.values():
            await nc.close()
        await self.http.aclose()
        await self.engine.dispose()

    async def nats(self, publisher: str, name: str, body: bytes) -> int:
        if publisher not in self.conns:
            c = self.creds.get(publisher)
            self.conns[publisher] = await (self.system.service_nats() if c is None else nats.connect(
                c["nats_url"], **nats_options(c)))
        province, agency = who(publisher)
        ack = await self.conns[publisher].jetstream().publish(f"doingoai.events.{province}.{agency}.{name}", body)
        self.last = max(self.last, ack.seq)
        return ack.seq

    async def post(self, publisher: str, body: bytes, content_type: str = CE) -> httpx.Response:
        r = await self.http.post("/events", content=body, headers={
            "content-type": content_type, "authorization": f"Bearer {self.creds[publisher]['token']}"})
        if r.status_code == 202:
            self.last = max(self.last, *(x["sequence"] for x in r.json().get("results", [r.json()])))
        return r

    async def send(self, publisher: str, ev: CloudEvent, via: str) -> int:
        if via == "nats":
            return await self.nats(publisher, ev.type.split(".")[3], encode(ev))
        r = await self.post(publisher, encode(ev))
        assert r.status_code == 202, r.text
        return int(r.json()["sequence"])

    async def row(self, name: str, ev: CloudEvent, province: str = A) -> dict[str, Any] | None:
        p = PROJECTION[name]
        async with self.engine.connect() as conn:
            found = (await conn.execute(select(p.table).where(
                p.table.c.province == province, p.table.c[p.key] == key_of(name, ev)))).mappings().first()
        return dict(found) if found is not None else None

    async def rows(self) -> dict[str, dict[str, Any] | None]:
        return {name: await self.row(name, ev) for name, (ev, _) in self.allowed.items()}

    async def run(self) -> None:
        publishers = (F, N, T, U, V, Y, FB, NB, UB)
        for publisher in publishers[:-1]:  # the CLI takes seconds a call: issued here, then the CLI issues
            issued = await issue(self.engine, *who(publisher))  # the last and reloads every NATS user once
            self.creds[publisher] = {**issued, "nats_url": self.system.runtime()["nats_url"]}
        self.creds[publishers[-1]] = self.system.credentials(*who(publishers[-1]))
        for c in CASES:  # round 1: the earlier steps of each aggregate
            for publisher, name, data in c.setup:
                await self.nats(publisher, name, encode(event(name, publisher, data, c.ident)))
        self.system.wait_projected(self.last)
        for c in CASES:  # round 2: the publisher the plans name
            ev = event(c.name, c.allowed, c.data, c.ident)
            self.allowed[c.name] = ev, await self.send(c.allowed, ev, c.via)
        self.system.wait_projected(self.last)
        self.before = await self.rows()
        for c in CASES:  # round 3: wrong publishers, over HTTP, then over NATS
            for wrong in c.wrong:
                over_http, over_nats = (event(c.name, wrong.publisher, {**c.data, **wrong.data}, c.ident)
                                        for _ in range(2))
                response = await self.post(wrong.publisher, encode(over_http))
                seq = await self.nats(wrong.publisher, c.name, encode(over_nats))
                self.attempts[c.name].append(Attempt(wrong, response, over_http.id, over_nats.id, seq))
                self.refused |= {over_http.id} if opens_elsewhere(c, wrong) else {over_http.id, over_nats.id}
        await self.publish_probes()
        self.system.wait_projected(self.last)
        self.after = await self.rows()
        self.rejected = self.rejections()

    async def publish_probes(self) -> None:
        p = self.probes
        # a forged escalation at level 3, on both paths
        forged = [event("escalation_raised", N, {"level": 3, "target_agency": U}, f"forged-{A}") for _ in range(2)]
        p["forged"] = forged, await self.post(N, encode(forged[0])), await self.nats(
            N, "escalation_raised", encode(forged[1]))
        # a time far ahead of its recording, on both paths
        for moment in FAR:
            far = [{**json.loads(encode(event("difficulty_raised", N, {}, uuid.uuid4().hex))), "time": moment}
                   for _ in range(2)]
            p[moment] = far, await self.post(N, json.dumps(far[0]).encode()), await self.nats(
                N, "difficulty_raised", json.dumps(far[1]).encode())
        # what the door cannot decide: a task assigned and completed by SNgV, which is not its party,
        # in one batch; a task completed that no one assigned
        task = uuid.uuid4().hex
        batch = [event("task_assigned", F, {"lead_agencies": [N], "coordinating_agencies": []}, task),
                 event("task_completed", F, {}, task)]
        p["batch"] = batch, await self.post(F, json.dumps([json.loads(encode(e)) for e in batch]).encode(), BATCH)
        nobody = event("task_completed", T, {}, uuid.uuid4().hex)
        p["unassigned"] = nobody, await self.post(T, encode(nobody))
        self.refused |= {e.id for e in (*forged, batch[1], nobody)} | {e["id"] for m in FAR for e in p[m][0]}

    def rejections(self, timeout: float = 60) -> dict[str, list[dict[str, Any]]]:
        """The rejections by event id, as GET /api/rejected lists them, once it lists all those
        expected (HTTP refusals reach it through the rejected stream)."""
        deadline = time.monotonic() + timeout
        while True:
            found: dict[str, list[dict[str, Any]]] = {}
            for province in (A, B):
                for row in self.system.get("/api/rejected", province=province, limit=10000).json()["items"]:
                    found.setdefault(row["event_id"], []).append(row)
            if self.refused <= set(found) or time.monotonic() > deadline:
                return found
            time.sleep(0.2)


@pytest.fixture(scope="module")
async def world(system: System):
    world = World(system)
    try:
        await world.run()
        yield world
    finally:
        await world.close()


def test_every_event_type_of_the_table_has_a_case_and_both_paths_are_used():
    assert sorted(BY_NAME) == sorted(RULES) and len(CASES) == len(RULES)
    assert {c.via for c in CASES} == {"http", "nats"}
    assert REPRODUCTIONS <= {(c.name, wrong.publisher) for c in CASES for wrong in c.wrong}


@pytest.mark.parametrize("name", list(BY_NAME))
async def test_the_publisher_the_plans_name_is_projected(world: World, name: str):
    ev, seq = world.allowed[name]
    row = world.before[name]
    assert row is not None and row["last_seq"] == seq, (row, seq)
    assert {k: row[k] for k in BY_NAME[name].shows} == BY_NAME[name].shows
    assert ev.id not in world.rejected


@pytest.mark.parametrize("name", list(BY_NAME))
async def test_a_wrong_publisher_is_refused_on_both_paths_and_the_row_is_unchanged(world: World, name: str):
    c = BY_NAME[name]
    assert world.after[name] == world.before[name]
    assert len(world.attempts[name]) == len(c.wrong) > 0
    for a in world.attempts[name]:
        province, agency = who(a.wrong.publisher)
        body = a.response.json()
        assert (a.response.status_code, body["error"]) == (403, "not_authorized"), (a.wrong, body)
        assert body["problems"][0]["path"] == a.wrong.path, (a.wrong, body)
        [kept] = world.rejected[a.http_id]
        assert (kept["kind"], kept["path"], kept["publisher"]) == ("not_authorized", "http", f"{province}.{agency}")
        if opens_elsewhere(c, a.wrong):  # its own aggregate in its own province
            assert a.nats_id not in world.rejected
            mine = await world.row(name, world.allowed[name][0], province=B)
            assert mine is not None and mine["last_seq"] == a.seq and mine["agency"] == agency
            continue
        [row] = world.rejected[a.nats_id]
        assert (row["kind"], row["path"], row["stream_seq"]) == ("not_authorized", "nats", a.seq), (a.wrong, row)
        assert row["publisher"] == f"{province}.{agency}"
        [problem] = row["problems"]
        assert problem["path"] == a.wrong.path and problem["message"], (a.wrong, row)
        assert a.wrong.path != "source" or f"not {agency}" in problem["message"]


async def test_a_report_of_province_a_stays_a_s_whatever_another_province_submits(world: World):
    ev, seq = world.allowed["report_submitted"]
    assert ev.subject == f"report/{A}-so-noi-vu-2021-H1"
    items = world.system.get("/api/reports", province=A, period="2021-H1").json()["items"]
    [mine] = [r for r in items if r["report_id"] == key_of("report_submitted", ev)]
    assert (mine["province"], mine["agency"], mine["status"], mine["last_seq"]) == (A, N, "submitted", seq)


async def test_a_forged_escalation_at_level_3_is_refused_and_never_listed(world: World):
    (over_http, over_nats), response, seq = world.probes["forged"]
    assert response.status_code == 403 and response.json()["error"] == "not_authorized"
    assert "system alone" in response.json()["problems"][0]["message"]
    [row] = world.rejected[over_nats.id]
    assert (row["kind"], row["stream_seq"]) == ("not_authorized", seq)
    listed = world.system.get("/api/escalations", province=A, reminders="true").json()
    ids = {e["escalation_id"] for e in listed["items"]}
    assert key_of("escalation_raised", over_http) not in ids and ids  # the allowed ones are listed


@pytest.mark.parametrize("moment", FAR)
async def test_a_time_far_ahead_is_refused_as_a_bad_envelope_on_both_paths(world: World, moment: str):
    (over_http, over_nats), response, seq = world.probes[moment]
    assert response.status_code == 422
    assert response.json()["error"] == "bad_envelope" and response.json()["problems"][0]["path"] == "time"
    [row] = world.rejected[over_nats["id"]]
    assert (row["kind"], row["stream_seq"], row["problems"][0]["path"]) == ("bad_envelope", seq, "time")
    assert world.rejected[over_http["id"]][0]["kind"] == "bad_envelope"


async def test_what_the_door_cannot_decide_is_taken_then_refused_by_the_projection(world: World):
    (assigned, completed), response = world.probes["batch"]
    assert response.status_code == 202, response.text
    [row] = world.rejected[completed.id]
    assert (row["kind"], row["problems"][0]["path"]) == ("not_authorized", "source")
    task = await world.row("task_assigned", assigned)
    assert task is not None and task["status"] == "assigned" and task["completed_on"] is None
    nobody, response = world.probes["unassigned"]
    assert response.status_code == 202, response.text
    [row] = world.rejected[nobody.id]
    assert (row["kind"], row["problems"][0]["path"]) == ("not_authorized", "subject")
    assert await world.row("task_completed", nobody) is None
