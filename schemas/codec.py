"""The one serialisation seam: CloudEvents JSON bytes <-> typed events.

`decode` parses, validates the envelope, resolves `type` to its payload model, upcasts old
versions and validates `data`. `encode` is its inverse. Every failure is an `InvalidEvent`
carrying field-level reasons, so callers can reject with a clear message and keep the bytes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from pydantic import ValidationError

from schemas.base import TYPE_PREFIX, EventData, EventType, latest_versions, registry, registry_size
from schemas.envelope import CONTEXT_ATTRIBUTES, CloudEvent, source_for
from schemas.fastjson import loads

MAX_EVENT_BYTES = 256 * 1024
"""Largest accepted encoded event (bytes)."""

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


@dataclass(frozen=True)
class Problem:
    """One reason an event is invalid: where (a dotted path) and what."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class InvalidEvent(ValueError):
    """The bytes are not a valid event of a known type; `problems` says why, field by field."""

    def __init__(self, kind: str, problems: list[Problem]):
        self.kind = kind
        self.problems = problems
        super().__init__(f"{kind}: " + "; ".join(f"{p.path or '<event>'}: {p.message}" for p in problems))

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.kind, "problems": [p.as_dict() for p in self.problems]}


class Event(NamedTuple):
    """A decoded event: the envelope and its typed payload (upcast to the newest version). A
    tuple: built once per event read, in half the time of a frozen dataclass."""

    envelope: CloudEvent
    data: EventData
    event_type: EventType
    original_version: int
    extensions: Mapping[str, Any] = MappingProxyType({})

    @property
    def id(self) -> str:
        return self.envelope.id

    @property
    def name(self) -> str:
        return self.event_type.name


