"""Value types shared by several event payloads."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Slug = Annotated[
    str,
    Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=80, examples=["so-ngoai-vu"]),
]
CountryCode = Annotated[
    str,
    Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country code", examples=["LA"]),
]
DocumentNumber = Annotated[
    str,
    Field(
        pattern=r"^[0-9A-Za-z]+(?:/[0-9A-Za-zĐđ\-]+)+$",
        max_length=60,
        description="Vietnamese administrative document number",
        examples=["365/KH-UBND"],
    ),
]
Period = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{4}(?:-H[12])?$",
        description="Reporting period: a year (annual) or a half year (6-month)",
        examples=["2021-H1", "2021"],
    ),
]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PartnerRef(Frozen):
    """A foreign partner: a country, a locality in it, or an organisation."""

    country: CountryCode = Field(description="Partner country (ISO alpha-2)", examples=["LA"])
    locality: str | None = Field(
        None, max_length=200, description="Province, state or city of the partner", examples=["Bolykhamxay"]
    )
    organisation: str | None = Field(
        None,
        max_length=300,
        description="Organisation, if the partner is one",
        examples=["Hội hữu nghị Lào - Việt Nam"],
    )
    partner_id: Slug | None = Field(
        None, description="Slug of the partner in the partner registry", examples=["bolykhamxay"]
    )


class DocumentRef(Frozen):
    """A reference to an administrative document (plan, decision, approval)."""

    number: DocumentNumber = Field(description="Document number", examples=["365/KH-UBND"])
    issued_on: date | None = Field(None, description="Date of issue", examples=["2019-11-25"])
    issuer: str | None = Field(None, max_length=200, description="Issuing body", examples=["UBND tỉnh Hà Tĩnh"])


class PersonRef(Frozen):
    name: str = Field(min_length=1, max_length=200, description="Full name", examples=["Bounthong Sitthideth"])
    title: str | None = Field(
        None, max_length=200, description="Position", examples=["Phó Tỉnh trưởng tỉnh Bolykhamxay"]
    )


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class ReportKind(StrEnum):
    semiannual = "semiannual"
    annual = "annual"
    ad_hoc = "ad_hoc"
