"""The one serialisation seam: CloudEvents JSON bytes <-> typed events.

`decode` parses, validates the envelope, resolves `type` to its payload model, upcasts old
versions and validates `data`. `encode` is its inverse. Every failure is an `InvalidEvent`
carrying field-level reasons, so callers can reject with a clear message and keep the bytes.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from functools import cache
from types import MappingProxyType, NoneType, UnionType
from typing import Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, ValidationError, create_model

from schemas.base import TYPE_PREFIX, CrossFieldError, EventData, EventType, latest_versions, registry, registry_size
from schemas.envelope import CONTEXT_ATTRIBUTES, CloudEvent, source_for
from schemas.fastjson import compact, loads

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
    tuple: built once per event read, in half the time of a frozen dataclass. The payload is
    `data`: the envelope's own `data` is the JSON object as sent, or, decoded by `decode_one_pass`,
    the same typed payload."""

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
        loc = item["loc"]
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, CrossFieldError):  # a check of several fields, told at the one it names
            loc = (*loc, cause.field)
        path = ".".join(str(p) for p in loc)
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


_TYPE_MEMBER = re.compile(rb'"type"\s*:\s*"([^"\\]{1,200})"')
"""A `type` member as encoded events hold it (the first one found: `decode_one_pass` checks that
it was the envelope's)."""
_ONE_PASS: dict[EventType, type[CloudEvent] | None] = {}


def decode_one_pass(raw: bytes) -> Event | None:
    """The event `decode(raw)` gives, validated straight from the bytes with its payload in one pass
    (no JSON objects built on the way: about half the time), or None where one pass cannot stand
    for the two steps: a type that is unknown, old (upcast) or has fields one pass may read
    otherwise (see `_plain`), or bytes one pass refuses (`decode` says why)."""
    if len(raw) > MAX_EVENT_BYTES or (found := _TYPE_MEMBER.search(raw)) is None:
        return None
    try:
        ce_type = found.group(1).decode()
        et, newest = _resolved(ce_type)
    except (UnicodeDecodeError, InvalidEvent):
        return None
    model = _one_pass_model(et) if et is newest else None
    if model is None:
        return None
    try:
        envelope = model.model_validate_json(raw)
        _check_aggregate(envelope, et)
    except (ValidationError, InvalidEvent):
        return None
    if envelope.type != ce_type:
        return None  # the member found was not the envelope's
    payload: EventData = envelope.data  # type: ignore[assignment]  # the typed payload, see Event
    return Event(envelope, payload, et, et.version, envelope.model_extra or {})


def _one_pass_model(et: EventType) -> type[CloudEvent] | None:
    """The envelope with `et`'s payload model as its `data`, if one pass validates it as the two
    steps do; None if not."""
    if et not in _ONE_PASS:
        plain = _plain(et.model, set())
        _ONE_PASS[et] = create_model(CloudEvent.__name__, __base__=CloudEvent, data=(et.model, ...)) if plain else None
    return _ONE_PASS[et]


def _plain(annotation: Any, seen: set[type]) -> bool:
    """Whether validating JSON of `annotation` straight from the bytes reads it exactly as validating
    the parsed JSON does: strings, integers, booleans, dates, enums and models of them that forbid
    other members (with lists and unions of them). Floats, decimals and free-form values are left
    to the two steps: one pass parses numbers its own way and accepts NaN and Infinity."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _plain(get_args(annotation)[0], seen)
    if origin in (Union, UnionType, list, tuple, set, frozenset):
        return all(arg is Ellipsis or _plain(arg, seen) for arg in get_args(annotation))
    if origin is Literal:
        return all(isinstance(v, str | int | bool) for v in get_args(annotation))
    if not isinstance(annotation, type) or origin is not None:
        return False
    if issubclass(annotation, Enum):
        return all(isinstance(m.value, str | int) for m in annotation)
    if issubclass(annotation, BaseModel):
        if annotation in seen:
            return True
        seen.add(annotation)
        return annotation.model_config.get("extra") == "forbid" and all(
            _plain(f.annotation, seen) for f in annotation.model_fields.values()
        )
    return annotation in (str, int, bool, date, datetime, AwareDatetime, NoneType)


def _check_aggregate(envelope: CloudEvent, et: EventType) -> None:
    if envelope.aggregate_kind != et.aggregate:
        raise InvalidEvent(
            "schema_violation",
            [Problem("subject", f"{et.name} belongs to {et.aggregate}/<id>, not {envelope.aggregate_kind}/<id>")],
        )


_FIRST = ("specversion", "id", "source", "type", "subject", "time")
"""The context attributes an encoded event begins with, in this order."""


@cache
def _fields_first(model: type[CloudEvent]) -> bool:
    """Whether `model` declares the `_FIRST` attributes first, in that order: it dumps them first then
    (fields in their order, extension attributes after), and none is ever None."""
    return tuple(model.model_fields)[:len(_FIRST)] == _FIRST


def to_obj(envelope: CloudEvent) -> dict[str, Any]:
    """The JSON object of an envelope, context attributes first, None fields left out."""
    obj = envelope.model_dump(mode="json", exclude_none=True)
    if _fields_first(type(envelope)):
        return obj
    ordered: dict[str, Any] = {k: obj[k] for k in _FIRST if k in obj}
    ordered.update({k: v for k, v in obj.items() if k not in ordered})
    return ordered


def encode(envelope: CloudEvent) -> bytes:
    """The envelope as compact JSON, non-ASCII text unescaped (`schemas.fastjson.compact`)."""
    return compact(to_obj(envelope))


def encode_keeping_data(envelope: CloudEvent, data_text: bytes) -> bytes:
    """`encode`, with `data` written as `data_text`, the JSON text it arrived as (the text of the same
    value), last: the bytes a signature over the event's data covers are stored as they were signed."""
    obj = to_obj(envelope)
    obj.pop("data", None)
    head = compact(obj)
    return head[:-1] + b',"data":' + data_text + b"}"


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
