"""The event stream on a 3-node NATS cluster (R3), with nodes killed by SIGKILL under load, and the
real `doingoai up` projecting the result."""

from __future__ import annotations

import asyncio
import collections
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import BadRequestError

from schemas.codec import encode
from schemas.envelope import CloudEvent, nats_subject
from services.embedded.ports import free_port
from services.embedded.postgres import EmbeddedPostgres
from services.runtime import SERVICE_USER
from services.store import EVENTS_STREAM, msg_id
from services.store.publisher import Publisher, StoreUnavailable
from services.store.streams import ensure_streams
from tests.cluster import SERVICE_PASSWORD, Cluster, read_stream
from tests.support import System, sample

pytestmark = pytest.mark.integration
LANES = 4  # concurrent publishers
PAUSE_S = 0.01  # between one lane's publishes: a few hundred events/s, not a saturated machine
KINDS = ("activity_held", "delegation_received", "difficulty_raised")
LOST_ACK_EVERY = 10


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    nodes = Cluster(tmp_path / "nats").start()
    try:
        yield nodes
    finally:
        nodes.stop()


@dataclass
class Ledger:
    """What the publishers were told: every acknowledged (id, sequence), and what failed on the way."""

    acked: dict[str, int] = field(default_factory=dict)
    sent: dict[str, CloudEvent] = field(default_factory=dict)
    duplicate_acks: int = 0  # a retry answered "duplicate": the earlier try had landed
    lost_acks: int = 0  # first tries sent without waiting for their acknowledgement
    failures: collections.Counter[str] = field(default_factory=collections.Counter)

    def count(self) -> int:
        return len(self.acked)


async def publish_until(stop: asyncio.Event, publisher: Publisher, ledger: Ledger, deadline: float) -> None:
    """One lane: publish new events until `stop`; retry each one with the same id until acknowledged
    (a timeout says nothing about whether it landed), so every event started ends acknowledged."""
    n = 0
    while not stop.is_set():
        event = sample(KINDS[n % len(KINDS)])
        n += 1
        if n % LOST_ACK_EVERY == 0:  # a first try whose acknowledgement is lost: it may have landed
            await publisher.nc.publish(nats_subject(event.province, event.agency, event.event_name),
                                       encode(event), headers={"Nats-Msg-Id": msg_id(event.source, event.id)})
            ledger.lost_acks += 1
        while True:
            try:
                result = await publisher.publish(event)
                break
            except BadRequestError:
                raise
            except (TimeoutError, NatsError, StoreUnavailable) as exc:
                code = getattr(exc, "err_code", None)
                ledger.failures[f"{type(exc).__name__} {code}" if code else type(exc).__name__] += 1
                if time.monotonic() > deadline:
                    raise AssertionError(f"event {event.id} not acknowledged in time") from exc
                await asyncio.sleep(0.2)
        assert result.id not in ledger.acked, "an id acknowledged twice by the publisher"
        ledger.acked[result.id] = result.sequence
        ledger.sent[result.id] = event
        ledger.duplicate_acks += result.duplicate
        await asyncio.sleep(PAUSE_S)


async def acks_grow(ledger: Ledger, within_s: float) -> float:
    """Seconds until the next acknowledgement; fails if none comes within `within_s`."""
    start, seen = time.monotonic(), ledger.count()
    while ledger.count() == seen:
        if time.monotonic() - start > within_s:
            raise AssertionError(f"no publish acknowledged for {within_s} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def publish_through_failures(cluster: Cluster, js: JetStreamContext, publisher: Publisher,
                                   ledger: Ledger) -> list[str]:
    """Publish from LANES tasks while a follower, then the leader, are killed and restarted."""
    stop = asyncio.Event()
    deadline = time.monotonic() + 90
    lanes = [asyncio.create_task(publish_until(stop, publisher, ledger, deadline)) for _ in range(LANES)]
    timeline: list[str] = []
    try:
        await asyncio.sleep(3)
        leader = await cluster.stream_leader(js)
        follower = random.choice([n for n in cluster.nodes if n != leader])
        cluster.kill(follower)
        timeline.append(f"{ledger.count()} acked; killed follower {follower} (leader {leader})")
        at_kill = ledger.count()
        await asyncio.sleep(4)
        assert ledger.count() > at_kill + 100, "publishing stalled with one follower down"

        leader = await cluster.stream_leader(js)
        assert leader != follower
        on = cluster.node_of(publisher.nc)
        cluster.kill(leader)
        timeline.append(f"{ledger.count()} acked; killed leader {leader} (publishers on {on}): one node of three left")
        await asyncio.sleep(1)  # acknowledgements already on the wire arrive
        without_quorum = ledger.count()
        await asyncio.sleep(4)
        assert ledger.count() == without_quorum, "acknowledged without a majority of the replicas"

        await asyncio.to_thread(cluster.restart, follower)
        resumed_s = await acks_grow(ledger, within_s=30)
        new_leader = await cluster.stream_leader(js)
        assert new_leader != leader
        timeline.append(f"{ledger.count()} acked; restarted {follower}: new leader {new_leader}, "
                        f"publishing resumed after {resumed_s:.1f} s")
        await asyncio.sleep(3)
        await asyncio.to_thread(cluster.restart, leader)
        await cluster.wait_all_current(js)
        timeline.append(f"{ledger.count()} acked; restarted {leader}: all replicas current")
        await asyncio.sleep(2)
    finally:
        stop.set()
        await asyncio.gather(*lanes)
    return timeline


