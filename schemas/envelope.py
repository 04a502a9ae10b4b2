"""The CloudEvents 1.0 envelope (JSON structured mode) as our events carry it."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

_SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
SOURCE_RE = re.compile(rf"^/provinces/(?P<province>{_SLUG})/agencies/(?P<agency>{_SLUG})$")
TYPE_RE = re.compile(r"^vn\.gov\.doingoai\.(?P<name>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)$")
SUBJECT_RE = re.compile(r"^(?P<kind>[a-z][a-z0-9_]*)/(?P<id>[A-Za-z0-9][A-Za-z0-9._:-]{0,127})$")
EXTENSION_NAME_RE = re.compile(r"^[a-z0-9]{1,20}$")
CONTEXT_ATTRIBUTES = {
    "specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data",
}


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event as stored in the stream; `data` is validated separately by type."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: str = Field("1.0", pattern=r"^1\.0$", description="CloudEvents spec version")
    id: str = Field(min_length=1, max_length=128, description="Unique per event; the idempotency key")
    source: str = Field(
        pattern=SOURCE_RE.pattern,
        description="/provinces/<province>/agencies/<agency>",
        examples=["/provinces/ha-tinh/agencies/so-ngoai-vu"],
    )
    type: str = Field(pattern=TYPE_RE.pattern, examples=["vn.gov.doingoai.difficulty_raised.v1"])
    subject: str = Field(pattern=SUBJECT_RE.pattern, description="<kind>/<id> of the aggregate")
    time: AwareDatetime = Field(description="When it happened, RFC 3339 with offset")
    datacontenttype: str | None = Field(None, pattern=r"^application/json")
    dataschema: str | None = None
    data: dict[str, Any]
    correlationid: str | None = Field(None, max_length=128)
    causationid: str | None = Field(None, max_length=128)
    actor: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _extensions_are_named_per_spec(self) -> CloudEvent:
        extra = self.__pydantic_extra__
        if not extra:
            return self
        for name, value in extra.items():
            if not EXTENSION_NAME_RE.match(name):
                raise ValueError(f"extension attribute name {name!r} must be 1-20 lowercase letters or digits")
            if not isinstance(value, str | int | bool):
                raise ValueError(f"extension attribute {name!r} must be a string, integer or boolean")
        return self

    @property
    def province(self) -> str:
        return _match(SOURCE_RE, self.source)["province"]

    @property
    def agency(self) -> str:
        return _match(SOURCE_RE, self.source)["agency"]

    @property
    def event_name(self) -> str:
        return _match(TYPE_RE, self.type)["name"]

    @property
    def type_version(self) -> int:
        return int(_match(TYPE_RE, self.type)["version"])

    @property
    def aggregate_kind(self) -> str:
        return _match(SUBJECT_RE, self.subject)["kind"]

    @property
    def aggregate_id(self) -> str:
        return _match(SUBJECT_RE, self.subject)["id"]


@lru_cache(maxsize=8192)
def _match(pattern: re.Pattern[str], value: str) -> dict[str, str]:
    """The named groups of `value` (cached: sources and types repeat; callers only read the dict)."""
    found = pattern.match(value)
    if found is None:  # pragma: no cover - fields are validated against the same pattern
        raise ValueError(f"{value!r} does not match {pattern.pattern}")
    return found.groupdict()


def source_for(province: str, agency: str) -> str:
    return f"/provinces/{province}/agencies/{agency}"


def nats_subject(province: str, agency: str, event_name: str) -> str:
    """The NATS subject an agency publishes an event to (CONTRACT §2)."""
    return f"doingoai.events.{province}.{agency}.{event_name}"
