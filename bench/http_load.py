"""The load of the HTTP rows: agency systems posting events to `POST /events`, each on a keep-alive
HTTP/1.1 connection of its own (connecting again after an answer that closes it, as HTTP clients do),
as light on this machine's CPU as a client can be."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import httptools

from bench.refs import Item


async def http_ingest(port: int, token: str, items: Sequence[Item], per_request: int, concurrency: int) -> float:
    """POST /events from `concurrency` clients, each on a keep-alive HTTP/1.1 connection of its own:
    single events (structured mode) or batches; events/s. Each client writes a request's bytes as an
    agency's system would send them and reads the answer with httptools' parser (uvicorn's): the
    agencies' systems run elsewhere, so the lighter the client, the less of this machine's CPU it
    takes from the service (about a third of aiohttp's client per single event)."""
    if per_request == 1:
        bodies = [(raw, "application/cloudevents+json") for _, raw, _ in items]
    else:
        bodies = [(b"[" + b",".join(raw for _, raw, _ in items[k:k + per_request]) + b"]",
                   "application/cloudevents-batch+json") for k in range(0, len(items), per_request)]
    head = f"POST /events HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nauthorization: Bearer {token}\r\n".encode()
    queue = iter(bodies)

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answer = Answer()
        parser = httptools.HttpResponseParser(answer)
        try:
            for body, ctype in queue:
                if answer.closing:  # the answer before said `Connection: close`: connect again
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    parser = httptools.HttpResponseParser(answer)
                    answer.closing = False
                writer.write(b"%scontent-type: %s\r\ncontent-length: %d\r\n\r\n%s"
                             % (head, ctype.encode(), len(body), body))
                answer.done = False
                while not answer.done:
                    data = await reader.read(65536)
                    if not data:
                        raise RuntimeError("POST /events: the service closed the connection")
                    parser.feed_data(data)
                if parser.get_status_code() != 202:
                    raise RuntimeError(f"POST /events: {parser.get_status_code()} {bytes(answer.body)[:300]!r}")
                answer.body.clear()
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return len(items) / (time.perf_counter() - t0)


class Answer:
    """httptools' callbacks for one answer after another on a keep-alive connection."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.done = False
        self.closing = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"connection" and value.lower() == b"close":
            self.closing = True

    def on_body(self, chunk: bytes) -> None:
        self.body += chunk

    def on_message_complete(self) -> None:
        self.done = True
