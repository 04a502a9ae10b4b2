"""Each agency speaks only for itself, and every bad event is kept with its reason: on the real
stack (nats-server with the generated authorization, PostgreSQL, the HTTP service)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import nats
import pytest
from nats.js.errors import NotFoundError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.engine.batch import Batch
from projections.engine.runner import Runner
from projections.models.event_index import EventIndex
from projections.models.handlers import events_handler, park_poison
from projections.models.rows import Refused
from projections.models.tables import events as events_table
from schemas.codec import encode
from services.db import make_engine
from services.db.migrate import drop_schema, migrate
from services.natsauth import consumer_names
from services.rejections import list_rejections
from services.store import ESCALATIONS_STREAM, EVENTS_STREAM
from tests.support import System, nats_options, sample

pytestmark = pytest.mark.integration
CE = {"content-type": "application/cloudevents+json"}


def agency_slug() -> str:
    return f"so-test-{uuid.uuid4().hex[:6]}"


def auth(creds: dict[str, str]) -> dict[str, str]:
    return {**CE, "authorization": f"Bearer {creds['token']}"}


async def connect(creds: dict[str, str], errors: list[str] | None = None) -> nats.aio.client.Client:
    async def on_error(exc: Exception) -> None:
        if errors is not None:
            errors.append(str(exc))

    return await nats.connect(creds["nats_url"], **nats_options(creds),
                              error_cb=on_error)


def rejections(system: System, expect: int = 1, timeout: float = 30, **params: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = system.get("/api/rejected", **params).json()["items"]
        if len(rows) >= expect or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


async def test_an_agency_cannot_publish_under_another_agencys_subject_and_nothing_is_stored(system: System):
    """The server refuses the publish (permissions violation) and the stream holds nothing on that subject."""
    me, other = agency_slug(), agency_slug()
    creds = system.credentials("ha-tinh", me)
    errors: list[str] = []
    nc = await connect(creds, errors)
    subject = f"doingoai.events.ha-tinh.{other}.activity_held"
    try:
        with pytest.raises(nats.errors.Error):
            await nc.jetstream().publish(subject, encode(sample("activity_held", agency=other)), timeout=1)
    finally:
        await nc.close()
    assert any("permissions violation" in e.lower() and subject in e for e in errors)
    service = await system.service_nats()
    try:
        with pytest.raises(NotFoundError):
            await service.jetstream().get_last_msg(EVENTS_STREAM, subject)
    finally:
        await service.close()


async def test_anonymous_and_wrong_password_connections_are_refused(system: System, agency: dict[str, str]):
    for options in ({}, {"user": agency["nats_user"], "password": "not-the-password"}):
        with pytest.raises(Exception):  # noqa: B017  (an authorization error, or "no servers available")
            await nats.connect(agency["nats_url"], allow_reconnect=False, max_reconnect_attempts=0,
                               connect_timeout=2, **options)


async def test_another_agencys_source_over_http_is_403_kept_as_rejected_and_not_stored(system: System):
    """403, nothing stored, and the attempt is listed (HTTP and CLI) as source_mismatch naming the token's agency."""
    me = agency_slug()
    creds = system.credentials("ha-tinh", me)
    other = sample("activity_held", agency="so-noi-vu")
    r = httpx.post(f"{system.http}/events", content=encode(other), headers=auth(creds))
    assert r.status_code == 403 and r.json()["error"] == "source_mismatch"
    [row] = rejections(system, event_id=other.id)
    assert (row["kind"], row["publisher"], row["path"]) == ("source_mismatch", f"ha-tinh.{me}", "http")
    assert row["problems"][0]["path"] == "source"
    assert system.get(f"/api/events/{other.id}").status_code == 404
    listed = system.cli("rejected", "--agency", me, "--kind", "source_mismatch", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["event_id"] for line in listed.stdout.splitlines()] == [other.id]


async def test_a_source_mismatch_over_nats_is_not_projected_and_names_the_publisher(system: System):
    me = agency_slug()
    creds = system.credentials("ha-tinh", me)
    event = sample("activity_held", agency="so-noi-vu")
    nc = await connect(creds)
    try:
        ack = await nc.jetstream().publish(f"doingoai.events.ha-tinh.{me}.activity_held", encode(event))
    finally:
        await nc.close()
    system.wait_projected(ack.seq)
    [row] = rejections(system, event_id=event.id)
    assert (row["kind"], row["publisher"], row["stream_seq"]) == ("source_mismatch", f"ha-tinh.{me}", ack.seq)
    assert system.get(f"/api/events/{event.id}").status_code == 404


