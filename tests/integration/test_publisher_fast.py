"""The fast ingest paths on the running system: the (source, id) lookup (its own asyncpg connection,
coalesced callers, reconnection), the lookup service over NATS, and POST /events with batches and
with many concurrent single events."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import httpx
import pytest

from schemas.codec import encode
from services.db import make_engine
from services.http.lookup import CoalescingLookup
from services.store import EVENTS_STREAM, LOOKUP_SUBJECT
from services.store.publisher import Publisher
from tests.support import System, sample

SOURCE = "/provinces/ha-tinh/agencies/so-ngoai-vu"
"""The source of `sample`'s events."""

pytestmark = pytest.mark.integration
CE = {"content-type": "application/cloudevents+json"}
BATCH = {"content-type": "application/cloudevents-batch+json"}


def auth(creds: dict[str, str], headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "authorization": f"Bearer {creds['token']}"}


async def stored_events(system: System, n: int, raws: list[bytes] | None = None) -> list[tuple[str, int]]:
    """Publish `n` events of SOURCE (their bytes appended to `raws`) and wait until they are indexed;
    (id, sequence) of each."""
    events = [encode(sample("activity_held")) for _ in range(n)]
    nc = await system.service_nats()
    try:
        results = await Publisher(nc, lookup=False).publish_many(events)
    finally:
        await nc.close()
    system.wait_projected(max(r.sequence for r in results))
    if raws is not None:
        raws.extend(events)
    return [(r.id, r.sequence) for r in results]


def keyed(known: list[tuple[str, int]]) -> dict[tuple[str, str], int]:
    """(SOURCE, id) -> sequence."""
    return {(SOURCE, i): seq for i, seq in known}


@pytest.fixture
async def lookup(system: System):
    engine = make_engine(system.runtime()["database_url"], pool_size=1)
    found = CoalescingLookup(engine)
    yield found
    await found.close()
    await engine.dispose()


async def test_the_lookup_answers_from_the_event_index_and_ignores_ids_no_index_can_hold(
        system: System, lookup: CoalescingLookup):
    """Only the pairs stored: not another source's equal id, nor ids PostgreSQL cannot hold."""
    known = await stored_events(system, 5)
    other = "/provinces/ha-tinh/agencies/so-noi-vu"
    asked = [*keyed(known), (other, known[0][0]), *((SOURCE, i) for i in ("never-stored", "nul\x00id", "lone\ud800"))]
    found = await lookup(asked)
    assert found == keyed(known)
    assert lookup.conn is not None and not lookup.conn.is_closed()


