"""Personal data in what the service answers: every token in a GET's JSON, JSON Lines or CSV body is
opened (`services.personal_data`): the person's name while their key lives, `[đã xóa]` once erased.

A plain ASGI middleware over the body as sent, so no route can forget it: in JSON a token is always
inside a string, and is replaced by the text JSON-escaped; in CSV each cell is opened (a cell of
JSON as JSON) and the table written again. A streamed body (the audit trail's JSON Lines) is opened
chunk by chunk, each a whole number of lines.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from projections.models.personal import keys_by_id, opened
from schemas.personal import PREFIX, TOKEN_RE
from services.http.deps import csv_cell

TOKEN_BYTES = re.compile(TOKEN_RE.pattern.encode())
PREFIX_BYTES = PREFIX.encode() + b"."
OPENED_TYPES = ("application/json", "application/x-ndjson", "application/problem+json", "text/csv")
Keys = Mapping[str, tuple[str, bytes | None]]


def _json_opened(body: bytes, keys: Keys) -> bytes:
    def one(match: re.Match[bytes]) -> bytes:
        text = opened(match.group(0).decode(), keys)
        return json.dumps(text, ensure_ascii=False)[1:-1].encode()
    return TOKEN_BYTES.sub(one, body)


def _csv_opened(body: bytes, keys: Keys) -> bytes:
    text = body.decode("utf-8-sig")
    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv.reader(io.StringIO(text, newline="")):
        writer.writerow([_cell(cell, keys) for cell in row])
    return ("\ufeff" + out.getvalue()).encode()


def _cell(cell: str, keys: Keys) -> str:
    if PREFIX not in cell:
        return cell
    if cell[:1] in "[{":
        return _json_opened(cell.encode(), keys).decode()
    return str(csv_cell(opened(cell, keys)))


class RevealPersonal:
    """Opens the tokens of GET answers with the keys in the database `engine()` gives."""

    def __init__(self, app: ASGIApp, engine: Callable[[], AsyncEngine | None]):
        self.app, self.engine = app, engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        started: list[Message] = []
        kind = ""

        async def sending(message: Message) -> None:
            nonlocal kind
            if message["type"] == "http.response.start":
                kind = MutableHeaders(scope=message).get("content-type", "").split(";")[0].strip()
                if kind in OPENED_TYPES:
                    started.append(message)  # sent with the first body, once its length is known
                    return
                kind = ""
            elif message["type"] == "http.response.body" and kind:
                message = {**message, "body": await self._opened(message.get("body", b""), kind)}
                if started:
                    start = started.pop()
                    headers = MutableHeaders(scope=start)
                    if message.get("more_body"):
                        del headers["content-length"]
                    else:
                        headers["content-length"] = str(len(message["body"]))
                    await send(start)
            await send(message)

        await self.app(scope, receive, sending)

    async def _opened(self, body: bytes, kind: str) -> bytes:
        if PREFIX_BYTES not in body or (engine := self.engine()) is None:
            return body
        ids = {m.group(1).decode() for m in TOKEN_BYTES.finditer(body)}
        if not ids:
            return body
        async with engine.connect() as conn:
            keys = await keys_by_id(conn, ids)
        return _csv_opened(body, keys) if kind == "text/csv" else _json_opened(body, keys)
