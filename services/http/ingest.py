"""POST /events (the CloudEvents HTTP binding: structured, binary and batched mode) and
POST /api/rejected/{key}/resubmit (the correction of a rejected event), into the stream.

Stated limits: an event is at most MAX_EVENT_BYTES (256 KiB) encoded, in every mode (and on NATS);
a request body at most MAX_EVENT_BYTES (structured, binary mode) or MAX_BATCH_BYTES with at most
MAX_BATCH events (batched mode). A larger body is answered 413 without being read in full.
Every event refused from an authenticated publisher is kept in DOINGOAI_REJECTED with its reason,
the publisher, the time and its raw bytes (the first MAX_EVENT_BYTES of a larger body).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from nats.errors import TimeoutError as NatsTimeoutError
from sqlalchemy import select

from projections.engine.batch import check_storable, guess_id, parse_strict, safe_error
from projections.models.tables import rejected
from schemas.authority import NOT_AUTHORIZED, check_time
from schemas.codec import MAX_EVENT_BYTES, Event, InvalidEvent, Problem, decode_obj, from_binary
from schemas.fastjson import compact
from services.credentials import Identity
from services.http.deps import AppState, AuthError, identity, state
from services.http.door import refusals
from services.http.ingest_docs import EVENTS_DOC, RESUBMIT_DOC
from services.http.params import declared_length, sequence_header
from services.http.signed import (
    batch_data_texts,
    binary_data_text,
    data_text,
    session_marks,
    signature_refusals,
    stored_bytes,
)
from services.personal_data import seal_posted
from services.store.publisher import ConcurrencyConflict, PublishResult, StoreUnavailable, Valid

router = APIRouter()
MAX_BATCH = 1000
MAX_BATCH_BYTES = 4 * 1024 * 1024
DRAIN_BYTES = 16 * 1024 * 1024
KEEP_AT_ONCE = 100
"""Refusals published to DOINGOAI_REJECTED at once (a refused batch holds up to MAX_BATCH)."""
BATCH_TYPE = "application/cloudevents-batch+json"
STATUS = {"bad_json": 400, "bad_signature": 400, "too_large": 413, "source_mismatch": 403, NOT_AUTHORIZED: 403}
"""HTTP status of each kind of refusal; any other kind (envelope, type, schema) is 422."""


def status_for(kind: str) -> int:
    return STATUS.get(kind, 422)


def states_own_limit(method: str, path: str) -> bool:
    """Routes that read their body with `read_body` (and keep what they refuse)."""
    return method == "POST" and (path in ("/events", "/api/attachments") or (path.startswith("/api/rejected/")
                                                                         and path.endswith("/resubmit")))


class TooLarge(Exception):
    """The request body is over its limit; `head` holds its first bytes."""

    def __init__(self, head: bytes, size: int | None, limit: int):
        self.head, self.size, self.limit = head, size, limit
        super().__init__(f"request body is {size if size is not None else 'more than ' + str(limit)} bytes, "
                         f"limit {limit}")

    def error(self) -> InvalidEvent:
        return InvalidEvent("too_large", [Problem("", str(self))])


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or TooLarge once it is known to be over `limit`, with its first MAX_EVENT_BYTES.
    The rest of an oversize body is read and dropped up to DRAIN_BYTES, so that the client, still
    sending, gets the 413 instead of a reset connection; a larger body is not read any further."""
    size = declared_length(request.headers.get("content-length"))
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received <= limit or sum(map(len, chunks)) < MAX_EVENT_BYTES:
            chunks.append(chunk)
        if received > limit and (received >= DRAIN_BYTES or (size or 0) > DRAIN_BYTES):
            break
    if received > limit or (size is not None and size > limit):
        raise TooLarge(b"".join(chunks)[:MAX_EVENT_BYTES], size, limit)
    return b"".join(chunks)


@dataclass
class Item:
    """One event of a request: the bytes it came as (None: `obj` re-encoded, if it is refused),
    the JSON object, whether parsing already refused what PostgreSQL cannot store, and, for a signed
    event, the text its `data` came as (`services.http.signed`)."""

    raw: bytes | None
    obj: Any = None
    checked: bool = False
    data: bytes | None = None

    def kept(self) -> bytes:
        """What a refusal keeps of it."""
        return self.raw if self.raw is not None else _dumps(self.obj)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8", errors="backslashreplace")


