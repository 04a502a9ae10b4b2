"""(source, id) is the idempotency key on every path (CloudEvents requires it): the same pair
published twice is stored once; another publisher's equal id is another event, stored. An agency
that publishes first with the id another agency (or the system's escalation service) will use takes
nothing from it, whether it sends its own message id or forges the victim's `Nats-Msg-Id`."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client

from schemas.codec import encode
from schemas.envelope import CloudEvent
from services.db import make_engine
from services.http.lookup import CoalescingLookup
from services.store import EVENTS_STREAM, msg_id
from services.store.publisher import Publisher
from tests.support import System, nats_options, sample

pytestmark = pytest.mark.integration
CE = {"content-type": "application/cloudevents+json"}
WINDOW_S = 2.0
"""The shared system's duplicate window (DOINGOAI_DEDUP_WINDOW_S in conftest)."""


def slug() -> str:
    return f"so-key-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def a_and_b(system: System) -> tuple[dict[str, str], dict[str, str]]:
    """Two agencies of Hà Tĩnh: A (the squatter) and B."""
    return system.credentials("ha-tinh", slug()), system.credentials("ha-tinh", slug())


def event_of(creds: dict[str, str], event_id: str) -> CloudEvent:
    """An activity_held of the agency of `creds`, with id `event_id`."""
    return sample("activity_held", agency=creds["agency"]).model_copy(update={"id": event_id})


def auth(creds: dict[str, str]) -> dict[str, str]:
    return {**CE, "authorization": f"Bearer {creds['token']}"}


async def connect(creds: dict[str, str]) -> Client:
    return await nats.connect(creds["nats_url"], **nats_options(creds))


def get_event(system: System, event_id: str, **params: str) -> httpx.Response:
    """GET /api/events/{id} as an auditor of the province of `source=` (default ha-tinh)."""
    province = params.get("source", "/provinces/ha-tinh/").split("/")[2]
    return httpx.get(f"{system.http}/api/events/{event_id}", params=params, headers=system.reader(province),
                     timeout=10)


def indexed(system: System, event: CloudEvent, timeout: float = 30) -> dict[str, Any]:
    """GET /api/events/{id}?source= of `event`, once it is indexed."""
    deadline = time.monotonic() + timeout
    while True:
        r = get_event(system, event.id, source=event.source)
        if r.status_code == 200:
            return r.json()
        assert time.monotonic() < deadline, f"{event.source} {event.id} never indexed: {r.status_code} {r.text}"
        time.sleep(0.1)


@pytest.fixture
async def system_publisher(system: System) -> AsyncIterator[Publisher]:
    """A publisher as the escalation service has one: the services' connection, the index asked directly."""
    engine = make_engine(system.runtime()["database_url"], pool_size=1)
    lookup = CoalescingLookup(engine)
    nc = await system.service_nats()
    try:
        yield Publisher(nc, lookup=lookup)
    finally:
        await nc.close()
        await lookup.close()
        await engine.dispose()


def escalation_of_the_system(event_id: str) -> CloudEvent:
    """An escalation_raised of /provinces/quang-tri/agencies/doingoai (the system's own source),
    addressed to an agency no other test reads."""
    event = sample("escalation_raised", province="quang-tri", agency="doingoai", target_agency=slug())
    return event.model_copy(update={"id": event_id})


async def test_the_same_id_from_two_sources_over_nats_is_two_events(system: System, a_and_b):
    """Agencies A and B publish an event each with one id through the publisher library (A first,
    then B inside the duplicate window): both are stored, at two sequences, and indexed."""
    a, b = a_and_b
    event_id = str(uuid.uuid4())
    ea, eb = event_of(a, event_id), event_of(b, event_id)
    nca, ncb = await connect(a), await connect(b)
    try:
        ra = await Publisher(nca).publish(ea)
        rb = await Publisher(ncb).publish(eb)
    finally:
        await nca.close()
        await ncb.close()
    assert not ra.duplicate and not rb.duplicate and ra.sequence != rb.sequence
    assert indexed(system, ea)["sequence"] == ra.sequence
    assert indexed(system, eb)["sequence"] == rb.sequence
    assert indexed(system, eb)["event"]["source"] == eb.source


