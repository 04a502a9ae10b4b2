"""The CloudEvents 1.0 envelope (JSON structured mode) as our events carry it."""

from __future__ import annotations

import re
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.personal import PersonalText

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
    id: str = Field(
        min_length=1, max_length=128, description="Unique per event of its source: source + id is the idempotency key"
    )
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
    actor: PersonalText | None = Field(None, description="Who recorded it: personal data, stored sealed")

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

    # The parts of `source`, `type` and `subject` by position: each of them matched its pattern
    # above when the model was validated, and no slug, name or id holds a '/' or a '.' that would
    # shift them (see SOURCE_RE, TYPE_RE, SUBJECT_RE).
    @property
    def province(self) -> str:
        return self.source.split("/")[2]

    @property
    def agency(self) -> str:
        return self.source.split("/")[4]

    @property
    def event_name(self) -> str:
        return self.type.split(".")[3]

    @property
    def type_version(self) -> int:
        return int(self.type.split(".")[4][1:])

    @property
    def aggregate_kind(self) -> str:
        return self.subject.partition("/")[0]

    @property
    def aggregate_id(self) -> str:
        return self.subject.partition("/")[2]


def source_for(province: str, agency: str) -> str:
    return f"/provinces/{province}/agencies/{agency}"


def nats_subject(province: str, agency: str, event_name: str) -> str:
    """The NATS subject an agency publishes an event to (CONTRACT §2)."""
    return f"doingoai.events.{province}.{agency}.{event_name}"