def items_of(request: Request, body: bytes, is_batch: bool) -> list[Item]:
    """Split a request into the events it carries (InvalidEvent if the request itself is bad)."""
    if is_batch:
        checked = True
        try:  # walks the parsed batch for unstorable text only where the bytes can hold some
            parsed = parse_strict(body, MAX_BATCH_BYTES)
        except InvalidEvent as error:
            if error.kind in ("bad_json", "too_large"):
                raise
            checked = False  # some event of the batch is unstorable: each is checked on its own
            parsed = parse_strict(body, MAX_BATCH_BYTES, storable=False)
        if not isinstance(parsed, list):
            raise InvalidEvent("bad_json", [Problem("", "a batch must be a JSON array of CloudEvents")])
        if len(parsed) > MAX_BATCH:
            raise InvalidEvent("too_large", [Problem("", f"a batch holds at most {MAX_BATCH} events")])
        return [Item(None, obj, checked, data) for obj, data in zip(parsed, batch_data_texts(parsed, body),
                                                                    strict=True)]
    if "ce-specversion" in request.headers:  # case-insensitive
        try:
            obj = from_binary(dict(request.headers), body)
        except InvalidEvent:
            raise
        except RecursionError:
            raise InvalidEvent("bad_json", [Problem("", "not JSON: nested too deeply")]) from None
        except ValueError as exc:  # e.g. an integer too long to parse
            raise InvalidEvent("bad_json", [Problem("", f"not JSON: {exc}")]) from None
        return [Item(None, obj, data=binary_data_text(obj, body))]
    obj = parse_strict(body)
    return [Item(body, obj, checked=True, data=data_text(obj, body))]


def refused_raw(request: Request, body: bytes, is_batch: bool) -> bytes:
    """What a request refused as a whole is kept as: its body, or in binary mode the event as
    structured JSON (the ce-* attributes, and the body as `data_base64`)."""
    attrs = {k.lower()[3:]: v for k, v in request.headers.items() if k.lower().startswith("ce-")}
    if is_batch or "specversion" not in attrs:
        return body
    return _dumps({**attrs, "data_base64": base64.b64encode(body[:MAX_EVENT_BYTES]).decode()})


def decode_item(who: Identity, item: Item) -> tuple[Valid, Event]:
    """A valid event of this publisher with the bytes to store, or InvalidEvent (source_mismatch for
    another's source, bad_envelope for a `time` out of bounds). The bytes are the event as it came,
    as compact JSON (as NATS stores what a publisher sends). An event recorded in a signed-in session
    names the person as its `actor`, whatever it said, and is marked `recordedvia: session` (its
    envelope encoded); a signed event keeps its `data` as it came."""
    if not item.checked:
        check_storable(item.obj)
    event = decode_obj(item.obj)
    if who.actor is not None:
        event = event._replace(envelope=event.envelope.model_copy(update=session_marks(who.actor)))
    envelope = event.envelope
    late = check_time(envelope.time, datetime.now(UTC))
    if late is not None:
        raise InvalidEvent("bad_envelope", [Problem("time", late)])
    as_sent = who.actor is None and item.data is None
    raw = compact(item.obj) if as_sent else stored_bytes(envelope, item.data)
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent("too_large", [Problem("", f"event is {len(raw)} bytes encoded, limit {MAX_EVENT_BYTES}")])
    if envelope.source != who.source:
        raise InvalidEvent(
            "source_mismatch", [Problem("source", f"this token publishes as {who.source}, not {envelope.source}")]
        )
    return Valid.of(envelope, raw), event


async def authorized(st: AppState, who: Identity, decoded: list[tuple[Valid, Event]]) -> list[InvalidEvent | None]:
    """For each decoded event, its refusal by its signature (`bad_signature`), by the authority rules at
    the door, or for the files it names (`bad_attachment`: not this agency's upload, or stored with
    another size or hash), or None."""
    typed = [event for _, event in decoded]
    signatures = await signature_refusals(st.engine, who.province, decoded)
    found = await refusals(st.authority, who, typed)
    files = await st.attachments.refusals(who.province, who.agency, typed)
    return [s or (f if r is None else InvalidEvent(r.kind, [Problem(r.path, r.message)]))
            for s, r, f in zip(signatures, found, files, strict=True)]