async def test_an_agency_consumes_its_own_escalations_durably_and_not_another_agencys(system: System):
    """An SNgV user creates a durable pull consumer (one of its own names) on
    doingoai.escalations.<province>.<its agency>, fetches and acks; creating one on another agency's
    escalations, even with its own name, is refused by the server."""
    me, other = agency_slug(), agency_slug()
    creds = system.credentials("quang-tri", me)
    service = await system.service_nats()
    for n in range(3):
        await service.jetstream().publish(f"doingoai.escalations.quang-tri.{me}", f"mine-{n}".encode())
        await service.jetstream().publish(f"doingoai.escalations.quang-tri.{other}", f"theirs-{n}".encode())
    errors: list[str] = []
    nc = await connect(creds, errors)
    try:
        js = nc.jetstream(timeout=2)
        inbox, peek = consumer_names("quang-tri", me)[:2]
        sub = await js.pull_subscribe(f"doingoai.escalations.quang-tri.{me}", durable=inbox,
                                      stream=ESCALATIONS_STREAM)
        msgs = await sub.fetch(10, timeout=2)
        assert [m.data for m in msgs] == [b"mine-0", b"mine-1", b"mine-2"]
        for m in msgs:
            await m.ack_sync()
        info = await service.jetstream().consumer_info(ESCALATIONS_STREAM, inbox)
        assert (info.num_ack_pending, info.num_pending) == (0, 0)
        for subject in (f"doingoai.escalations.quang-tri.{other}", "doingoai.escalations.>"):
            with pytest.raises(nats.errors.Error):
                await js.pull_subscribe(subject, durable=peek, stream=ESCALATIONS_STREAM)
    finally:
        await nc.close()
        await service.close()
    assert any("$js.api.consumer.create" in e.lower() and other in e for e in errors)


async def test_an_auditor_reads_by_sequence_but_cannot_publish_consume_or_touch_consumers(system: System):
    auditor = system.credentials("ha-tinh", agency_slug(), role="auditor")
    event = sample("activity_held")
    r = httpx.post(f"{system.http}/events", content=encode(event), headers=auth(auditor))
    assert r.status_code == 403
    seq = httpx.post(f"{system.http}/events", content=encode(event),
                     headers=auth(system.credentials("ha-tinh", "so-ngoai-vu"))).json()["sequence"]
    errors: list[str] = []
    nc = await connect(auditor, errors)
    try:
        js = nc.jetstream(timeout=1)
        assert json.loads((await js.get_msg(EVENTS_STREAM, seq=seq)).data)["id"] == event.id
        for attempt in (
            js.publish("doingoai.events.ha-tinh.so-ngoai-vu.activity_held", encode(sample("activity_held"))),
            nc.request(f"$JS.API.CONSUMER.CREATE.{EVENTS_STREAM}", b'{"config": {"name": "projector_v1"}}', timeout=1),
            nc.request(f"$JS.API.CONSUMER.MSG.NEXT.{EVENTS_STREAM}.projector_v1", b"{}", timeout=1),
        ):
            with pytest.raises(nats.errors.Error):
                await attempt
    finally:
        await nc.close()
    assert len([e for e in errors if "permissions violation" in e.lower()]) == 3
    system.wait_projected(seq)


async def test_a_corrected_event_resolves_its_rejection_over_either_path(system: System):
    """A schema violation published over NATS (with the Nats-Msg-Id `<source> <id>` the fixed event
    will have) is corrected by posting the fixed event with the same id over HTTP inside the
    duplicate window: it is stored (the message holding its message id is no copy of it), and the rejection is
    listed as resolved by it. An unreadable event is corrected through /api/rejected/{key}/resubmit,
    by its own agency only; a still-invalid correction is refused and kept too."""
    me = agency_slug()
    creds = system.credentials("ha-tinh", me)
    good = sample("activity_held", agency=me)
    bad = encode(good).replace(b'"participants":150', b'"participants":-1')
    assert bad != encode(good)
    nc = await connect(creds)
    try:
        ack = await nc.jetstream().publish(f"doingoai.events.ha-tinh.{me}.activity_held", bad,
                                           headers={"Nats-Msg-Id": f"{good.source} {good.id}"})
    finally:
        await nc.close()
    system.wait_projected(ack.seq)
    assert rejections(system, event_id=good.id)[0]["status"] == "open"
    r = httpx.post(f"{system.http}/events", content=encode(good), headers=auth(creds))
    assert r.status_code == 202 and not r.json()["duplicate"] and r.json()["sequence"] > ack.seq
    system.wait_projected(r.json()["sequence"])
    [row] = rejections(system, event_id=good.id)
    assert (row["status"], row["resolved_by"]) == ("resolved", r.json()["sequence"])

    assert httpx.post(f"{system.http}/events", content=b"\x00 garbage", headers=auth(creds)).status_code == 400
    [row] = rejections(system, agency=me, kind="bad_json")
    fixed = sample("delegation_received", agency=me)
    resubmit = f"{system.http}/api/rejected/{row['key']}/resubmit"
    intruder = system.credentials("ha-tinh", agency_slug())
    assert httpx.post(resubmit, content=encode(fixed), headers=auth(intruder)).status_code == 403
    assert httpx.post(resubmit, content=b"{still broken", headers=auth(creds)).status_code == 400
    r = httpx.post(resubmit, content=encode(fixed), headers=auth(creds))
    assert r.status_code == 202 and r.json()["resubmission_of"] == row["key"]
    system.wait_projected(r.json()["sequence"])
    deadline = time.monotonic() + 30
    while (detail := system.get(f"/api/rejected/{row['key']}").json())["status"] != "resolved":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert (detail["resubmitted_as"], detail["resolved_by"]) == (fixed.id, r.json()["sequence"])
    assert len(rejections(system, expect=2, agency=me, kind="bad_json")) == 2


