"""JetStream stream snapshots and restores through the JetStream API, with nats-py's public
`request`, `subscribe` and `publish` (nats-py has no helper for them).

Snapshot (`$JS.API.STREAM.SNAPSHOT.<stream>`, body `{"deliver_subject", "jsck"}`): the server
answers with the stream's `config` and `state`, then sends the snapshot in chunks to the deliver
subject, each with a reply subject the client answers (empty) for flow control; an empty message
ends it, its status header `204` when the snapshot is whole (`408`/`500` and a description when it
failed). Messages keep their sequences and times; consumers and their state are included.

Restore (`$JS.API.STREAM.RESTORE.<stream>`, body `{"config", "state"}`) into a server where the
stream does not exist: the server answers with a `deliver_subject`; every chunk is sent there as a
request (answered empty, or with an error), and an empty request ends it, answered with the new
stream's info or the error.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout

from services.backup import BackupError

API = "$JS.API"
CHUNK_BYTES = 128 * 1024
REQUEST_S = 30.0
FINISH_S = 600.0
"""How long the server may take to rebuild a restored stream (a large stream's indexes)."""


async def _api(nc: Client, subject: str, body: dict[str, Any], wait_s: float = REQUEST_S) -> dict[str, Any]:
    try:
        reply = await nc.request(f"{API}.{subject}", json.dumps(body).encode(), timeout=wait_s)
    except NatsTimeout:
        raise BackupError(f"{API}.{subject}: no answer in {wait_s:g} s") from None
    answer: dict[str, Any] = json.loads(reply.data)
    if "error" in answer:
        error = answer["error"]
        raise BackupError(f"{API}.{subject}: {error.get('description')} ({error.get('err_code')})")
    return answer


async def file_streams(nc: Client) -> list[dict[str, Any]]:
    """Every stream kept on disk (memory streams such as the workers' leases are not state to keep),
    as the server describes it: {"config", "state", ...}."""
    streams: list[dict[str, Any]] = []
    while True:
        page = await _api(nc, "STREAM.LIST", {"offset": len(streams)})
        streams += page.get("streams") or []
        if not page.get("streams") or len(streams) >= page.get("total", 0):
            break
    return [s for s in streams if s["config"].get("storage", "file") == "file"]


async def snapshot(nc: Client, stream: str, out: Path, *, idle_s: float = 60.0) -> dict[str, Any]:
    """Write the snapshot of `stream` to `out`; {"config", "state"} of the stream as snapshot.
    The server checks every message's checksum first (`jsck`)."""
    inbox = nc.new_inbox()
    finished: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()
    moved = asyncio.Event()
    with out.open("wb") as file:

        async def chunk(msg: Msg) -> None:
            moved.set()
            if msg.data:
                file.write(msg.data)
                if msg.reply:
                    await nc.publish(msg.reply, b"")
            elif not finished.done():
                finished.set_result(msg)

        sub = await nc.subscribe(inbox, cb=chunk)
        try:
            answer = await _api(nc, f"STREAM.SNAPSHOT.{stream}", {"deliver_subject": inbox, "jsck": True},
                                wait_s=FINISH_S)
            while not finished.done():
                moved.clear()
                try:
                    await asyncio.wait_for(asyncio.shield(moved.wait()), idle_s)
                except TimeoutError:
                    raise BackupError(f"snapshot of {stream}: nothing received for {idle_s:g} s") from None
            end = finished.result()
        finally:
            await sub.unsubscribe()
    status = (end.headers or {}).get("Status", "204")
    if status != "204":
        why = (end.headers or {}).get("Description", "")
        raise BackupError(f"snapshot of {stream} failed: {status} {why}".strip())
    return {"config": answer["config"], "state": answer["state"]}


async def restore(nc: Client, stream: str, path: Path, config: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """Restore `stream` from the snapshot at `path` (it must not exist); the new stream's state."""
    answer = await _api(nc, f"STREAM.RESTORE.{stream}", {"config": config, "state": state})
    deliver = answer["deliver_subject"]
    with path.open("rb") as file:
        while data := file.read(CHUNK_BYTES):
            try:
                reply = await nc.request(deliver, data, timeout=REQUEST_S)
            except NatsTimeout:
                raise BackupError(f"restore of {stream}: a chunk was not acknowledged in {REQUEST_S:g} s") from None
            if reply.data:
                error = json.loads(reply.data).get("error") or {}
                raise BackupError(f"restore of {stream}: {error.get('description', reply.data[:200])}")
    try:
        done = await nc.request(deliver, b"", timeout=FINISH_S)
    except NatsTimeout:
        raise BackupError(f"restore of {stream}: not finished in {FINISH_S:g} s") from None
    info: dict[str, Any] = json.loads(done.data)
    if "error" in info:
        raise BackupError(f"restore of {stream}: {info['error'].get('description')}")
    return info["state"]  # type: ignore[no-any-return]