async def keep_refused(st: AppState, who: Identity, refused: list[tuple[bytes, InvalidEvent]]) -> None:
    """Keep refused events in DOINGOAI_REJECTED: raw bytes, reason, publisher, time; QuotaExceeded
    (nothing kept) when they do not fit in what is left of the publisher's quota."""
    now = datetime.now(UTC).isoformat()
    publisher = f"{who.province}.{who.agency}"
    records = [
        json.dumps({
            "path": "http",
            "kind": error.kind,
            "problems": [p.as_dict() for p in safe_error(error).problems],
            "publisher": publisher,
            "event_id": guess_id(raw),
            "raw_b64": base64.b64encode(raw[:MAX_EVENT_BYTES]).decode(),
            "received_at": now,
        }).encode()
        for raw, error in refused
    ]
    try:
        st.limits.rejected.charge(publisher, sum(map(len, records)))
    finally:
        await st.told()
    js = st.nc.jetstream()
    subject = f"doingoai.rejected.{who.province}.{who.agency}"
    try:
        for start in range(0, len(records), KEEP_AT_ONCE):
            await asyncio.gather(*(js.publish(subject, r) for r in records[start:start + KEEP_AT_ONCE]))
    except NatsTimeoutError:
        raise StoreUnavailable("the rejected-events stream did not acknowledge") from None


@asynccontextmanager
async def within_limits(st: AppState, request: Request, who: Identity, limit: int) -> AsyncIterator[None]:
    """A publisher over its quota of refused bytes is answered 429 before its body is read; the body
    is read and worked on within the publisher's and the service's budget of bytes at once."""
    limits, publisher = st.limits, f"{who.province}.{who.agency}"
    limits.rejected.check(publisher)
    declared = declared_length(request.headers.get("content-length"))
    async with limits.bodies.hold(publisher, limit if declared is None else min(declared, limit)):
        limits.rejected.check(publisher)  # it may have been used up meanwhile
        yield


async def publisher_identity(request: Request) -> Identity:
    """The agency's token, or a signed-in specialist or leader of it (with the session's CSRF token);
    then, before anything is read, whether the embedded store can take events now (507
    storage_full with too little free space, 503 unavailable while its server restarts)."""
    who = await identity(request)
    if not who.can_publish:
        raise AuthError(403, f"role {who.role} may not publish events")
    if (health := state(request).health) is not None:
        health.check_ingest()
    return who


def _answer(r: PublishResult) -> dict[str, Any]:
    return {"id": r.id, "sequence": r.sequence, "duplicate": r.duplicate}


def _accepted(answer: dict[str, Any]) -> Response:
    """202 with `answer`: the bytes and headers JSONResponse gives, written by `compact`."""
    return Response(compact(answer), 202, media_type="application/json")


async def post_events(request: Request) -> Response:
    """Publish CloudEvents (structured, binary or batched mode) as the token's agency: served ahead of
    FastAPI (`services.http.events_first`); `events_doc` serves it in the application and describes it in the
    OpenAPI document."""
    who = await publisher_identity(request)
    is_batch = request.headers.get("content-type", "").split(";")[0].strip().lower() == BATCH_TYPE
    expected = None if is_batch else sequence_header(
        "Nats-Expected-Last-Subject-Sequence", request.headers.get("nats-expected-last-subject-sequence"))
    limit = MAX_BATCH_BYTES if is_batch else MAX_EVENT_BYTES
    st = state(request)
    async with within_limits(st, request, who, limit):
        return await _post_events(st, request, who, is_batch, expected, limit)


@router.post("/events", status_code=202, tags=["events"], **EVENTS_DOC)
async def events_doc(request: Request) -> Response:
    """Publish CloudEvents (structured, binary or batched mode) as the token's agency."""
    return await post_events(request)