async def test_concurrent_lookups_share_one_query(system: System, lookup: CoalescingLookup):
    known = await stored_events(system, 40)
    queries = 0
    query = lookup.query

    async def counted(keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        nonlocal queries
        queries += 1
        return await query(keys)

    lookup.query = counted  # type: ignore[method-assign]
    answers = await asyncio.gather(*(lookup([(SOURCE, i)]) for i, _ in known))
    assert answers == [{(SOURCE, i): seq} for i, seq in known]
    assert queries < len(known) / 4


async def test_the_lookup_reconnects_when_its_connection_is_killed(system: System, lookup: CoalescingLookup):
    """The server ends the lookup's session (asked again at once, and after the client noticed):
    the next lookup opens a new connection and answers."""
    (event_id, seq), = await stored_events(system, 1)
    assert await lookup([(SOURCE, event_id)]) == {(SOURCE, event_id): seq}
    admin = await asyncpg.connect(system.runtime()["database_url"].replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for pause in (0.0, 0.5):
            assert lookup.conn is not None
            pid = lookup.conn.get_server_pid()
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
            await asyncio.sleep(pause)
            assert await lookup([(SOURCE, event_id)]) == {(SOURCE, event_id): seq}
            assert lookup.conn.get_server_pid() != pid
    finally:
        await admin.close()


async def test_ids_the_index_holds_are_answered_as_duplicates_after_the_window_without_a_second_copy(
        system: System):
    """After the 2 s duplicate window only the event index knows the pairs: publish_many asks the
    lookup service over NATS (`{"source", "ids"}`) and publishes nothing again. A request without
    a source is refused: an id alone is no key."""
    raws: list[bytes] = []
    known = await stored_events(system, 60, raws)
    await asyncio.sleep(2.5)
    nc = await system.service_nats()
    try:
        js = nc.jetstream()
        before = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        ask = json.dumps({"source": SOURCE, "ids": [i for i, _ in known[:3]]}).encode()
        assert json.loads((await nc.request(LOOKUP_SUBJECT, ask, timeout=5)).data)["found"] == dict(known[:3])
        other = json.dumps({"source": "/provinces/ha-tinh/agencies/so-noi-vu", "ids": [known[0][0]]}).encode()
        assert json.loads((await nc.request(LOOKUP_SUBJECT, other, timeout=5)).data)["found"] == {}
        sourceless = json.dumps({"ids": [known[0][0]]}).encode()
        assert "error" in json.loads((await nc.request(LOOKUP_SUBJECT, sourceless, timeout=5)).data)
        again = await Publisher(nc).publish_many(raws)
        assert [(r.id, r.sequence, r.duplicate) for r in again] == [(i, s, True) for i, s in known]
        single = await Publisher(nc).publish(raws[0])
        assert (single.sequence, single.duplicate) == (known[0][1], True)
        assert (await js.stream_info(EVENTS_STREAM)).state.last_seq == before
    finally:
        await nc.close()


async def test_a_batch_over_http_is_stored_in_consecutive_sequences_and_a_replay_returns_them(
        system: System, agency: dict[str, str]):
    events = [sample("activity_held") for _ in range(100)]
    body = json.dumps([json.loads(encode(e)) for e in events])
    async with httpx.AsyncClient(base_url=system.http, timeout=60) as client:
        first = await client.post("/events", content=body, headers=auth(agency, BATCH))
        again = await client.post("/events", content=body, headers=auth(agency, BATCH))
    assert first.status_code == again.status_code == 202
    stored = first.json()["results"]
    assert [r["id"] for r in stored] == [e.id for e in events]
    assert [r["sequence"] for r in stored] == list(range(stored[0]["sequence"], stored[0]["sequence"] + 100))
    replayed = again.json()["results"]
    assert [(r["sequence"], r["duplicate"]) for r in replayed] == [(r["sequence"], True) for r in stored]


async def test_one_unstorable_event_refuses_the_batch_at_its_index(system: System, agency: dict[str, str]):
    good = [json.loads(encode(sample("activity_held"))) for _ in range(3)]
    bad = json.loads(encode(sample("activity_held")))
    bad["data"]["title"] = "nul \x00 here"
    body = json.dumps([good[0], bad, *good[1:]])
    async with httpx.AsyncClient(base_url=system.http, timeout=60) as client:
        r = await client.post("/events", content=body, headers=auth(agency, BATCH))
        missing = [await client.get(f"/api/events/{e['id']}", headers=system.reader()) for e in good]
    assert r.status_code == 422
    assert r.json()["stored"] == 0
    assert [f["index"] for f in r.json()["failures"]] == [1]
    assert all(m.status_code == 404 for m in missing)


async def test_concurrent_single_posts_and_their_repeats_are_each_stored_once(system: System, agency: dict[str, str]):
    """64 clients at once, and then the same events again at once: every repeat gets the
    sequence of the first copy, and the stream grew by 64."""
    events = [sample("delegation_received") for _ in range(64)]
    nc = await system.service_nats()
    try:
        js = nc.jetstream()
        before = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=system.http, timeout=60, limits=limits) as client:
            async def post(e):  # type: ignore[no-untyped-def]
                return await client.post("/events", content=encode(e), headers=auth(agency, CE))

            first = await asyncio.gather(*(post(e) for e in events))
            again = await asyncio.gather(*(post(e) for e in events))
        assert all(r.status_code == 202 for r in first + again)
        seqs = [r.json()["sequence"] for r in first]
        assert sorted(seqs) == list(range(before + 1, before + 65))
        assert [(r.json()["sequence"], r.json()["duplicate"]) for r in again] == [(s, True) for s in seqs]
        assert (await js.stream_info(EVENTS_STREAM)).state.last_seq == before + 64
    finally:
        await nc.close()


def counting(lookup: CoalescingLookup) -> list[list[tuple[str, str]]]:
    """The keys of every query `lookup` sends from now on."""
    asked: list[list[tuple[str, str]]] = []
    query = lookup.query

    async def counted(keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        asked.append(keys)
        return await query(keys)

    lookup.query = counted  # type: ignore[method-assign]
    return asked


async def test_with_the_window_ids_never_indexed_are_answered_without_a_query(system: System):
    """The filter, once loaded and while fresh, answers pairs it never saw without a query (another
    source's equal id among them); pairs it may hold are asked of PostgreSQL; a stale filter is not used."""
    engine = make_engine(system.runtime()["database_url"], pool_size=2)
    lookup = CoalescingLookup(engine, window_s=60)
    try:
        known = await stored_events(system, 5)
        asked = counting(lookup)
        assert await lookup(list(keyed(known))) == keyed(known)  # starts the filter; asked meanwhile
        for _ in range(200):
            if lookup.seen is not None and lookup.seen_through >= max(s for _, s in known):
                break
            await asyncio.sleep(0.05)
        assert lookup.seen is not None and lookup.seen_through >= max(s for _, s in known)
        assert all(lookup.seen.may_hold(k) for k in keyed(known))
        asked.clear()
        others = [("/provinces/ha-tinh/agencies/so-noi-vu", i) for i, _ in known]
        never = [(SOURCE, f"never-{k}") for k in range(100)]
        unseen = [k for k in [*others, *never] if not lookup.seen.may_hold(k)][:20]
        assert len(unseen) == 20
        assert await lookup(unseen) == {}
        assert asked == []  # no query
        first = (SOURCE, known[0][0])
        assert await lookup([*unseen, first]) == {first: known[0][1]}
        assert asked == [[first]]  # only the pair the filter may hold
        if lookup.refresher is not None:
            lookup.refresher.cancel()  # no refresh from now on: the filter goes stale
        lookup.refresh_began -= 60
        asked.clear()
        assert await lookup(unseen[:1]) == {}
        assert asked == [unseen[:1]]  # stale: asked
    finally:
        await lookup.close()
        await engine.dispose()


async def test_the_filter_is_not_used_while_partitioned_workers_fill_the_index(system: System):
    """Partition units commit their index rows in their own orders: a refresh reading by sequence
    could miss a row committed late, so the filter stays off while any unit has a checkpoint."""
    from services.db.migrate import migrate

    url = system.runtime()["database_url"]
    schema = "lookup_partitioned"
    await migrate(url, schema)
    engine = make_engine(url, schema, pool_size=2)
    admin = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    lookup = CoalescingLookup(engine, window_s=60)
    try:
        await admin.execute(f"INSERT INTO {schema}.checkpoints VALUES ('projector_v1_ha-tinh', 1, now())")
        await lookup.refresh()
        assert lookup.seen is None and lookup._filter() is None
        await admin.execute(f"DELETE FROM {schema}.checkpoints")
        await lookup.refresh()
        assert lookup.seen is not None and lookup._filter() is lookup.seen
    finally:
        await admin.close()
        await lookup.close()
        await engine.dispose()
