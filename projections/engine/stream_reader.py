"""Read a stream from one sequence up to another, in order, in batches, with backpressure.

An ephemeral pull consumer (acknowledgement none, in memory) delivers only what each `fetch`
asks for, so a reader slower than the server never overflows the client's buffers. A push
consumer does, even an ordered one with flow control: on a million-event replay nats-py's
pending limits overflowed, messages were dropped and the consumer restarted over and over.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from projections.engine.batch import StreamMessage
from projections.engine.pull import Puller, stream_message


async def read_batches(
    nc: Client, stream: str, subjects: str, *, from_seq: int, last_seq: int, batch: int = 1000,
    fetch_timeout: float = 2.0,
) -> AsyncGenerator[list[StreamMessage], None]:
    """Messages of `stream` on `subjects` with sequences `from_seq`..`last_seq`, in batches."""
    if last_seq < from_seq:
        return
    js = nc.jetstream()
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=max(from_seq, 1),
        ack_policy=AckPolicy.NONE, mem_storage=True, num_replicas=1, inactive_threshold=300.0,
    )
    name = (await js.add_consumer(stream, config.evolve(filter_subject=subjects))).name
    sub = await Puller(nc, stream, name).start()
    try:
        while True:
            msgs = await sub.fetch(batch, fetch_timeout)
            if not msgs:
                if (await js.consumer_info(stream, name)).num_pending == 0:
                    return  # nothing more on these subjects up to the stream's end
                continue
            messages = [stream_message(m) for m in msgs]
            wanted = [m for m in messages if m.seq <= last_seq]
            if wanted:
                yield wanted
            if messages[-1].seq >= last_seq:
                return
    finally:
        await sub.stop()
        with contextlib.suppress(NatsError):  # else the server drops it after `inactive_threshold`
            await js.delete_consumer(stream, name)