async def _post_events(st: AppState, request: Request, who: Identity, is_batch: bool, expected: int | None,
                       limit: int) -> Response:
    body = b""
    try:
        body = await read_body(request, limit)
        items = items_of(request, body, is_batch)
    except TooLarge as exc:
        await keep_refused(st, who, [(refused_raw(request, exc.head, is_batch), exc.error())])
        return JSONResponse(exc.error().as_dict(), status_code=413)
    except InvalidEvent as error:
        await keep_refused(st, who, [(refused_raw(request, body, is_batch), error)])
        return JSONResponse(error.as_dict(), status_code=status_for(error.kind))
    valid: list[tuple[int, Valid, Event]] = []
    refused: list[tuple[int, bytes, InvalidEvent]] = []
    for index, item in enumerate(items):
        try:
            valid.append((index, *decode_item(who, item)))
        except InvalidEvent as error:
            refused.append((index, item.kept(), error))
    denied = await authorized(st, who, [(v, e) for _, v, e in valid])
    refused.extend((index, v.raw, error) for (index, v, _), error in zip(valid, denied, strict=True) if error)
    refused.sort(key=lambda r: r[0])
    if refused:
        await keep_refused(st, who, [(raw, error) for _, raw, error in refused])
        status = max(status_for(error.kind) for _, _, error in refused)
        if not is_batch:
            return JSONResponse(refused[0][2].as_dict(), status_code=status)
        failures = [{"index": index, **error.as_dict()} for index, _, error in refused]
        return JSONResponse({"error": "invalid_batch", "stored": 0, "failures": failures}, status_code=status)
    decoded = await seal_posted(st.engine, [(v, e) for _, v, e in valid])
    publisher = st.publisher
    if not is_batch:
        try:
            result = await publisher.publish(decoded[0], expected_last_subject_seq=expected)
        except ConcurrencyConflict as exc:
            return JSONResponse({"error": "conflict", "message": str(exc)}, status_code=409)
        return _accepted(_answer(result))
    results = await publisher.publish_many(decoded)
    return _accepted({"results": [_answer(r) for r in results]})


@router.post("/api/rejected/{key}/resubmit", status_code=202, tags=["rejected events"], **RESUBMIT_DOC)
async def resubmit(request: Request, key: str) -> JSONResponse:
    """Publish the corrected version of a rejected event (structured or binary mode), as the agency
    that sent it; the rejection is then listed as resolved by the corrected event, whatever its id."""
    who = await publisher_identity(request)
    async with state(request).engine.connect() as conn:
        publisher = await conn.scalar(select(rejected.c.publisher).where(rejected.c.key == key))
    if publisher is None:
        raise HTTPException(404, f"no rejection {key}")
    if publisher != f"{who.province}.{who.agency}":
        raise AuthError(403, f"only {publisher} re-submits this rejected event")
    st = state(request)
    async with within_limits(st, request, who, MAX_EVENT_BYTES):
        return await _resubmit(st, request, who, key, publisher)


async def _resubmit(st: AppState, request: Request, who: Identity, key: str, publisher: str) -> JSONResponse:
    body = b""
    try:
        body = await read_body(request, MAX_EVENT_BYTES)
        item = items_of(request, body, is_batch=False)[0]
        event, typed = decode_item(who, item)
        denied = (await authorized(st, who, [(event, typed)]))[0]
        if denied is not None:
            raise denied
    except TooLarge as exc:
        await keep_refused(st, who, [(refused_raw(request, exc.head, False), exc.error())])
        return JSONResponse(exc.error().as_dict(), status_code=413)
    except InvalidEvent as error:
        await keep_refused(st, who, [(refused_raw(request, body, False), error)])
        return JSONResponse(error.as_dict(), status_code=status_for(error.kind))
    result = await st.publisher.publish((await seal_posted(st.engine, [(event, typed)]))[0])
    link = {"resubmission": {"key": key, "event_id": event.id, "sequence": result.sequence},
            "publisher": publisher, "received_at": datetime.now(UTC).isoformat()}
    await st.nc.jetstream().publish(f"doingoai.rejected.{who.province}.{who.agency}", json.dumps(link).encode())
    return JSONResponse({**_answer(result), "resubmission_of": key}, 202)
