"""The base of every event payload and the registry of event types.

Each payload class is frozen, forbids unknown fields and is registered under its event name and
version with `@event(...)`. The registry is what the codec resolves a CloudEvents `type` with.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from schemas.labels import vi_title

TYPE_PREFIX = "vn.gov.doingoai."


class EventData(BaseModel):
    """The typed `data` of an event. Subclasses are registered with `@event`."""

    model_config = ConfigDict(frozen=True, extra="forbid", field_title_generator=vi_title)

    event_name: ClassVar[str]
    version: ClassVar[int]
    aggregate: ClassVar[str]


class CrossFieldError(ValueError):
    """A check of several fields of a payload that fails, told at `field` (the later date, the part that
    exceeds the whole): the codec reports it at `data.<field>`, where a form shows it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class EventType:
    """What the registry knows of one event type version."""

    name: str
    version: int
    aggregate: str
    title_vi: str
    title_en: str
    model: type[EventData]

    @property
    def ce_type(self) -> str:
        return f"{TYPE_PREFIX}{self.name}.v{self.version}"

    @property
    def key(self) -> str:
        return f"{self.name}.v{self.version}"


_REGISTRY: dict[tuple[str, int], EventType] = {}

M = TypeVar("M", bound=type[EventData])


def event(name: str, *, version: int, aggregate: str, title_vi: str, title_en: str) -> Callable[[M], M]:
    """Register a payload class as event type `name` version `version`."""

    def register(cls: M) -> M:
        key = (name, version)
        if key in _REGISTRY and _REGISTRY[key].model is not cls:
            raise ValueError(f"event type {name}.v{version} is registered twice")
        cls.event_name = name
        cls.version = version
        cls.aggregate = aggregate
        if not cls.model_config.get("title"):
            cls.model_config["title"] = f"{name}.v{version}"
        _REGISTRY[key] = EventType(name, version, aggregate, title_vi, title_en, cls)
        return cls

    return register


_LATEST: dict[int, dict[str, EventType]] = {}


def registry_size() -> int:
    """How many event type versions are registered (`len(registry())`, without building the view)."""
    if "schemas.events" not in sys.modules:
        registry()
    return len(_REGISTRY)


def registry() -> Mapping[tuple[str, int], EventType]:
    """Every registered event type version (importing `schemas.events` fills it); read-only."""
    if "schemas.events" not in sys.modules:
        import schemas.events  # noqa: F401  (registers the catalogue)
    return MappingProxyType(_REGISTRY)


def latest_versions() -> Mapping[str, EventType]:
    """The newest registered version of each event name (computed once per registry size)."""
    reg = registry()
    cached = _LATEST.get(len(reg))
    if cached is None:
        cached = {}
        for (name, version), et in sorted(reg.items()):
            if name not in cached or version > cached[name].version:
                cached[name] = et
        _LATEST.clear()
        _LATEST[len(reg)] = cached
    return MappingProxyType(cached)
