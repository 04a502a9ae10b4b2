"""The backbone on the real stack: nats-server with JetStream and PostgreSQL, started by `up`."""

from __future__ import annotations

import asyncio
import time

import httpx
import nats
import pytest

from schemas.codec import encode
from services.store import EVENTS_STREAM
from services.store.publisher import ConcurrencyConflict, Publisher
from tests.support import System, nats_options, sample

pytestmark = pytest.mark.integration
CE = {"content-type": "application/cloudevents+json"}


def auth(creds: dict[str, str]) -> dict[str, str]:
    return {**CE, "authorization": f"Bearer {creds['token']}"}


def fetch_event(system: System, event_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = system.get(f"/api/events/{event_id}")
        if r.status_code == 200:
            return r.json()
        time.sleep(0.1)
    raise AssertionError(f"event {event_id} never appeared")


async def test_event_published_with_plain_natspy_appears_with_its_sequence(system: System, agency):
    """A plain nats-py publish is stored, acknowledged with its sequence, and readable over HTTP."""
    event = sample("activity_held")
    nc = await nats.connect(agency["nats_url"], **nats_options(agency))
    try:
        ack = await nc.jetstream().publish(
            "doingoai.events.ha-tinh.so-ngoai-vu.activity_held", encode(event), headers={"Nats-Msg-Id": event.id}
        )
    finally:
        await nc.close()
    assert ack.stream == EVENTS_STREAM
    got = fetch_event(system, event.id)
    assert got["sequence"] == ack.seq
    assert got["event"]["id"] == event.id
    assert got["event"]["data"]["title"] == event.data["title"]
    assert got["recorded_at"]
    rows = system.get("/api/activities", province="ha-tinh").json()["items"]
    assert any(r["subject"] == event.subject and r["status"] == "held" for r in rows)


async def test_same_id_over_nats_and_http_after_the_dedup_window_is_stored_once(system: System, agency):
    """Repeats of one id — HTTP, the publisher library, raw NATS — after the 2 s window: one stored event."""
    event = sample("difficulty_raised")
    nc = await nats.connect(agency["nats_url"], **nats_options(agency))
    js = nc.jetstream()
    subject = "doingoai.events.ha-tinh.so-ngoai-vu.difficulty_raised"
    try:
        first = await js.publish(subject, encode(event), headers={"Nats-Msg-Id": event.id})
        fetch_event(system, event.id)
        await asyncio.sleep(2.5)  # past the stream's duplicate window

        r = httpx.post(f"{system.http}/events", content=encode(event), headers=auth(agency))
        assert r.status_code == 202, r.text
        assert r.json() == {"id": event.id, "sequence": first.seq, "duplicate": True}

        service = await system.service_nats()
        last_before = (await service.jetstream().stream_info(EVENTS_STREAM)).state.last_seq
        again = await Publisher(nc).publish(event)
        assert (again.sequence, again.duplicate) == (first.seq, True)
        assert (await service.jetstream().stream_info(EVENTS_STREAM)).state.last_seq == last_before
        await service.close()

        raw_repeat = await js.publish(subject, encode(event), headers={"Nats-Msg-Id": event.id})
        system.wait_projected(raw_repeat.seq)
    finally:
        await nc.close()
    assert fetch_event(system, event.id)["sequence"] == first.seq


async def test_optimistic_concurrency_conflict_is_reported(system: System, agency):
    """A stale Nats-Expected-Last-Subject-Sequence gets 409 over HTTP and ConcurrencyConflict in Python;
    a retry of an append that already landed is recognised, not reported as a conflict."""
    e1, e2, e3 = (sample("report_submitted") for _ in range(3))
    r1 = httpx.post(f"{system.http}/events", content=encode(e1), headers=auth(agency))
    s1 = r1.json()["sequence"]
    h = {**auth(agency), "Nats-Expected-Last-Subject-Sequence": str(s1)}
    r2 = httpx.post(f"{system.http}/events", content=encode(e2), headers=h)
    assert r2.status_code == 202, r2.text
    r3 = httpx.post(f"{system.http}/events", content=encode(e3), headers=h)
    assert r3.status_code == 409
    assert r3.json()["error"] == "conflict"
    retry = httpx.post(f"{system.http}/events", content=encode(e2), headers=h)
    assert retry.status_code == 202 and retry.json()["sequence"] == r2.json()["sequence"]

    nc = await nats.connect(agency["nats_url"], **nats_options(agency))
    try:
        with pytest.raises(ConcurrencyConflict):
            await Publisher(nc).publish(e3, expected_last_subject_seq=s1)
    finally:
        await nc.close()
    system.wait_projected(r2.json()["sequence"])
    assert system.get(f"/api/events/{e3.id}").status_code == 404


async def test_http_rejects_bad_input_and_keeps_it_with_the_reason(system: System, agency):
    """Bad JSON -> 400, schema violation -> 422 with field paths, another agency's source -> 403,
    no token -> 401; each refused event is listed as rejected with its reason."""
    assert httpx.post(f"{system.http}/events", content=b"{", headers=auth(agency)).status_code == 400
    bad = encode(sample("difficulty_raised")).replace(b'"severity":"medium"', b'"severity":"apocalyptic"')
    r = httpx.post(f"{system.http}/events", content=bad, headers=auth(agency))
    assert r.status_code == 422
    assert r.json()["problems"][0]["path"] == "data.severity"
    other = sample("activity_held", agency="so-noi-vu")
    assert httpx.post(f"{system.http}/events", content=encode(other), headers=auth(agency)).status_code == 403
    assert httpx.post(f"{system.http}/events", content=encode(other), headers=CE).status_code == 401
    deadline = time.monotonic() + 30
    kinds: set[str] = set()
    while time.monotonic() < deadline and not {"bad_json", "schema_violation"} <= kinds:
        kinds = {row["kind"] for row in system.get("/api/rejected").json()["items"]}
        time.sleep(0.2)
    assert {"bad_json", "schema_violation"} <= kinds
    assert system.get(f"/api/events/{other.id}").status_code == 404


async def test_binary_and_batched_modes_store_every_event(system: System, agency):
    """CloudEvents binary mode (ce-* headers) and batched mode are accepted like structured mode."""
    event = sample("delegation_received")
    obj = event.model_dump(mode="json", exclude_none=True)
    headers = {f"ce-{k}": str(v) for k, v in obj.items() if k not in ("data", "datacontenttype")}
    r = httpx.post(f"{system.http}/events", json=obj["data"],
                   headers={**headers, "authorization": f"Bearer {agency['token']}"})
    assert r.status_code == 202, r.text
    batch = [sample("activity_held") for _ in range(5)]
    body = b"[" + b",".join(encode(e) for e in batch) + b"]"
    rb = httpx.post(f"{system.http}/events", content=body,
                    headers={**auth(agency), "content-type": "application/cloudevents-batch+json"})
    assert rb.status_code == 202, rb.text
    seqs = [x["sequence"] for x in rb.json()["results"]]
    assert len(set(seqs)) == 5
    for e, seq in zip(batch, seqs, strict=True):
        assert fetch_event(system, e.id)["sequence"] == seq
    assert fetch_event(system, event.id)["event"]["data"]["size"] == event.data["size"]


async def test_another_agencys_subject_and_anonymous_connections_are_refused(system: System, agency):
    """NATS permissions: an agency cannot publish under another agency's subject; no anonymous access."""
    with pytest.raises(Exception):  # noqa: B017  (nats-py reports "no servers" or an authorization error)
        await nats.connect(agency["nats_url"], max_reconnect_attempts=0, allow_reconnect=False,
                           connect_timeout=2)
    nc = await nats.connect(agency["nats_url"], **nats_options(agency))
    try:
        other = sample("activity_held", agency="so-noi-vu")
        with pytest.raises(nats.errors.Error):
            await nc.jetstream().publish("doingoai.events.ha-tinh.so-noi-vu.activity_held", encode(other),
                                         timeout=1)
    finally:
        await nc.close()
    assert system.get(f"/api/events/{other.id}").status_code == 404
