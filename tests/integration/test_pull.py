"""The projections' pull reader (`projections.engine.pull.Puller`) on a real nats-server: what a fetch
returns and when, that a late status of an earlier request does not end a later one, that
messages a waiting request brings after its fetch returned are served next, in order, and that
the messages it delivers keep their headers and are acknowledged."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from projections.engine.pull import Puller, stream_message

pytestmark = pytest.mark.integration
STREAM = "PULLTEST"


@pytest.fixture
async def nc(bare_nats_url: str) -> AsyncIterator[Client]:
    nc: Client = await nats.connect(bare_nats_url)
    yield nc
    await nc.close()


@pytest.fixture
async def js(nc: Client) -> JetStreamContext:
    js = nc.jetstream()
    try:
        await js.delete_stream(STREAM)
    except nats.js.errors.NotFoundError:
        pass
    await js.add_stream(name=STREAM, subjects=["pulltest.>"])
    await js.add_consumer(STREAM, ConsumerConfig(durable_name="reader", ack_policy=AckPolicy.ALL))
    return js


async def publish(js: JetStreamContext, *bodies: str) -> None:
    for body in bodies:
        await js.publish(f"pulltest.{body}", body.encode(), stream=STREAM)


async def test_a_fetch_returns_what_is_there_at_once_up_to_the_batch(nc: Client, js: JetStreamContext) -> None:
    await publish(js, "a", "b", "c", "d", "e")
    puller = await Puller(nc, STREAM, "reader").start()
    t0 = time.perf_counter()
    first = await puller.fetch(3, 5.0)
    rest = await puller.fetch(10, 5.0)
    assert time.perf_counter() - t0 < 1.0  # neither waited for a full batch
    assert [m.data for m in first] == [b"a", b"b", b"c"]
    assert [m.data for m in rest] == [b"d", b"e"]
    assert [stream_message(m).seq for m in first + rest] == [1, 2, 3, 4, 5]
    await puller.stop()


async def test_an_empty_fetch_waits_its_time_then_returns_nothing(nc: Client, js: JetStreamContext) -> None:
    puller = await Puller(nc, STREAM, "reader").start()
    t0 = time.perf_counter()
    assert await puller.fetch(10, 0.3) == []
    assert 0.25 < time.perf_counter() - t0 < 2.0
    await puller.stop()


async def test_a_waiting_fetch_returns_at_the_first_message(nc: Client, js: JetStreamContext) -> None:
    puller = await Puller(nc, STREAM, "reader").start()
    later = asyncio.create_task(asyncio.sleep(0.2))
    later.add_done_callback(lambda _: asyncio.ensure_future(publish(js, "late")))
    t0 = time.perf_counter()
    got = await puller.fetch(100, 5.0)
    assert [m.data for m in got] == [b"late"]
    assert time.perf_counter() - t0 < 2.0  # not the 5 s the request may wait, nor a full batch
    await puller.stop()


async def test_an_earlier_requests_expiry_does_not_end_a_later_fetch(nc: Client, js: JetStreamContext) -> None:
    """The first fetch returns at its first message; its request stays open and expires while the
    second fetch waits, and that 408 must not end the second one: it returns the next message."""
    puller = await Puller(nc, STREAM, "reader").start()
    asyncio.get_running_loop().call_later(0.05, lambda: asyncio.ensure_future(publish(js, "one")))
    assert [m.data for m in await puller.fetch(5, 0.4)] == [b"one"]  # request 2 open until ~0.4 s
    asyncio.get_running_loop().call_later(0.8, lambda: asyncio.ensure_future(publish(js, "two")))
    t0 = time.perf_counter()
    got = await puller.fetch(5, 3.0)
    assert [m.data for m in got] == [b"two"]
    assert time.perf_counter() - t0 > 0.5  # it waited past the earlier request's expiry
    await puller.stop()


async def test_what_an_open_request_brings_later_is_served_next_in_order(nc: Client, js: JetStreamContext) -> None:
    puller = await Puller(nc, STREAM, "reader").start()
    asyncio.get_running_loop().call_later(0.05, lambda: asyncio.ensure_future(publish(js, "p", "q", "r")))
    first = await puller.fetch(10, 2.0)
    await asyncio.sleep(0.3)  # the rest arrives through the request still open
    second = await puller.fetch(10, 2.0)
    assert [m.data for m in first + second] == [b"p", b"q", b"r"]
    assert [stream_message(m).seq for m in first + second] == [1, 2, 3]
    await puller.stop()


def test_stream_message_reads_both_forms_of_the_ack_subject() -> None:
    ns = 1_700_000_000_123_456_789
    old = Msg(None, subject="doingoai.events.ha-tinh.so-ngoai-vu.activity_held",  # type: ignore[arg-type]
              reply=f"$JS.ACK.S.C.1.42.7.{ns}.3", data=b"{}", headers={"Nats-Msg-Id": "x"})
    new = Msg(None, subject="s", reply=f"$JS.ACK.hub.ACCHASH.S.C.1.43.8.{ns}.2.tok", data=b"")  # type: ignore[arg-type]
    when = datetime.fromtimestamp(ns / 1_000_000_000.0, UTC)
    assert (stream_message(old).seq, stream_message(old).recorded_at, stream_message(old).headers) == (
        42, when, {"Nats-Msg-Id": "x"})
    assert (stream_message(new).seq, stream_message(new).recorded_at) == (43, when)
    assert stream_message(old).recorded_at == old.metadata.timestamp  # as nats-py reads it
    assert stream_message(new).seq == new.metadata.sequence.stream


async def test_delivered_messages_keep_their_headers_and_are_acknowledged(nc: Client, js: JetStreamContext) -> None:
    await js.publish("pulltest.h", b"with", headers={"Nats-Msg-Id": "id-1", "X-Note": "a: b"}, stream=STREAM)
    await js.publish("pulltest.h", b"without")  # no stream named: nats-py sends no header at all
    puller = await Puller(nc, STREAM, "reader").start()
    got = await puller.fetch(10, 2.0)
    assert [type(m) for m in got] == [Msg, Msg]
    first, second = (stream_message(m) for m in got)
    assert (first.subject, first.data, dict(first.headers)) == (
        "pulltest.h", b"with", {"Nats-Msg-Id": "id-1", "X-Note": "a: b", "Nats-Expected-Stream": STREAM})
    assert first.headers["Nats-Msg-Id"] == "id-1" and "Missing" not in first.headers
    assert (second.data, dict(second.headers)) == (b"without", {})
    await got[-1].ack()  # AckPolicy.ALL: both
    for _ in range(50):
        if (await js.consumer_info(STREAM, "reader")).num_ack_pending == 0:
            break
        await asyncio.sleep(0.05)
    info = await js.consumer_info(STREAM, "reader")
    assert (info.num_ack_pending, info.ack_floor.stream_seq) == (0, 2)
    await puller.stop()
    other = await Puller(nc, STREAM, "reader").start()  # a second puller on the same connection
    assert await other.fetch(10, 0.3) == []  # nothing left to deliver
    await other.stop()

