"""A replay whose audit chain is rebuilt in a process of its own builds the same tables as a replay
in one process, the whole replay or up to a moment, and a failure of that process fails the replay."""

from __future__ import annotations

import os
import sys
import uuid
from datetime import UTC, datetime

import pytest

from projections.engine.partitions import AUDIT_CONSUMER
from projections.models.audit_verify import verify
from schemas.codec import encode
from services.db import make_engine
from services.replay import AUDIT_NICE, replay
from services.runtime import Runtime
from services.settings import load
from services.store import EVENTS_STREAM
from tests.integration.test_audit_replay import checksums
from tests.integration.test_bulk_load import table_options
from tests.support import System, sample

pytestmark = pytest.mark.integration


async def publish_mix(system: System, label: str) -> None:
    """Valid events, a repeat of one of them (no message id: the stream keeps both) and a message
    that is not an event: rows of every kind for the event index, the audit trail and the read models."""
    nc = await system.service_nats()
    js = nc.jetstream()
    try:
        first = sample("activity_held", aggregate_id=f"apart-{label}")
        for event in (first, sample("delegation_received"), sample("difficulty_raised")):
            await js.publish(f"doingoai.events.ha-tinh.so-ngoai-vu.{event.event_name}", encode(event))
        await js.publish("doingoai.events.ha-tinh.so-ngoai-vu.activity_held", encode(first))
        await js.publish("doingoai.events.ha-tinh.so-ngoai-vu.activity_held", b'{"not": "an event"}')
    finally:
        await nc.close()


async def checkpoints(database_url: str, schema: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(f'SELECT consumer, last_seq FROM "{schema}".checkpoints')
    finally:
        await conn.close()
    return {r["consumer"]: r["last_seq"] for r in rows}


async def test_audit_chain_apart_builds_the_same_tables_as_one_process(system: System, monkeypatch):
    for name, value in system.env().items():
        monkeypatch.setenv(name, value)
    await publish_mix(system, "before")
    cutoff = datetime.now(UTC)
    await publish_mix(system, "after")
    rt = await Runtime(load()).start()
    nc = await rt.connect_nats("test-replay-apart")
    try:
        last_seq = (await nc.jetstream().stream_info(EVENTS_STREAM)).state.last_seq
        system.wait_projected(last_seq)  # the people named in clear have their keys, which both replays copy
        tag = uuid.uuid4().hex[:6]
        whole = {}
        for apart in (False, True):
            schema = f"apart_{tag}_{int(apart)}"
            result = await replay(nc, rt.database_url, schema, child_env=rt.child_env() if apart else None,
                                  parallel_from=1)
            whole[apart] = await checksums(rt.database_url, schema)
            assert result.last_seq == last_seq
            options = await table_options(rt.database_url, schema)
            assert options["audit_trail"] == options["events"] == []  # autovacuum handed back (paused while loading)
            if apart:
                assert result.audit_apart is not None
                assert result.audit_apart["events"] == result.events == last_seq
                assert result.audit_apart["peak_rss_mb"] > 0
                assert result.audit_apart["nice"] == min(os.nice(0) + AUDIT_NICE, 19)  # below the replaying process
                marks = await checkpoints(rt.database_url, schema)
                assert marks[AUDIT_CONSUMER] == marks["projector_v1"] == last_seq
                engine = make_engine(rt.database_url, schema, pool_size=1)
                try:
                    checked = await verify(nc, engine, wait=0)
                finally:
                    await engine.dispose()
                assert checked.ok, checked.finding
                assert checked.rows == last_seq
            else:
                assert result.audit_apart is None
        assert whole[True] == whole[False], [t for t in whole[True] if whole[True][t] != whole[False].get(t)]
        assert all(whole[True][t] for t in ("audit_trail", "events", "event_duplicates", "rejected", "activities"))

        upto = {}
        for apart in (False, True):
            schema = f"apart_{tag}_asof_{int(apart)}"
            await replay(nc, rt.database_url, schema, as_of=cutoff, child_env=rt.child_env() if apart else None,
                         parallel_from=1)
            upto[apart] = await checksums(rt.database_url, schema)
        assert upto[True] == upto[False]
        assert upto[True]["audit_trail"] != whole[True]["audit_trail"]  # the later messages are left out
    finally:
        await nc.close()
        rt.stop()


async def test_a_failed_audit_process_fails_the_replay(system: System, monkeypatch):
    for name, value in system.env().items():
        monkeypatch.setenv(name, value)
    rt = await Runtime(load()).start()
    nc = await rt.connect_nats("test-replay-apart-fails")
    try:
        monkeypatch.setattr(sys, "executable", "/bin/false")  # the audit process exits 1 at once
        with pytest.raises(RuntimeError, match="audit chain's replay process failed"):
            await replay(nc, rt.database_url, f"apart_fail_{uuid.uuid4().hex[:6]}", child_env=rt.child_env(),
                         parallel_from=1)
    finally:
        await nc.close()
        rt.stop()
