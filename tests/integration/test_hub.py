"""A province joined to the national hub: the hub's national stream copies the province's events,
exactly once, across a link that goes down and comes back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from services.store import EVENTS_STREAM
from services.store.publisher import Publisher
from services.store.streams import ensure_streams
from tests.cluster import HubLink, read_stream
from tests.support import sample

pytestmark = pytest.mark.integration
BEFORE, DURING = 150, 150  # events published with the link up, then while it is down


@pytest.fixture
def hub_link(tmp_path: Path) -> Iterator[HubLink]:
    link = HubLink(tmp_path).start()
    try:
        yield link
    finally:
        link.stop()


@pytest.mark.parametrize("cut", ["network", "hub"])
async def test_province_keeps_publishing_while_cut_off_and_the_hub_copies_every_event_once(
        hub_link: HubLink, cut: str):
    """While the link is down (`network`: the leaf connection is dropped and refused, both servers
    up; `hub`: the hub is killed with SIGKILL), the province still acknowledges every publish. Once
    the link is back, the hub's national stream holds every province event exactly once, in the
    province's order, and nothing under doingoai.> ever crossed the link as plain traffic."""
    await hub_link.wait_linked()
    province = await hub_link.connect_province()
    hub = await hub_link.connect_hub()
    leaked: list[str] = []
    try:
        await ensure_streams(province.jetstream(), dedup_window_s=600)
        await hub.jetstream().add_stream(hub_link.national_stream_config())

        async def on_hub(msg: Msg) -> None:
            leaked.append(msg.subject)

        await hub.subscribe("doingoai.>", cb=on_hub)
        publisher = Publisher(province, lookup=False)

        before = await publisher.publish_many([sample("activity_held") for _ in range(BEFORE)])
        await wait_for_count(hub, BEFORE, within_s=20)

        hub_link.cut(cut)
        if cut == "hub":
            await hub.close()
        during = await publisher.publish_many(
            [sample("delegation_received" if i % 2 else "activity_held") for i in range(DURING)])
        assert all(not r.duplicate for r in during)
        assert [r.sequence for r in before + during] == list(range(1, BEFORE + DURING + 1))
        await asyncio.sleep(3)  # the link stays down a while

        hub_link.restore(cut)
        restored = time.monotonic()
        if cut == "hub":
            hub = await hub_link.connect_hub()
            await hub.subscribe("doingoai.>", cb=on_hub)
        await hub_link.wait_linked()
        # after a hub restart the server's source retry (30 s request wait + backoff) sets the pace
        await wait_for_count(hub, BEFORE + DURING, within_s=75)
        caught_up_s = time.monotonic() - restored

        await asyncio.sleep(1)  # anything late would be a duplicate
        national = await read_stream(hub.jetstream())
        ids = [event_id for _, event_id in national]
        published = [r.id for r in before + during]
        assert len(ids) == len(set(ids)), "an event was copied twice"
        assert ids == published, "the national stream differs from the province's, id by id"
        assert (await hub.jetstream().stream_info(EVENTS_STREAM)).state.messages == BEFORE + DURING
        assert leaked == []
        print(f"\n[hub/{cut}] province acked {len(published)} ({DURING} while cut off); hub copied "
              f"{len(ids)} distinct, 0 duplicates; caught up {caught_up_s:.1f} s after the link returned")
    finally:
        await province.close()
        await hub.close()


async def wait_for_count(nc: Client, count: int, within_s: float) -> None:
    js = nc.jetstream()
    deadline = time.monotonic() + within_s
    seen = -1
    while time.monotonic() < deadline:
        try:
            seen = (await js.stream_info(EVENTS_STREAM)).state.messages
        except Exception:  # the hub may still be starting
            seen = -1
        if seen >= count:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"the national stream holds {seen} events, not {count}, after {within_s} s")