async def test_http_refuses_oversize_bodies_with_413_and_keeps_them(system: System):
    """A body over the stated limit is answered 413 with a JSON reason and kept (its first bytes) as
    too_large; without a token nothing is read or kept (401)."""
    me = agency_slug()
    creds = system.credentials("ha-tinh", me)
    event_id = str(uuid.uuid4())
    body = b'{"id":"' + event_id.encode() + b'","data":"' + b"x" * 600_000 + b'"}'
    r = httpx.post(f"{system.http}/events", content=body, headers=auth(creds))
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert "limit 262144" in r.json()["problems"][0]["message"]
    assert httpx.post(f"{system.http}/events", content=body, headers=CE).status_code == 401
    [row] = rejections(system, agency=me)
    assert (row["kind"], row["event_id"]) == ("too_large", event_id)
    assert row["raw_size"] == 262144


async def test_a_binary_mode_event_refused_whole_is_kept_with_its_attributes(system: System):
    """Binary mode with a body that is not JSON: kept as structured JSON, ce-* attributes and the body
    as data_base64, so the rejection still says which event it was."""
    me = agency_slug()
    creds = system.credentials("ha-tinh", me)
    attrs = {f"ce-{k}": str(v) for k, v in json.loads(encode(sample("activity_held", agency=me))).items()
             if k not in ("data", "datacontenttype")}
    r = httpx.post(f"{system.http}/events", content=b"{not json", headers={
        **attrs, "content-type": "application/json", "authorization": f"Bearer {creds['token']}"})
    assert r.status_code == 400
    [row] = rejections(system, agency=me)
    kept = json.loads(row["raw"])
    assert (row["event_id"], kept["source"]) == (attrs["ce-id"], attrs["ce-source"])
    assert kept["data_base64"] == "e25vdCBqc29u"  # b"{not json"


class RefusesMarked:
    """A test-only projection: refuses (raises out of its changes) the event whose title is 'impossible'."""

    name = "refuses_marked"

    async def read(self, conn: AsyncConnection, batch: Batch) -> None:
        return None

    def after(self, found: None, before: None) -> None:
        return None

    def changes(self, batch: Batch, found: None) -> None:
        for stored in batch.fresh:
            if getattr(stored.event.data, "title", None) == "impossible":
                raise Refused("impossible_transition", "data.title", "this cannot happen")

    async def write(self, conn: AsyncConnection, changes: None) -> None:
        return None


async def test_a_poison_event_is_parked_with_its_kind_and_never_blocks_the_events_behind_it(system: System):
    """A projection refusing one event in the middle of a batch: the runner parks it as rejected with
    the projection's kind and message, applies the events before and after it, and moves on."""
    me = agency_slug()
    url, schema = system.runtime()["database_url"], f"t_poison_{uuid.uuid4().hex[:8]}"
    events = [sample("activity_held", agency=me, title="impossible" if n == 2 else f"ok {n}") for n in range(5)]
    service = await system.service_nats()
    acks = [await service.jetstream().publish(f"doingoai.events.ha-tinh.{me}.activity_held", encode(e))
            for e in events]
    await migrate(url, schema)
    engine = make_engine(url, schema, pool_size=2)
    stop = asyncio.Event()
    runner = Runner(service, engine, stream=EVENTS_STREAM, durable=f"poison_{me}",
                    handler=events_handler([EventIndex(), RefusesMarked()]), isolate=park_poison,
                    filter_subject=f"doingoai.events.ha-tinh.{me}.>", batch_size=10)
    task = asyncio.create_task(runner.run(stop))
    try:
        deadline = time.monotonic() + 30
        while runner.checkpoint < acks[-1].seq:
            assert time.monotonic() < deadline and not task.done()
            await asyncio.sleep(0.1)
        async with engine.connect() as conn:
            rows = await list_rejections(conn)
            ids = set((await conn.execute(select(events_table.c.id))).scalars())
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        names = [c.name for c in await service.jetstream().consumers_info(EVENTS_STREAM)]
        await service.close()
        await engine.dispose()
        await drop_schema(url, schema)
    assert not [n for n in names if n.startswith(f"poison_{me}")]  # a runner removes its consumer on stop
    assert [(r["kind"], r["event_id"], r["problems"]) for r in rows] == [
        ("impossible_transition", events[2].id, [{"path": "data.title", "message": "this cannot happen"}])]
    assert ids == {e.id for n, e in enumerate(events) if n != 2}