def upcaster(name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function turning `data` of `name` v`from_version` into v`from_version + 1`."""

    def register(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(name, from_version)] = fn
        return fn

    return register


_RESOLVED: dict[str, tuple[EventType, EventType]] = {}
"""CloudEvents type -> (its event type, the newest version of it); filled as types are seen."""
_RESOLVED_FOR = [0]
"""The size of the registry `_RESOLVED` was filled for."""


def resolve(ce_type: str) -> EventType:
    """The registered event type for a CloudEvents `type`, or InvalidEvent."""
    return _resolved(ce_type)[0]


def _resolved(ce_type: str) -> tuple[EventType, EventType]:
    """(the event type of `ce_type`, the newest version of it), or InvalidEvent."""
    size = registry_size()
    found = _RESOLVED.get(ce_type)
    if found is not None and size == _RESOLVED_FOR[0]:
        return found
    if size != _RESOLVED_FOR[0]:  # a type was registered since: resolve afresh
        _RESOLVED.clear()
        _RESOLVED_FOR[0] = size
    et = _resolve(ce_type)
    found = _RESOLVED[ce_type] = (et, latest_versions()[et.name])
    return found


def _resolve(ce_type: str) -> EventType:
    if not ce_type.startswith(TYPE_PREFIX):
        raise InvalidEvent("unknown_type", [Problem("type", f"unknown event type {ce_type!r}")])
    name, _, version = ce_type[len(TYPE_PREFIX):].rpartition(".v")
    found = registry().get((name, int(version))) if version.isdigit() else None
    if found is None:
        raise InvalidEvent("unknown_type", [Problem("type", f"unknown event type {ce_type!r}")])
    return found


def _problems(error: ValidationError, prefix: str = "") -> list[Problem]:
    out = []
    for item in error.errors(include_url=False):
        path = ".".join(str(p) for p in item["loc"])
        out.append(Problem(f"{prefix}{path}" if path else prefix.rstrip("."), item["msg"]))
    return out


def parse_json(raw: bytes) -> Any:
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent("too_large", [Problem("", f"event is {len(raw)} bytes, limit {MAX_EVENT_BYTES}")])
    try:
        return loads(raw, json.loads)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEvent("bad_json", [Problem("", f"not JSON: {exc}")]) from None


def decode(raw: bytes) -> Event:
    """Bytes of a structured-mode CloudEvent -> Event, or InvalidEvent."""
    return decode_obj(parse_json(raw))


def decode_obj(obj: Any) -> Event:
    """A parsed structured-mode CloudEvent -> Event, or InvalidEvent."""
    if not isinstance(obj, dict):
        raise InvalidEvent("bad_envelope", [Problem("", "a CloudEvent must be a JSON object")])
    if "data_base64" in obj:
        raise InvalidEvent("bad_envelope", [Problem("data_base64", "data must be JSON, not base64")])
    try:
        envelope = CloudEvent.model_validate(obj)
    except ValidationError as exc:
        raise InvalidEvent("bad_envelope", _problems(exc)) from None
    et, newest = _resolved(envelope.type)
    if et is newest:  # the common case: nothing to upcast
        try:
            payload = et.model.model_validate(envelope.data)
        except ValidationError as exc:
            raise InvalidEvent("schema_violation", _problems(exc, "data.")) from None
        _check_aggregate(envelope, et)
        return Event(envelope, payload, et, et.version, envelope.model_extra or {})
    data = dict(envelope.data)
    version = et.version
    while version < newest.version:
        step = _UPCASTERS.get((et.name, version))
        if step is None:
            raise InvalidEvent(
                "unknown_type", [Problem("type", f"no upcaster from {et.name}.v{version}")]
            )
        data = step(data)
        version += 1
    target = registry()[(et.name, version)]
    try:
        payload = target.model.model_validate(data)
    except ValidationError as exc:
        raise InvalidEvent("schema_violation", _problems(exc, "data.")) from None
    if et.version != version:
        # validate the original version too, so an invalid old event is not hidden by upcasting
        try:
            et.model.model_validate(envelope.data)
        except ValidationError as exc:
            raise InvalidEvent("schema_violation", _problems(exc, "data.")) from None
    _check_aggregate(envelope, et)
    return Event(envelope, payload, target, et.version, envelope.model_extra or {})


def _check_aggregate(envelope: CloudEvent, et: EventType) -> None:
    if envelope.aggregate_kind != et.aggregate:
        raise InvalidEvent(
            "schema_violation",
            [Problem("subject", f"{et.name} belongs to {et.aggregate}/<id>, not {envelope.aggregate_kind}/<id>")],
        )


def to_obj(envelope: CloudEvent) -> dict[str, Any]:
    """The JSON object of an envelope, context attributes first, None fields left out."""
    obj = envelope.model_dump(mode="json", exclude_none=True)
    first = ("specversion", "id", "source", "type", "subject", "time")
    ordered: dict[str, Any] = {k: obj[k] for k in first if k in obj}
    ordered.update({k: v for k, v in obj.items() if k not in ordered})
    return ordered


def encode(envelope: CloudEvent) -> bytes:
    return json.dumps(to_obj(envelope), ensure_ascii=False, separators=(",", ":")).encode()


def new_event(
    data: EventData,
    *,
    province: str,
    agency: str,
    aggregate_id: str,
    time: datetime,
    event_id: str | None = None,
    correlationid: str | None = None,
    causationid: str | None = None,
    actor: str | None = None,
) -> CloudEvent:
    """Build the envelope for a typed payload."""
    cls = type(data)
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source=source_for(province, agency),
        type=f"{TYPE_PREFIX}{cls.event_name}.v{cls.version}",
        subject=f"{cls.aggregate}/{aggregate_id}",
        time=time,
        datacontenttype="application/json",
        data=data.model_dump(mode="json", exclude_none=True),
        correlationid=correlationid,
        causationid=causationid,
        actor=actor,
    )


def from_binary(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """CloudEvents HTTP binary mode (ce-* headers + JSON body) -> structured object."""
    obj: dict[str, Any] = {}
    for key, value in headers.items():
        lower = key.lower()
        if lower.startswith("ce-"):
            obj[lower[3:]] = value
    content_type = headers.get("content-type") or headers.get("Content-Type") or "application/json"
    if not content_type.startswith("application/json"):
        raise InvalidEvent("bad_envelope", [Problem("datacontenttype", "binary mode needs a JSON body")])
    obj["datacontenttype"] = content_type.split(";")[0]
    obj["data"] = parse_json(body)
    unknown = set(obj) - CONTEXT_ATTRIBUTES - {"correlationid", "causationid", "actor"}
    for name in unknown:
        if obj[name] == "":
            obj.pop(name)
    return obj