async def test_the_same_pair_twice_is_stored_once_inside_and_after_the_window(system: System, a_and_b):
    """The same (source, id) again, inside the duplicate window and after it, by the publisher
    library and over HTTP: one event, every repeat answered with its sequence and `duplicate`."""
    a, _ = a_and_b
    event = event_of(a, str(uuid.uuid4()))
    nc = await connect(a)
    service = await system.service_nats()
    try:
        first = await Publisher(nc).publish(event)
        last_seq = (await service.jetstream().stream_info(EVENTS_STREAM)).state.last_seq
        inside = await Publisher(nc).publish(event)
        r = httpx.post(f"{system.http}/events", content=encode(event), headers=auth(a))
        assert (inside.sequence, inside.duplicate) == (first.sequence, True)
        assert r.status_code == 202 and r.json() == {"id": event.id, "sequence": first.sequence, "duplicate": True}
        indexed(system, event)
        await asyncio.sleep(WINDOW_S + 0.5)  # past the window: only the index knows the pair
        after = await Publisher(nc).publish(event)
        r = httpx.post(f"{system.http}/events", content=encode(event), headers=auth(a))
        assert (after.sequence, after.duplicate) == (first.sequence, True)
        assert r.status_code == 202 and r.json() == {"id": event.id, "sequence": first.sequence, "duplicate": True}
        assert (await service.jetstream().stream_info(EVENTS_STREAM)).state.last_seq == last_seq
    finally:
        await nc.close()
        await service.close()


async def test_an_id_taken_first_by_another_agency_takes_nothing_from_the_system(
        system: System, a_and_b, system_publisher: Publisher):
    """The squatting reproduction: agency A publishes first, inside the window, with the id the
    escalation service's next event will use (its ids are derived, so guessable): once with its own
    message id, once forging the system's `Nats-Msg-Id` `<source> <id>`. The system's event is
    stored each time, not answered as a duplicate; so it is after the window, once A's is indexed."""
    a, _ = a_and_b
    nc = await connect(a)
    try:
        js = nc.jetstream()
        subject = f"doingoai.events.ha-tinh.{a['agency']}.activity_held"
        plain, forged, later = (str(uuid.uuid4()) for _ in range(3))
        squat = event_of(a, plain)
        await Publisher(nc).publish(squat)
        mine = escalation_of_the_system(plain)
        stored = await system_publisher.publish(mine)
        assert not stored.duplicate

        theirs = escalation_of_the_system(forged)
        taken = {"Nats-Msg-Id": msg_id(theirs.source, forged)}  # the system's message id, forged
        ack = await js.publish(subject, encode(event_of(a, forged)), headers=taken)
        assert not ack.duplicate
        stored_forged = await system_publisher.publish(theirs)
        assert not stored_forged.duplicate and stored_forged.sequence > ack.seq

        early = event_of(a, later)
        first = await Publisher(nc).publish(early)
        indexed(system, early)
        await asyncio.sleep(WINDOW_S + 0.5)
        stored_later = await system_publisher.publish(escalation_of_the_system(later))
        assert not stored_later.duplicate and stored_later.sequence > first.sequence
    finally:
        await nc.close()
    for event, result in ((mine, stored), (theirs, stored_forged)):
        got = indexed(system, event)
        assert (got["sequence"], got["event"]["source"]) == (result.sequence, "/provinces/quang-tri/agencies/doingoai")
    assert indexed(system, squat)["event"]["source"] == squat.source


