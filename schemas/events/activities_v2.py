"""Version 2 of `activity_held` and the upcaster that turns v1 payloads into it.

v2 replaces v1's single optional `partner` with a list `partners` (an activity often involves
several foreign partners) and adds an optional `funding_source`. A v1 event is upcast on decoding:
`partner: X` becomes `partners: [X]`, a missing or null partner becomes `partners: []`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field, model_validator

from schemas.base import CrossFieldError, EventData, event
from schemas.codec import upcaster
from schemas.common import AgencySlug, DocumentRef, PartnerRef
from schemas.events.activities import ActivityKind, FundingSource


@event(
    "activity_held",
    version=2,
    aggregate="activity",
    title_vi="Đã tổ chức hoạt động đối ngoại",
    title_en="Activity held",
)
class ActivityHeldV2(EventData):
    """A people-to-people activity took place, with any number of foreign partners."""

    title: str = Field(
        min_length=1,
        max_length=500,
        description="Title of the activity",
        examples=["Giao lưu hữu nghị nhân dân Hà Tĩnh - Bolykhamxay"],
    )
    kind: ActivityKind = Field(description="Kind of activity", examples=["friendship_exchange"])
    start_date: date = Field(description="First day", examples=["2021-03-26"])
    end_date: date = Field(description="Last day", examples=["2021-03-27"])
    location: str = Field(min_length=1, max_length=300, description="Where", examples=["Thành phố Hà Tĩnh"])
    partners: list[PartnerRef] = Field(
        default_factory=list,
        max_length=50,
        description="Foreign partners (empty if none); replaces v1's single `partner`",
        examples=[
            [
                {"country": "LA", "locality": "Bolykhamxay", "partner_id": "bolykhamxay"},
                {"country": "LA", "locality": "Khammouane", "partner_id": "khammouane"},
            ]
        ],
    )
    funding_source: FundingSource | None = Field(
        None, description="Source of funds", examples=["state_budget"]
    )
    lead_agency: AgencySlug = Field(description="Agency in charge (chủ trì)", examples=["so-ngoai-vu"])
    coordinating_agencies: list[AgencySlug] = Field(
        default_factory=list,
        description="Coordinating agencies (phối hợp)",
        examples=[["so-van-hoa-the-thao-du-lich"]],
    )
    participants: int = Field(ge=0, le=1_000_000, description="Number of participants", examples=[150])
    foreign_participants: int = Field(0, ge=0, le=1_000_000, description="Of whom foreigners", examples=[30])
    plan: DocumentRef | None = Field(None, description="Plan the activity implements")
    summary: str | None = Field(None, max_length=5000, description="Result", examples=["Ký biên bản ghi nhớ"])

    @model_validator(mode="after")
    def _dates_and_counts_agree(self) -> ActivityHeldV2:
        if self.end_date < self.start_date:
            raise CrossFieldError("end_date", "end_date is before start_date")
        if self.foreign_participants > self.participants:
            raise CrossFieldError("foreign_participants", "foreign_participants exceeds participants")
        return self

    @property
    def partner(self) -> PartnerRef | None:
        """The first partner, for readers written against v1's single `partner`."""
        return self.partners[0] if self.partners else None


@upcaster("activity_held", 1)
def activity_held_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """`partner: X | None` -> `partners: [X]` or `[]`; every other field is carried over unchanged."""
    out = {key: value for key, value in data.items() if key != "partner"}
    partner = data.get("partner")
    out["partners"] = [] if partner is None else [partner]
    return out