async def test_acknowledged_events_survive_sigkill_of_follower_and_leader_exactly_once(
        cluster: Cluster, tmp_path: Path):
    """R3 stream, continuous publishing with the publisher library. SIGKILL a follower: publishes
    keep being acknowledged. Then SIGKILL the stream leader too: with one node of three left,
    nothing is acknowledged. Restart the follower: a new leader is elected and publishing resumes;
    restart the old leader: all replicas current. Every acknowledged event is in the stream exactly
    once, at its acknowledged sequence, and the stream holds nothing else: a retry whose first try
    had landed (a timeout, or — for every 10th event, on purpose — an acknowledgement never waited
    for) is deduplicated by Nats-Msg-Id, across leader changes too. Then `doingoai up` on the
    cluster projects the whole stream and serves the acknowledged events."""
    nc = await cluster.connect()
    pub_nc: Client | None = None
    try:
        js = nc.jetstream()
        await cluster.wait_ready(js)
        await ensure_streams(js, dedup_window_s=600, replicas=3)
        # the publishers' connection is on the stream leader, so killing it cuts publishes in flight
        pub_nc = await cluster.connect("publishers", first=await cluster.stream_leader(js))
        publisher = Publisher(pub_nc, lookup=False, timeout=2.0, retries=1)
        ledger = Ledger()
        timeline = await publish_through_failures(cluster, js, publisher, ledger)

        # repeats of events acknowledged before, during and after the failovers: the leader of now
        # knows every id, whichever leader stored it, and answers with the original sequence
        ids = list(ledger.acked)
        repeated = ids[:40] + random.sample(ids[40:-40], 40) + ids[-40:]
        again = await publisher.publish_many([ledger.sent[i] for i in repeated])
        assert all(r.duplicate for r in again)
        assert [r.sequence for r in again] == [ledger.acked[i] for i in repeated]

        info = await js.stream_info(EVENTS_STREAM)
        stored = await read_stream(js)
        stored_ids = [event_id for _, event_id in stored]
        lost = set(ledger.acked) - set(stored_ids)
        duplicated = len(stored_ids) - len(set(stored_ids))
        print(f"\n[cluster] {len(ledger.acked)} acked ({ledger.lost_acks} sent first without awaiting the ack, "
              f"{ledger.duplicate_acks} retries answered duplicate), "
              f"{len(lost)} lost, {duplicated} duplicated; stream {info.state.messages} messages; "
              f"retried after {dict(ledger.failures)}\n  " + "\n  ".join(timeline))
        assert not lost
        assert duplicated == 0
        assert ledger.duplicate_acks > 0, "no retry found its first try landed: the dedup went untested"
        assert info.state.messages == len(ledger.acked) == len(stored)
        assert dict(stored) == {seq: event_id for event_id, seq in ledger.acked.items()}
        last_seq = info.state.last_seq
    finally:
        if pub_nc is not None:
            await pub_nc.close()
        await nc.close()

    await projections_complete(cluster, tmp_path, ledger, last_seq)


async def projections_complete(cluster: Cluster, tmp_path: Path, ledger: Ledger, last_seq: int) -> None:
    """`doingoai up` against the cluster and a PostgreSQL server projects up to the last sequence and
    serves the acknowledged events at their sequences."""
    pg = EmbeddedPostgres(tmp_path / "pg")
    database_url = await asyncio.to_thread(pg.start)
    system = System(tmp_path / "up", free_port(), env_extra={
        "DOINGOAI_NATS_URL": cluster.nats_url,
        "DOINGOAI_NATS_USER": SERVICE_USER,
        "DOINGOAI_NATS_PASSWORD": SERVICE_PASSWORD,
        "DOINGOAI_DATABASE_URL": database_url,
        "DOINGOAI_STREAM_REPLICAS": "3",
        "DOINGOAI_ESCALATIONS": "false",
    })
    try:
        started = time.monotonic()
        await asyncio.to_thread(system.start)
        await asyncio.to_thread(system.wait_projected, last_seq, 90)
        projected_s = time.monotonic() - started
        async with httpx.AsyncClient(base_url=system.http, timeout=10, headers=system.reader()) as http:
            for event_id in random.sample(sorted(ledger.acked), 50):
                r = await http.get(f"/api/events/{event_id}")
                assert r.status_code == 200, (event_id, r.text)
                assert r.json()["sequence"] == ledger.acked[event_id]
                assert r.json()["event"]["id"] == event_id
        print(f"[cluster] doingoai up projected {last_seq} events in {projected_s:.1f} s (start included)")
    finally:
        await asyncio.to_thread(system.stop)
        await asyncio.to_thread(pg.stop)
