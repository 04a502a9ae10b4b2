"""Replays rebuild the read models without touching the live ones; auditors read everything, write nothing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import asyncpg
import httpx
import nats
import pytest

from schemas.codec import encode
from services.store import EVENTS_STREAM
from tests.integration.test_audit import CE, db, independent_hash, stream_last
from tests.support import System, nats_options, sample

pytestmark = pytest.mark.integration


async def checksums(database_url: str, schema: str) -> dict[str, str]:
    from services.db import make_engine
    from services.replay import table_checksums

    engine = make_engine(database_url, schema, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await table_checksums(conn)
    finally:
        await engine.dispose()


def replay(system: System, *args: str) -> dict[str, Any]:
    done = system.cli("replay", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_full_replay_into_a_fresh_database_equals_the_live_read_models(system: System, agency):
    """Every read-model table (the audit trail included) has the same checksum as the live one."""
    for _ in range(3):
        httpx.post(f"{system.http}/events", content=encode(sample("activity_held")),
                   headers={**CE, "authorization": f"Bearer {agency['token']}"})
    system.wait_projected(await stream_last(system))
    url = system.runtime()["database_url"]
    name = f"replay_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(url)
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    fresh = url.rsplit("/", 1)[0] + f"/{name}"
    replayed = replay(system, "--database-url", fresh, "--schema", "doingoai")
    assert replayed["checksums"] == await checksums(url, "doingoai")
    assert replayed["checksums"]["audit_trail"]


async def test_as_of_replay_excludes_events_recorded_later(system: System, agency):
    def post(event: Any) -> int:
        r = httpx.post(f"{system.http}/events", content=encode(event),
                       headers={**CE, "authorization": f"Bearer {agency['token']}"})
        assert r.status_code == 202, r.text
        return int(r.json()["sequence"])

    before = [sample("activity_held") for _ in range(3)]
    last_before = max(post(e) for e in before)
    system.wait_projected(last_before)
    cutoff = system.get(f"/api/events/{before[-1].id}").json()["recorded_at"]
    time.sleep(1.2)
    after = [sample("activity_held") for _ in range(3)]
    after_seqs = [post(e) for e in after]
    system.wait_projected(max(after_seqs))
    schema = f"asof_{uuid.uuid4().hex[:8]}"
    replay(system, "--as-of", cutoff, "--schema", schema)
    conn = await db(system)
    try:
        ids = {r["id"] for r in await conn.fetch(f"SELECT id FROM {schema}.events")}
        head = await conn.fetchrow(f"SELECT seq, hash FROM {schema}.audit_trail ORDER BY seq DESC LIMIT 1")
        live = await conn.fetchval("SELECT hash FROM audit_trail WHERE seq = $1", head["seq"])
    finally:
        await conn.close()
    assert {e.id for e in before} <= ids and not {e.id for e in after} & ids
    assert last_before <= head["seq"] < min(after_seqs)
    assert head["hash"] == live  # the as-of trail is a prefix of the live chain


def _refused(subject: str, violations: list[str]) -> bool:
    return any(f'permissions violation for publish to "{subject.lower()}"' in v for v in violations)


async def test_auditor_reads_the_whole_stream_and_recomputes_the_head_but_is_refused_any_publish(system: System):
    """With auditor credentials: every message of the stream is read (direct get) and the chain
    recomputed from them alone equals the audit table's head; publishing (any agency, escalations,
    rejected), acknowledging, pulling from or deleting the projection's consumer, purging or updating
    the stream are all refused; over HTTP the token reads the audit trail and may not POST events."""
    creds = system.credentials("ha-tinh", "thanh-tra-tinh", role="auditor")
    violations: list[str] = []

    async def on_error(exc: Exception) -> None:
        violations.append(str(exc).lower())

    nc = await nats.connect(creds["nats_url"], **nats_options(creds),
                            error_cb=on_error)
    js = nc.jetstream()
    try:
        last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        system.wait_projected(last)
        prev = "0" * 64
        for first in range(1, last + 1, 200):
            window = range(first, min(first + 200, last + 1))
            for msg in await asyncio.gather(*(js.get_msg(EVENTS_STREAM, seq, direct=True) for seq in window)):
                assert msg.seq is not None and msg.subject is not None
                prev = independent_hash(prev, msg.seq, msg.subject, msg.data or b"")
        row = system.get("/api/audit", after=last - 1, limit=1).json()["items"][0]
        assert (row["sequence"], row["hash"]) == (last, prev)

        event = sample("activity_held", agency="thanh-tra-tinh")
        with pytest.raises(nats.errors.Error):
            await js.publish("doingoai.events.ha-tinh.so-ngoai-vu.activity_held", encode(event), timeout=1)
        projector = await projector_consumer(system)
        refused = ["doingoai.events.ha-tinh.so-ngoai-vu.activity_held",
                   "doingoai.events.ha-tinh.thanh-tra-tinh.activity_held",
                   "doingoai.escalations.ha-tinh.so-ngoai-vu", "doingoai.rejected.http",
                   f"$JS.ACK.{EVENTS_STREAM}.{projector}.1.1.1.0.0",
                   f"$JS.API.CONSUMER.MSG.NEXT.{EVENTS_STREAM}.{projector}",
                   f"$JS.API.CONSUMER.DELETE.{EVENTS_STREAM}.{projector}",
                   f"$JS.API.CONSUMER.DURABLE.CREATE.{EVENTS_STREAM}.auditor",
                   f"$JS.API.STREAM.PURGE.{EVENTS_STREAM}", f"$JS.API.STREAM.UPDATE.{EVENTS_STREAM}"]
        for subject in refused:
            await nc.publish(subject, b"{}")
        await nc.flush()
        await asyncio.sleep(0.5)  # error callbacks run as tasks
        assert [s for s in refused if not _refused(s, violations)] == []
        assert (await js.stream_info(EVENTS_STREAM)).state.last_seq == last
    finally:
        await nc.close()
    assert await projector_consumer(system) == projector  # still there
    auth = {"authorization": f"Bearer {creds['token']}"}
    r = httpx.post(f"{system.http}/events", content=encode(event), headers={**CE, **auth})
    assert r.status_code == 403
    assert httpx.get(f"{system.http}/api/audit", params={"limit": 1}, headers=auth).status_code == 200


async def projector_consumer(system: System) -> str:
    """The name of the live projector's consumer (a new one on every run of the runner)."""
    service = await system.service_nats()
    try:
        names = [c.name for c in await service.jetstream().consumers_info(EVENTS_STREAM)]
    finally:
        await service.close()
    mine = [n for n in names if n.startswith("projector_v1--")]
    assert len(mine) == 1, names
    return mine[0]
