"""nats-py's protocol parser with a fast path for the messages of Pullers.

nats-py's `Parser` matches two regular expressions against each message's control line, copies
its headers and payload out of a buffer it shortens message by message, and awaits a coroutine
per message: on a replay that was most of what the client spent per message. This parser reads
`MSG` and `HMSG` by splitting the control line of bytes it holds (no buffer shortened per
message), and hands the stream messages of Pullers (`sid` in `routes`, with an ack subject) to
their Puller at once. Everything else (other subscriptions' messages, status messages, PING,
PONG, +OK, -ERR, INFO) goes to the client as nats-py's parser sends it.

Between two reads it keeps what it has not parsed yet, from the start of a control line, in the
state nats-py's parser would be in there; it takes over a connection's parser in any state (see
`install`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from nats.aio.client import Client
from nats.errors import ProtocolError
from nats.protocol.parser import AWAITING_CONTROL_LINE, ERR_RE, INFO_RE, Parser


class Route(Protocol):
    def deliver(self, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None: ...


class FastParser(Parser):
    """A `Parser` for `nc` whose MSG and HMSG of a subscription id in `routes` that carry a reply
    subject go to `routes[sid].deliver(...)` without a coroutine."""

    def __init__(self, nc: Client, routes: Mapping[int, Route]):
        self.routes = routes
        self.want = 0
        """Bytes the pending operation needs from the start of `buf` (0: unknown)."""
        super().__init__(nc)

    def reset(self) -> None:
        super().reset()
        self.want = 0

    async def parse(self, data: bytes = b"") -> None:
        if self.state != AWAITING_CONTROL_LINE:  # taken over in the middle of a payload
            self.buf.extend(data)
            if len(self.buf) < self.needed + 2:
                return
            data, arg, size, split = bytes(self.buf), self.msg_arg, self.needed, self.header_needed
            self.buf.clear()
            self.state, self.header_needed = AWAITING_CONTROL_LINE, 0
            payload, headers = data[split:size], data[:split] if split else None
            if not self._routed(arg["sid"], arg["subject"], arg["reply"], payload, headers):
                await self.nc._process_msg(arg["sid"], arg["subject"], arg["reply"], payload, headers)  # type: ignore[arg-type]
            data = data[size + 2:]
        elif self.buf:
            self.buf.extend(data)
            if len(self.buf) < self.want:
                return
            data = bytes(self.buf)
            self.buf.clear()
        self.want = 0
        pos, end = 0, len(data)
        nc = self.nc
        while pos < end:
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                break
            op = data[pos:pos + 4]
            if op == b"HMSG" or op[:3] == b"MSG":
                args = data[pos:eol].split()
                try:
                    if args[0] == b"HMSG" and 5 <= len(args) <= 6:
                        header_size, total = int(args[-2]), int(args[-1])
                        reply = args[3] if len(args) == 6 else b""
                    elif args[0] == b"MSG" and 4 <= len(args) <= 5:
                        header_size, total = 0, int(args[-1])
                        reply = args[3] if len(args) == 5 else b""
                    else:
                        raise ValueError(args[0])
                    subject, sid = args[1], int(args[2])
                except (IndexError, ValueError):
                    raise ProtocolError("nats: malformed MSG") from None
                body = eol + 2
                stop = body + total + 2
                if stop > end:
                    self.want = stop - pos
                    break
                headers = data[body:body + header_size] if header_size else None
                payload = data[body + header_size:body + total]
                pos = stop
                if not self._routed(sid, subject, reply, payload, headers):
                    await nc._process_msg(sid, subject, reply, payload, headers)  # type: ignore[arg-type]
                continue
            line = data[pos:eol + 2]
            pos = eol + 2
            await self._control(line)
        if pos < end:
            self.buf.extend(data[pos:] if pos else data)

    def _routed(self, sid: int, subject: bytes, reply: bytes, payload: bytes, headers: bytes | None) -> bool:
        """Whether the message went to its route (a stream message of a Puller); if not, it goes to
        the client, as nats-py's parser sends it."""
        route = self.routes.get(sid)
        if route is None or not reply:
            return False
        route.deliver(subject, reply, payload, headers)
        return True

    async def _control(self, line: bytes) -> None:
        """An operation other than MSG and HMSG, as nats-py's parser handles it."""
        nc: Any = self.nc
        word = line.split(maxsplit=1)[0] if line.strip() else b""
        if word == b"PING":
            await nc._process_ping()
        elif word == b"PONG":
            await nc._process_pong()
        elif word == b"+OK":
            pass
        elif word == b"-ERR" and (err := ERR_RE.match(line)):
            await nc._process_err((err.group(1) or b"").decode().lower())
        elif word == b"INFO" and (info := INFO_RE.match(line)):
            await nc._process_info(json.loads(info.group(1).decode()))
        else:
            raise ProtocolError("nats: unknown protocol")


def install(nc: Client, routes: Mapping[int, Route]) -> None:
    """Give `nc` a FastParser over `routes`, taking over its parser's state (a message half read)."""
    old: Parser = nc._ps
    if isinstance(old, FastParser):
        return
    new = FastParser(nc, routes)
    new.buf, new.state, new.needed, new.header_needed, new.msg_arg = (
        old.buf, old.state, old.needed, old.header_needed, old.msg_arg)
    nc._ps = new
