"""POST /events: CloudEvents HTTP binding (structured, binary, batched) into the stream."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from schemas.codec import MAX_EVENT_BYTES, Event, InvalidEvent, Problem, decode_obj, encode, from_binary, parse_json
from services.credentials import Identity
from services.http.deps import AuthError, identity, state
from services.store.publisher import ConcurrencyConflict

router = APIRouter()
MAX_BATCH = 1000
MAX_BODY = MAX_EVENT_BYTES * 64
BAD_REQUEST_KINDS = {"bad_json", "too_large"}


def _status_for(error: InvalidEvent) -> int:
    return 400 if error.kind in BAD_REQUEST_KINDS else 422


async def _reject(request: Request, who: Identity, raw: Any, error: InvalidEvent) -> None:
    """Keep a refused event with its reason (DOINGOAI_REJECTED stream)."""
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", errors="surrogateescape")
    else:
        text = json.dumps(raw, ensure_ascii=False)
    event_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
    record = {
        "path": "http",
        "kind": error.kind,
        "problems": [p.as_dict() for p in error.problems],
        "publisher": f"{who.province}.{who.agency}",
        "event_id": event_id,
        "raw": text,
        "received_at": datetime.now(UTC).isoformat(),
    }
    js = state(request).nc.jetstream()
    await js.publish(f"doingoai.rejected.{who.province}.{who.agency}", json.dumps(record, ensure_ascii=False).encode())


def _check_source(who: Identity, event: Event) -> None:
    if not who.can_publish:
        raise AuthError(403, f"role {who.role} may not publish events")
    if event.envelope.source != who.source:
        raise AuthError(403, f"this token publishes as {who.source}, not {event.envelope.source}")


def _objects(request: Request, body: bytes) -> tuple[list[Any], bool]:
    """The structured objects in the request and whether it was a batch."""
    content_type = request.headers.get("content-type", "application/cloudevents+json").split(";")[0].strip()
    if content_type == "application/cloudevents-batch+json":
        parsed = parse_json(body) if len(body) <= MAX_BODY else parse_json(body[: MAX_EVENT_BYTES + 1])
        if not isinstance(parsed, list):
            raise InvalidEvent("bad_json", [Problem("", "a batch must be a JSON array of CloudEvents")])
        if len(parsed) > MAX_BATCH:
            raise InvalidEvent("too_large", [Problem("", f"a batch holds at most {MAX_BATCH} events")])
        return parsed, True
    if any(k.lower() == "ce-specversion" for k in request.headers):
        return [from_binary(dict(request.headers), body)], False
    return [parse_json(body)], False


@router.post("/events", status_code=202, tags=["events"])
async def post_events(request: Request) -> JSONResponse:
    """Publish CloudEvents (structured, binary or batched mode) as the token's agency."""
    who = await identity(request)
    body = await request.body()
    try:
        objects, is_batch = _objects(request, body)
    except InvalidEvent as error:
        await _reject(request, who, body, error)
        return JSONResponse(error.as_dict(), status_code=_status_for(error))
    decoded: list[Event] = []
    failures: list[dict[str, Any]] = []
    for index, obj in enumerate(objects):
        try:
            decoded.append(decode_obj(obj))
        except InvalidEvent as error:
            await _reject(request, who, obj, error)
            failures.append({"index": index, **error.as_dict()})
    if failures:
        status = max(_status_for(InvalidEvent(f["error"], [])) for f in failures)
        if not is_batch:
            return JSONResponse({k: v for k, v in failures[0].items() if k != "index"}, status_code=status)
        return JSONResponse({"error": "invalid_batch", "stored": 0, "failures": failures}, status_code=status)
    for event in decoded:
        _check_source(who, event)
    publisher = state(request).publisher
    expected = request.headers.get("nats-expected-last-subject-sequence")
    if not is_batch:
        try:
            result = await publisher.publish(
                encode(decoded[0].envelope), expected_last_subject_seq=int(expected) if expected else None
            )
        except ConcurrencyConflict as exc:
            return JSONResponse({"error": "conflict", "message": str(exc)}, status_code=409)
        return JSONResponse({"id": result.id, "sequence": result.sequence, "duplicate": result.duplicate}, 202)
    results = await publisher.publish_many([encode(e.envelope) for e in decoded])
    return JSONResponse(
        {"results": [{"id": r.id, "sequence": r.sequence, "duplicate": r.duplicate} for r in results]}, 202
    )
