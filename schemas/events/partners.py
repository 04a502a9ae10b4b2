"""The partner registry: foreign localities and organisations the province works with."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field

from schemas.base import EventData, event
from schemas.common import CountryCode, Slug
from schemas.labels import LabelledEnum


class PartnerKind(LabelledEnum, StrEnum):
    locality = "locality"
    organisation = "organisation"
    ngo = "ngo"
    embassy = "embassy"
    international_organisation = "international_organisation"
    friendship_association = "friendship_association"
    university = "university"
    enterprise = "enterprise"
    other = "other"


@event(
    "partner_registered",
    version=1,
    aggregate="partner",
    title_vi="Đăng ký đối tác nước ngoài",
    title_en="Partner registered",
)
class PartnerRegisteredV1(EventData):
    """A foreign partner is entered in the province's partner registry."""

    slug: Slug = Field(description="Registry key, used as PartnerRef.partner_id", examples=["bolykhamxay"])
    name_vi: str = Field(
        min_length=1, max_length=300, description="Name in Vietnamese", examples=["Tỉnh Bolykhămxay"]
    )
    name_original: str | None = Field(
        None,
        max_length=300,
        description="Name in the partner's language or its official romanisation",
        examples=["Bolikhamxay Province"],
    )
    country: CountryCode = Field(description="Country (ISO alpha-2)", examples=["LA"])
    kind: PartnerKind = Field(description="Locality, organisation, NGO, embassy, ...", examples=["locality"])
    relationship: str | None = Field(
        None,
        max_length=5000,
        description="Notes on the relationship with the province",
        examples=["Quan hệ hữu nghị truyền thống, đoàn kết đặc biệt; Hội nghị cấp cao thường niên"],
    )
    since: date | None = Field(
        None, description="Relationship established on, if known", examples=["1996-01-01"]
    )
