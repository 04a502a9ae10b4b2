"""The AsyncAPI 3.0 document of the NATS side, built from the event registry."""

from __future__ import annotations

from typing import Any

from schemas.base import latest_versions
from schemas.envelope import CloudEvent
from schemas.export import data_schema
from services.store import EVENTS_STREAM, LOOKUP_SUBJECT

SLUG = {"description": "lowercase slug", "examples": ["ha-tinh"]}
MSG_ID_DOC = ("`<source> <id>`: the event's source, one space, its id (source + id is the idempotency key); "
              "the stream drops a repeat inside its duplicate window")
LOOKUP_DOC = ('Request {"source": S, "ids": [...]} -> {"found": {id: sequence}}: which of these ids did source S '
              'store before? (An id alone is no key: a request without "source" is answered {"error": ...}.)')


def envelope_schema(data_ref: str, ce_type: str) -> dict[str, Any]:
    schema = CloudEvent.model_json_schema()
    schema["properties"]["type"] = {"const": ce_type}
    schema["properties"]["data"] = {"$ref": data_ref}
    schema.pop("title", None)
    return schema


def asyncapi(servers: list[str]) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for name, et in sorted(latest_versions().items()):
        schemas[et.key] = data_schema(et)
        messages[name] = {
            "name": et.ce_type,
            "title": f"{et.title_vi} — {et.title_en}",
            "contentType": "application/cloudevents+json",
            "headers": {"type": "object", "properties": {
                "Nats-Msg-Id": {"type": "string", "description": MSG_ID_DOC,
                                "examples": ["/provinces/ha-tinh/agencies/so-ngoai-vu 6f1c0e5a-…"]},
                "Nats-Expected-Last-Subject-Sequence": {"type": "string", "description": "optimistic concurrency"},
            }},
            "payload": envelope_schema(f"#/components/schemas/{et.key}", et.ce_type),
        }
        channels[name] = {
            "address": f"doingoai.events.{{province}}.{{agency}}.{name}",
            "description": f"{et.title_en}, stored in stream {EVENTS_STREAM}",
            "parameters": {"province": SLUG, "agency": SLUG},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"publish_{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"An agency publishes {name}; JetStream acknowledges with the stream sequence",
        }
    channels["escalations"] = {
        "address": "doingoai.escalations.{province}.{agency}",
        "description": ("Escalations delivered to their target agency, and, after a deadline it missed, to the "
                        "responsible agency (Nats-Msg-Id '<agency> <source> <id>') (stream DOINGOAI_ESCALATIONS; "
                        "the agency's own pull consumers, named {province}_{agency}_1 to _4)"),
        "parameters": {"province": SLUG, "agency": SLUG},
        "messages": {"escalation_raised": {"$ref": "#/components/messages/escalation_raised"}},
    }
    operations["receive_escalations"] = {"action": "receive", "channel": {"$ref": "#/channels/escalations"}}
    channels["lookup"] = {
        "address": LOOKUP_SUBJECT,
        "description": LOOKUP_DOC,
    }
    operations["lookup_ids"] = {"action": "send", "channel": {"$ref": "#/channels/lookup"}}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "doingoai — NATS", "version": "1.0.0",
                 "description": ("CloudEvents 1.0 JSON events of people-to-people diplomacy coordination. Each "
                                 "user receives replies on its own inbox prefix (nats_inbox_prefix of its "
                                 "credentials; nats-py: nats.connect(..., inbox_prefix=...))")},
        "servers": {f"nats{i}": {"host": s.split("://")[-1], "protocol": "nats"} for i, s in enumerate(servers)},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