async def test_an_agencys_publisher_asks_the_lookup_service_whether_a_duplicate_answer_is_its_event(
        system: System, a_and_b):
    """Agency B cannot read the event stream: when A forged B's message id, B's publisher library
    asks the lookup service (`{"copy": ...}`) whether the message the server names is B's event,
    learns it is not, and stores B's event; B's own repeat is then a duplicate of it."""
    a, b = a_and_b
    event_id = str(uuid.uuid4())
    eb = event_of(b, event_id)
    nca, ncb = await connect(a), await connect(b)
    try:
        taken = {"Nats-Msg-Id": msg_id(eb.source, event_id)}
        ack = await nca.jetstream().publish(f"doingoai.events.ha-tinh.{a['agency']}.activity_held",
                                            encode(event_of(a, event_id)), headers=taken)
        publisher = Publisher(ncb)
        stored = await publisher.publish(eb)
        again = await publisher.publish(eb)
    finally:
        await nca.close()
        await ncb.close()
    assert not stored.duplicate and stored.sequence > ack.seq
    assert (again.sequence, again.duplicate) == (stored.sequence, True)
    assert indexed(system, eb)["sequence"] == stored.sequence


async def test_an_id_taken_first_by_another_agency_over_http_is_still_stored(system: System, a_and_b):
    """Over HTTP: B's event with the id A used first is stored (202, not a duplicate), whether A
    posted its own event or forged B's message id over NATS; B's repeat is then a duplicate."""
    a, b = a_and_b
    first_id, forged_id = str(uuid.uuid4()), str(uuid.uuid4())
    ra = httpx.post(f"{system.http}/events", content=encode(event_of(a, first_id)), headers=auth(a))
    assert ra.status_code == 202 and not ra.json()["duplicate"]
    eb = event_of(b, first_id)
    rb = httpx.post(f"{system.http}/events", content=encode(eb), headers=auth(b))
    assert rb.status_code == 202, rb.text
    assert not rb.json()["duplicate"] and rb.json()["sequence"] != ra.json()["sequence"]
    again = httpx.post(f"{system.http}/events", content=encode(eb), headers=auth(b))
    assert again.json() == {"id": first_id, "sequence": rb.json()["sequence"], "duplicate": True}

    fb = event_of(b, forged_id)
    nc = await connect(a)
    try:
        taken = {"Nats-Msg-Id": msg_id(fb.source, forged_id)}  # B's message id, forged by A
        ack = await nc.jetstream().publish(f"doingoai.events.ha-tinh.{a['agency']}.activity_held",
                                           encode(event_of(a, forged_id)), headers=taken)
    finally:
        await nc.close()
    rf = httpx.post(f"{system.http}/events", content=encode(fb), headers=auth(b))
    assert rf.status_code == 202 and not rf.json()["duplicate"] and rf.json()["sequence"] > ack.seq
    assert indexed(system, fb)["sequence"] == rf.json()["sequence"]
    assert indexed(system, eb)["sequence"] == rb.json()["sequence"]


async def test_get_event_by_id_answers_one_source_and_lists_several(system: System, a_and_b):
    """GET /api/events/{id}: one source used the id -> that event; two -> 300 with the sources
    (in the order they stored it); `?source=` picks one; a source that did not use it -> 404."""
    a, b = a_and_b
    event_id = str(uuid.uuid4())
    ea, eb = event_of(a, event_id), event_of(b, event_id)
    ra = httpx.post(f"{system.http}/events", content=encode(ea), headers=auth(a))
    indexed(system, ea)
    one = get_event(system, event_id)
    assert one.status_code == 200 and one.json()["sequence"] == ra.json()["sequence"]
    assert one.json()["event"]["source"] == ea.source

    rb = httpx.post(f"{system.http}/events", content=encode(eb), headers=auth(b))
    indexed(system, eb)
    both = get_event(system, event_id)
    assert both.status_code == 300
    assert both.json()["error"] == "ambiguous_id" and both.json()["sources"] == [ea.source, eb.source]
    picked = get_event(system, event_id, source=eb.source)
    assert picked.status_code == 200 and picked.json()["sequence"] == rb.json()["sequence"]
    assert picked.json()["event"]["source"] == eb.source
    assert get_event(system, event_id, source=ea.source).json()["sequence"] == ra.json()["sequence"]
    assert get_event(system, event_id, source="/provinces/ha-tinh/agencies/so-nobody").status_code == 404
