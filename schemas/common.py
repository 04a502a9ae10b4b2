"""Value types shared by several event payloads."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from schemas.labels import LabelledEnum, vi_title
from schemas.personal import PersonalText

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, max_length=80, examples=["so-ngoai-vu"])]
AgencySlug = Annotated[
    str,
    Field(pattern=SLUG_PATTERN, max_length=80, examples=["so-ngoai-vu"], json_schema_extra={"x-reference": "agency"}),
]
"""The slug of an agency of the province (its reference data names it: `x-reference` in the JSON Schema)."""
PartnerSlug = Annotated[
    str,
    Field(pattern=SLUG_PATTERN, max_length=80, examples=["bolykhamxay"], json_schema_extra={"x-reference": "partner"}),
]
"""The slug of a partner of the province's partner registry."""
CountryCode = Annotated[
    str,
    Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country code", examples=["LA"],
          json_schema_extra={"x-reference": "country"}),
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
    model_config = ConfigDict(frozen=True, extra="forbid", field_title_generator=vi_title)


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
    partner_id: PartnerSlug | None = Field(
        None, description="Slug of the partner in the partner registry", examples=["bolykhamxay"]
    )


class DocumentRef(Frozen):
    """A reference to an administrative document (plan, decision, approval)."""

    number: DocumentNumber = Field(description="Document number", examples=["365/KH-UBND"])
    issued_on: date | None = Field(None, description="Date of issue", examples=["2019-11-25"])
    issuer: str | None = Field(None, max_length=200, description="Issuing body", examples=["UBND tỉnh Hà Tĩnh"])


class PersonRef(Frozen):
    """A person: personal data, stored sealed with the person's own key (`schemas.personal`)."""

    name: PersonalText = Field(min_length=1, description="Full name", examples=["Bounthong Sitthideth"])
    title: PersonalText | None = Field(
        None, description="Position", examples=["Phó Tỉnh trưởng tỉnh Bolykhamxay"]
    )


class Severity(LabelledEnum, StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class ReportKind(LabelledEnum, StrEnum):
    semiannual = "semiannual"
    annual = "annual"
    ad_hoc = "ad_hoc"


class MediaType(LabelledEnum, StrEnum):
    """The kinds of file an event may carry: PDF and Word (.docx), as their content shows."""

    pdf = "application/pdf"
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file's bytes, lowercase hex")]


class Attachment(Frozen):
    """A file the event carries (a report, a submission): stored once in the attachments object store,
    named by the publishing agency and its SHA-256, which the event records."""

    name: str = Field(min_length=1, max_length=255, title="Tên tệp", description="File name as uploaded",
                      examples=["bao-cao-6-thang-2021.pdf"])
    media_type: MediaType = Field(description="PDF or Word (.docx), as the content shows", examples=["application/pdf"])
    size: int = Field(ge=1, description="Bytes", title="Dung lượng (byte)", examples=[183204])
    sha256: Sha256 = Field(examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"])
    object: str = Field(
        pattern=r"^[a-z0-9-]+/[a-z0-9-]+/[0-9a-f]{64}$", max_length=300,
        description="Name of the object in the attachments store: <province>/<agency>/<sha256>",
        examples=["ha-tinh/so-tu-phap/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )

