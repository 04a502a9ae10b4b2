"""Atomic batches and group commit of the publisher library on a real nats-server (JetStream,
fsync before every ack): what is stored, at which sequence, and that nothing is stored twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from schemas.codec import InvalidEvent, encode
from services.store import EVENTS_STREAM
from services.store.publisher import CONTENT_TYPE, MIN_ATOMIC, ConcurrencyConflict, Publisher, validate
from services.store.streams import stream_configs
from services.store.wire import DUPLICATE_IN_BATCH, BatchRefused, Message, Wire
from tests.support import sample

pytestmark = pytest.mark.integration


@pytest.fixture
async def nc(bare_nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(bare_nats_url)
    yield client
    await client.close()


async def fresh_stream(js: JetStreamContext, *, atomic: bool = True, window_s: float = 60) -> None:
    """The event stream as `ensure_streams` declares it, empty."""
    try:
        await js.delete_stream(EVENTS_STREAM)
    except NotFoundError:
        pass
    config = stream_configs(dedup_window_s=window_s, replicas=1)[0]
    config.allow_atomic = atomic or None
    await js.add_stream(config)


async def stored_ids(js: JetStreamContext) -> list[str]:
    """The Nats-Msg-Id of every message of the stream, in sequence order."""
    last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
    out = []
    for seq in range(1, last + 1):
        msg = await js.get_msg(EVENTS_STREAM, seq)
        out.append((msg.headers or {}).get("Nats-Msg-Id", ""))
    return out


def events(n: int, kind: str = "activity_held") -> list[bytes]:
    return [encode(sample(kind)) for _ in range(n)]


def count_batches(publisher: Publisher) -> list[int]:
    """Sizes of the atomic batches the publisher begins (the real method still runs)."""
    sizes: list[int] = []
    begin = publisher.wire.begin

    async def counted(messages, *, commit=True):  # type: ignore[no-untyped-def]
        sizes.append(len(messages))
        return await begin(messages, commit=commit)

    publisher.wire.begin = counted  # type: ignore[method-assign]
    return sizes


async def test_publish_many_stores_chunks_as_atomic_batches_in_input_order(nc: Client):
    """1,200 events: two atomic batches (1,000 + 200), sequences 1..1,200 in input order, and the
    stored messages carry the message id `<source> <id>` and content type as a single publish would."""
    js = nc.jetstream()
    await fresh_stream(js)
    publisher = Publisher(nc, lookup=False)
    sizes = count_batches(publisher)
    raws = events(1200)
    results = await publisher.publish_many(raws)
    assert sizes == [1000, 200]
    assert [r.sequence for r in results] == list(range(1, 1201))
    assert not any(r.duplicate for r in results)
    assert await stored_ids(js) == [validate(r).msg_id for r in raws]
    first = await js.get_msg(EVENTS_STREAM, 1)
    assert first.data == raws[0]
    assert first.headers is not None and first.headers["Content-Type"] == CONTENT_TYPE


async def test_ids_in_the_duplicate_window_make_the_batch_go_event_by_event_and_nothing_is_stored_twice(nc: Client):
    """nats-server refuses a whole atomic batch (10201) when one id is in its duplicate window: the
    chunk is then published event by event, repeats answered with their original sequence."""
    js = nc.jetstream()
    await fresh_stream(js)
    publisher = Publisher(nc, lookup=False)
    old = events(100)
    first = await publisher.publish_many(old)
    new = events(60)
    mixed = [raw for pair in zip(old[:60], new, strict=True) for raw in pair]
    again = await publisher.publish_many(mixed)
    assert [r.duplicate for r in again] == [True, False] * 60
    assert [r.sequence for r in again[::2]] == [r.sequence for r in first[:60]]
    assert sorted(r.sequence for r in again[1::2]) == list(range(101, 161))
    ids = await stored_ids(js)
    assert len(ids) == len(set(ids)) == 160


async def test_an_id_repeated_in_one_call_is_stored_once_and_its_repeat_answered_as_a_duplicate(nc: Client):
    js = nc.jetstream()
    await fresh_stream(js)
    raws = events(MIN_ATOMIC + 10)
    results = await Publisher(nc, lookup=False).publish_many([*raws[:30], raws[5], *raws[30:]])
    assert results[30].duplicate and results[30].sequence == results[5].sequence
    assert [r.sequence for r in results if not r.duplicate] == list(range(1, len(raws) + 1))
    assert len(await stored_ids(js)) == len(raws)


async def test_an_invalid_event_in_a_later_chunk_stores_nothing_of_the_call(nc: Client):
    """The first chunks are staged on the server while the later ones are validated; an invalid
    event anywhere raises InvalidEvent and the staged batches are abandoned, never stored."""
    js = nc.jetstream()
    await fresh_stream(js)
    publisher = Publisher(nc, lookup=False)
    raws = events(2500)
    raws[2300] = raws[2300].replace(b"vn.gov.doingoai.activity_held.", b"vn.gov.doingoai.nope.")
    with pytest.raises(InvalidEvent):
        await publisher.publish_many(raws)
    await asyncio.sleep(0.5)
    assert (await js.stream_info(EVENTS_STREAM)).state.messages == 0
    del raws[2300]  # the same events, corrected: every one is stored (the abandoned ids were never taken)
    results = await publisher.publish_many(raws)
    assert [r.sequence for r in results] == list(range(1, 2500))


async def test_without_validate_first_the_chunks_before_an_invalid_event_are_stored(nc: Client):
    js = nc.jetstream()
    await fresh_stream(js)
    raws = events(2500)
    raws[2300] = raws[2300].replace(b"vn.gov.doingoai.activity_held.", b"vn.gov.doingoai.nope.")
    with pytest.raises(InvalidEvent):
        await Publisher(nc, lookup=False).publish_many(raws, validate_first=False)
    assert await stored_ids(js) == [validate(r).msg_id for r in raws[:2000]]


async def test_a_stream_without_atomic_batches_gets_pipelined_single_publishes(nc: Client):
    js = nc.jetstream()
    await fresh_stream(js, atomic=False)
    publisher = Publisher(nc, lookup=False)
    raws = events(300)
    results = await publisher.publish_many(raws)
    assert publisher.atomic is False  # learnt from the server's refusal (10174)
    assert [r.sequence for r in results] == list(range(1, 301))
    assert await stored_ids(js) == [validate(r).msg_id for r in raws]


async def test_atomic_batch_refusals_store_nothing_and_an_abandoned_batch_frees_its_ids(nc: Client):
    js = nc.jetstream()
    await fresh_stream(js)
    wire = Wire(nc, stream=EVENTS_STREAM, content_type=CONTENT_TYPE)
    messages = [Message(v.subject, v.raw, v.id) for v in map(validate, events(5))]
    with pytest.raises(BatchRefused) as refused:
        await wire.send([*messages, messages[0]])
    assert refused.value.err_code == DUPLICATE_IN_BATCH
    staged = await wire.begin(messages, commit=False)
    await staged.abandon()
    assert (await js.stream_info(EVENTS_STREAM)).state.messages == 0
    assert await wire.send(messages) == 1
    assert await stored_ids(js) == [m.msg_id for m in messages]


async def test_an_id_with_spaces_and_newlines_is_the_same_message_id_in_a_batch_as_in_a_single_publish(nc: Client):
    """Batch frames encode headers as nats-py's publish does: the duplicate window recognises an
    id stored by a single publish when it comes again inside a batch."""
    js = nc.jetstream()
    await fresh_stream(js)
    odd = sample("activity_held").model_copy(update={"id": "  odd\r\nid  "})
    publisher = Publisher(nc, lookup=False)
    single = await publisher.publish(odd)
    others = events(MIN_ATOMIC)
    results = await publisher.publish_many([*others[:10], encode(odd), *others[10:]])
    assert results[10].duplicate and results[10].sequence == single.sequence
    assert (await js.stream_info(EVENTS_STREAM)).state.messages == 1 + len(others)


async def test_concurrent_publishes_on_one_publisher_are_committed_in_atomic_groups(nc: Client):
    """400 concurrent `publish` calls on one Publisher: beyond `direct_limit` in flight the waiting
    ones go together as atomic batches; every event is stored once at the sequence it was told."""
    js = nc.jetstream()
    await fresh_stream(js)
    publisher = Publisher(nc, lookup=False, direct_limit=4)
    sizes = count_batches(publisher)
    raws = events(400)
    results = await asyncio.gather(*(publisher.publish(raw) for raw in raws))
    assert sizes and max(sizes) >= MIN_ATOMIC
    ids = await stored_ids(js)
    assert len(ids) == 400
    assert {r.sequence: validate(raw).msg_id for r, raw in zip(results, raws, strict=True)} == dict(enumerate(ids, 1))


async def test_group_commit_with_ids_in_the_window_stores_nothing_twice(nc: Client):
    js = nc.jetstream()
    await fresh_stream(js)
    publisher = Publisher(nc, lookup=False, direct_limit=2)
    old = events(100)
    first = await publisher.publish_many(old)
    new = events(300)
    mixed = [*old, *new]
    results = await asyncio.gather(*(publisher.publish(raw) for raw in mixed))
    assert [r.sequence for r in results[:100]] == [r.sequence for r in first]
    assert all(r.duplicate for r in results[:100]) and not any(r.duplicate for r in results[100:])
    ids = await stored_ids(js)
    assert len(ids) == len(set(ids)) == 400


async def test_an_expected_sequence_is_never_grouped_and_a_conflict_is_reported(nc: Client):
    """Two concurrent appends expecting the same last sequence of a subject, among grouped ones:
    one is stored, the other raises ConcurrencyConflict."""
    js = nc.jetstream()
    await fresh_stream(js)
    publisher = Publisher(nc, lookup=False, direct_limit=1)
    base = await publisher.publish(sample("difficulty_raised"))
    racing = [sample("difficulty_raised") for _ in range(2)]
    outcomes = await asyncio.gather(
        *(publisher.publish(raw) for raw in events(100)),
        *(publisher.publish(e, expected_last_subject_seq=base.sequence) for e in racing),
        return_exceptions=True,
    )
    conflicts = [o for o in outcomes if isinstance(o, ConcurrencyConflict)]
    assert len(conflicts) == 1
    assert not [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, ConcurrencyConflict)]
    assert (await js.stream_info(EVENTS_STREAM)).state.messages == 1 + 100 + 1



async def test_publishers_made_per_event_share_one_reply_inbox_per_connection(nc: Client):
    """A Publisher per event (as the demo makes them) adds no subscription per Publisher."""
    js = nc.jetstream()
    await fresh_stream(js)
    publishers = [Publisher(nc, lookup=False) for _ in range(20)]
    results = [await p.publish(raw) for p, raw in zip(publishers, events(20), strict=True)]
    assert [r.sequence for r in results] == list(range(1, 21))
    assert len({id(p.wire.replies) for p in publishers}) == 1
