"""JSON Schema export of each event type's `data`, with a complete valid example."""

from __future__ import annotations

import typing
from datetime import date
from enum import Enum
from typing import Any

from pydantic import BaseModel

from schemas.base import EventType, registry

SCHEMA_BASE = "/schemas"


def _example_for(annotation: Any, field_examples: list[Any] | None) -> Any:
    if field_examples:
        return field_examples[0]
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is list:
        return [_example_for(args[0], None)] if args else []
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and args:
        return _example_for(args[0], None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return example_of(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return next(iter(annotation)).value
    if annotation is date:
        return "2021-05-20"
    return None


def example_of(model: type[BaseModel]) -> dict[str, Any]:
    """An example `data` object built from the field examples (explicit `EXAMPLE` wins)."""
    explicit = getattr(model, "EXAMPLE", None)
    if isinstance(explicit, dict):
        return dict(explicit)
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        value = _example_for(info.annotation, list(info.examples or []))
        if value is None and not info.is_required():
            continue
        out[name] = value
    return out


def data_schema(et: EventType) -> dict[str, Any]:
    """The JSON Schema of an event type's `data`, with top-level `examples`."""
    schema = et.model.model_json_schema()
    schema["$id"] = f"{SCHEMA_BASE}/{et.key}.json"
    schema["title"] = et.key
    schema["description"] = (et.model.__doc__ or "").strip() or et.title_en
    schema["x-cloudevents-type"] = et.ce_type
    schema["x-aggregate"] = et.aggregate
    schema["x-title-vi"] = et.title_vi
    schema["x-title-en"] = et.title_en
    schema["examples"] = [example_of(et.model)]
    return schema


def schema_index() -> list[dict[str, Any]]:
    return [
        {
            "name": et.name,
            "version": et.version,
            "type": et.ce_type,
            "aggregate": et.aggregate,
            "title_vi": et.title_vi,
            "title_en": et.title_en,
            "schema": f"{SCHEMA_BASE}/{et.key}.json",
        }
        for _, et in sorted(registry().items())
    ]
