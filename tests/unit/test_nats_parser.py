"""The fast protocol parser reads a connection's bytes as nats-py's parser does, however the reads
split them, and hands the stream messages of Pullers over directly, in order."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.errors import ProtocolError
from nats.protocol.parser import Parser

from projections.nats_parser import FastParser, install

pytestmark = pytest.mark.unit
ROUTED = 7
"""The subscription id of a Puller in these tests."""


def hmsg(subject: str, sid: int, reply: str, headers: bytes, payload: bytes) -> bytes:
    line = f"HMSG {subject} {sid} {reply} {len(headers)} {len(headers) + len(payload)}".replace("  ", " ")
    return line.encode() + b"\r\n" + headers + payload + b"\r\n"


def msg(subject: str, sid: int, reply: str, payload: bytes) -> bytes:
    return f"MSG {subject} {sid} {reply} {len(payload)}".replace("  ", " ").encode() + b"\r\n" + payload + b"\r\n"


HEADERS = b"NATS/1.0\r\nNats-Msg-Id: e-1\r\nContent-Type: application/cloudevents+json\r\n\r\n"
STATUS = b"NATS/1.0 404 No Messages\r\n\r\n"
INFO = {"server_id": "X", "version": "2.12.0", "max_payload": 1048576}
TRAFFIC = b"".join([
    b"INFO " + json.dumps(INFO).encode() + b"\r\n",
    hmsg("doingoai.events.ha-tinh.so-ngoai-vu.activity_held", ROUTED, "$JS.ACK.S.C.1.1.1.1700000000000000000.2",
         HEADERS, '{"title":"Giao lưu hữu nghị"}'.encode()),
    b"PING\r\n",
    msg("_INBOX.x.1", ROUTED, "", b""),  # no reply subject: not a stream message, the client's own path
    hmsg("_INBOX.x.2", ROUTED, "", STATUS, b""),  # a status message
    b"+OK\r\n",
    hmsg("doingoai.events.ha-tinh.so-ngoai-vu.report_submitted", ROUTED, "$JS.ACK.S.C.1.2.2.1700000000000000001.1",
         HEADERS, b"x" * 5000),
    msg("other.subject", 3, "reply.to", b"payload\r\nwith CRLF"),  # another subscription
    b"PONG\r\n",
    hmsg("doingoai.events.ha-tinh.so-ngoai-vu.activity_held", ROUTED, "$JS.ACK.S.C.1.3.3.1700000000000000002.0",
         HEADERS, b"{}"),
    b"-ERR 'Permissions Violation for Subscription to \"x\"'\r\n",
])


class Recorder:
    """A client and a Puller in one: what reached which, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def deliver(self, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
        self.calls.append(("msg", subject, reply, data, headers))

    async def _process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
        self.calls.append(("msg", subject, reply, data, headers) if sid == ROUTED and reply else
                          ("client", sid, subject, reply, data, headers))

    async def _process_ping(self) -> None:
        self.calls.append(("ping",))

    async def _process_pong(self) -> None:
        self.calls.append(("pong",))

    async def _process_err(self, message: str) -> None:
        self.calls.append(("err", message))

    async def _process_info(self, info: dict[str, Any]) -> None:
        self.calls.append(("info", info))


def read(parser_of: Any, data: bytes, cuts: list[int]) -> list[tuple[Any, ...]]:
    """What a parser made by `parser_of(recorder)` passes on of `data`, read in pieces cut at `cuts`."""
    recorder = Recorder()
    parser = parser_of(recorder)
    bounds = [0, *sorted(set(cuts)), len(data)]

    async def feed() -> None:
        for start, stop in itertools.pairwise(bounds):
            await parser.parse(data[start:stop])

    asyncio.run(feed())
    return recorder.calls


def test_it_passes_on_what_nats_py_s_parser_does_with_the_streams_messages_routed() -> None:
    ours = read(lambda r: FastParser(r, {ROUTED: r}), TRAFFIC, [])
    assert ours == read(Parser, TRAFFIC, [])
    assert [c[0] for c in ours] == ["info", "msg", "ping", "client", "client", "msg", "client", "pong", "msg", "err"]
    assert ours[5][3] == b"x" * 5000 and ours[5][4] == HEADERS
    assert ours[3] == ("client", ROUTED, b"_INBOX.x.1", b"", b"", None)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(TRAFFIC) - 1), max_size=12))
def test_reads_cut_anywhere_give_the_same(cuts: list[int]) -> None:
    assert read(lambda r: FastParser(r, {ROUTED: r}), TRAFFIC, cuts) == read(Parser, TRAFFIC, [])


@pytest.mark.parametrize("cut", range(1, len(TRAFFIC), 61))
def test_it_takes_over_a_parser_in_the_middle_of_a_message(cut: int) -> None:
    client: Any = Recorder()
    client._ps = Parser(client)

    async def feed() -> None:
        await client._ps.parse(TRAFFIC[:cut])
        install(client, {ROUTED: client})
        assert isinstance(client._ps, FastParser)
        await client._ps.parse(TRAFFIC[cut:])

    asyncio.run(feed())
    assert client.calls == read(Parser, TRAFFIC, [])


@pytest.mark.parametrize("line", [b"HMSG a 1 x 10\r\n", b"MSG a b 3\r\n", b"MSG a 1 r s 3\r\n", b"HELLO\r\n"])
def test_a_malformed_line_is_a_protocol_error(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        read(lambda r: FastParser(r, {ROUTED: r}), line, [])
