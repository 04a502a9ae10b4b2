"""OpenAPI description of the write endpoints: request bodies per CloudEvents mode, and answers."""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPBearer

from schemas.codec import MAX_EVENT_BYTES
from schemas.envelope import CloudEvent

MAX_BATCH = 1000
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="The agency's token, from `doingoai credentials issue`")
SESSION = APIKeyCookie(name="doingoai_session", auto_error=False, scheme_name="session",
                       description="A signed-in person's session (POST /login); its writes also send X-CSRF-Token")
CSRF = APIKeyHeader(name="X-CSRF-Token", auto_error=False, scheme_name="csrf",
                    description="The session's `csrf_token` from GET /api/me, on every write of a session")


def _event_schema() -> dict[str, Any]:
    schema = CloudEvent.model_json_schema()
    schema.pop("title", None)
    schema["description"] = (
        "A CloudEvents 1.0 event in JSON structured mode; `data` is validated against the JSON Schema of "
        f"its `type` (GET /schemas/<event_name>.v<N>.json). At most {MAX_EVENT_BYTES} bytes."
    )
    return schema


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {"type": "string", "examples": ["schema_violation"]},
                "message": {"type": "string"},
                "problems": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"path": {"type": "string", "examples": ["data.severity"]},
                                   "message": {"type": "string"}},
                }},
                "failures": {"type": "array", "items": {"type": "object"}},
            },
        }}},
    }


_STORED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "sequence": {"type": "integer", "description": "stream sequence in DOINGOAI_EVENTS"},
        "duplicate": {"type": "boolean", "description": "this source stored this id before: its original sequence"},
    },
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _problem_response("`bad_json`: not JSON, or not an array in batched mode; `bad_signature`: the agency's "
                           "signature (`dssematerial`) does not verify, or is missing where its province requires "
                           "it; kept as rejected"),
    401: _problem_response("Missing, unknown or revoked bearer token, or a session that has ended"),
    403: _problem_response("Not a publishing role, or another agency's `source` (kept as rejected), or `csrf`: a "
                           "session's write without its X-CSRF-Token"),
    413: _problem_response(f"Body over the limit: {MAX_EVENT_BYTES} bytes an event, 4 MiB a batch"),
    422: _problem_response("Envelope, type or data invalid: field-level problems; kept as rejected"),
    429: _problem_response("`quota_exceeded`: the agency's refused events of the hour are over its quota (not "
                           "kept; see Retry-After), or `too_many_requests`: too many bad tokens from this address"),
    503: _problem_response("`unavailable`: the event store or the database does not answer now (a server "
                           "restarting); nothing was stored: retry with the same event id after Retry-After"),
    507: _problem_response("`storage_full`: the disk of the event store is full (less free space than its reserve); "
                           "nothing was stored, nothing read: retry with the same event id once space is freed "
                           "(Retry-After)"),
}


def _single_body() -> dict[str, Any]:
    return {
        "application/cloudevents+json": {"schema": _event_schema()},
        "application/json": {"schema": {
            "type": "object",
            "description": "Binary mode: the event's `data`, with its attributes in ce-* headers "
                           "(ce-specversion, ce-id, ce-source, ce-type, ce-subject, ce-time)",
        }},
    }


EVENTS_DOC: dict[str, Any] = {
    "dependencies": [Depends(BEARER), Depends(SESSION), Depends(CSRF)],
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {
                **_single_body(),
                "application/cloudevents-batch+json": {
                    "schema": {"type": "array", "items": _event_schema(), "maxItems": MAX_BATCH},
                },
            },
        },
    },
    "responses": {
        202: {"description": "Stored (or stored before: `duplicate`)", "content": {"application/json": {
            "schema": {"oneOf": [_STORED, {"type": "object", "properties": {
                "results": {"type": "array", "items": _STORED}}}]}}}},
        409: _problem_response("Nats-Expected-Last-Subject-Sequence is stale: the aggregate moved on"),
        **_ERRORS,
    },
}

RESUBMIT_DOC: dict[str, Any] = {
    "dependencies": [Depends(BEARER), Depends(SESSION), Depends(CSRF)],
    "openapi_extra": {
        "requestBody": {"required": True, "content": _single_body()},
    },
    "responses": {
        202: {"description": "The correction is stored; the rejection is listed as resolved by it",
              "content": {"application/json": {"schema": {
                  **_STORED, "properties": {**_STORED["properties"], "resubmission_of": {"type": "string"}}}}}},
        404: _problem_response("No rejection with this key"),
        **_ERRORS,
    },
}
