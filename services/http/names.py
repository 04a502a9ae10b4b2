"""Names beside codes in the API's rows (`agency_name`, `country_name`, …) and GET /api/names, the map
of a province's names the dashboard reads. The codes stay in every row: only fields are added."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from schemas.reference import plans
from services.http.scope import Reader, reader
from services.names import (
    PARTNER_KINDS,
    agency_name,
    agency_names,
    agency_short_name,
    country_codes_named,
    country_name,
    partner_kind_name,
    plan_name,
    plan_number_label,
)

router = APIRouter(prefix="/api", tags=["read models"])


def _agency(row: dict[str, Any], field: str) -> None:
    if field in row:
        row[f"{field}_name"] = agency_name(row["province"], row[field]) if row[field] else None


def named_activity(row: dict[str, Any]) -> dict[str, Any]:
    """An activity row with `agency_name`, `lead_agency_name` and `partner_country_name`."""
    _agency(row, "agency")
    _agency(row, "lead_agency")
    row["partner_country_name"] = country_name(row.get("partner_country")) or None
    return row


def named_task(row: dict[str, Any]) -> dict[str, Any]:
    """A task row with `plan_label` (number, or the year of a copy with none), `plan_name` (number and title)
    and the names of its lead and coordinating agencies, in their order."""
    row["plan_label"] = plan_number_label(row.get("plan_number"), None, _plan_year(row["plan_id"]))
    row["plan_name"] = plan_name(row["plan_id"], row.get("plan_number"))
    row["lead_agency_names"] = [agency_name(row["province"], a) for a in row["lead_agencies"]]
    row["coordinating_agency_names"] = [agency_name(row["province"], a) for a in row["coordinating_agencies"]]
    return row


def named_escalation(row: dict[str, Any]) -> dict[str, Any]:
    """An escalation row with `target_agency_name` and `responsible_agency_name`."""
    _agency(row, "target_agency")
    _agency(row, "responsible_agency")
    return row


def named_partner(row: dict[str, Any]) -> dict[str, Any]:
    """A partner row with `country_name` and `kind_name`."""
    row["country_name"] = country_name(row.get("country")) or None
    row["kind_name"] = partner_kind_name(row.get("kind")) or None
    return row


def _plan_year(plan_id: str) -> int | None:
    return next((p.year for p in plans() if p.slug == plan_id), None)


@router.get("/names")
async def get_names(province: str | None = None, who: Reader = Depends(reader)) -> JSONResponse:
    """The names people read in place of the province's codes: agencies (`name`, `short_name`), plans
    (`label`: number; `name`: number and title), partner kinds and countries (ISO code -> Vietnamese)."""
    province = who.province(province)
    names = agency_names(province)
    return JSONResponse({
        "province": province,
        "agencies": {slug: {"name": name, "short_name": agency_short_name(province, slug)}
                     for slug, name in names.items()},
        "plans": {p.slug: {"label": plan_number_label(p.number, p.issued_on, p.year), "name": plan_name(p.slug),
                           "scope": p.scope} for p in plans(province)},
        "partner_kinds": PARTNER_KINDS,
        "countries": country_codes_named(),
    })
