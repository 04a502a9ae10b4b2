"""GET /api/...: the coordination read models (dashboard, tasks, compliance, partners, ...)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select

from projections.tables import activities, difficulties, information, partners, plans, reports, tasks
from schemas.reference import UnknownReference
from services.http.deps import state, table_response, wants_csv
from services.http.names import named_activity, named_partner, named_task
from services.http.params import bad_query
from services.http.scope import Reader, reader
from services.names import country_names
from services.queries.compliance import compliance_view, recorded_plans
from services.queries.dashboard import dashboard
from services.queries.latest import latest_period
from services.queries.periods import BadPeriod, window
from services.queries.tasks import task_state

router = APIRouter(prefix="/api", tags=["read models"])
VN = ZoneInfo("Asia/Ho_Chi_Minh")
Day = Query(None, alias="date", description="Judge deadlines on this day (default: today in Việt Nam)")


def today_or(day: date | None) -> date:
    return day or datetime.now(VN).date()


def plain(row: Any) -> dict[str, Any]:
    out = {}
    for k, v in dict(row).items():
        if isinstance(v, Decimal):
            v = float(v)
        elif isinstance(v, date | datetime):
            v = v.isoformat()
        out[k] = v
    return out


async def rows_of(request: Request, query: Any) -> list[dict[str, Any]]:
    async with state(request).engine.connect() as conn:
        return [plain(r) for r in (await conn.execute(query)).mappings()]


@router.get("/provinces")
async def get_provinces(request: Request, day: date | None = Day, who: Reader = Depends(reader)) -> JSONResponse:
    """The provinces the credential reads (its own), with their Vietnamese names and `latest_period`, the
    period of the last day with data there (`latest_data_on`; None when there is none): where the
    dashboard opens."""
    from schemas.reference import provinces

    own = who.province(None)
    items = []
    async with state(request).engine.connect() as conn:
        for p in provinces():
            if p.slug == own:
                latest = await latest_period(conn, p.slug, today_or(day))
                items.append({"slug": p.slug, "name_vi": p.name_vi, "latest_period": latest["period"],
                              "latest_data_on": latest["day"]})
    return JSONResponse({"items": items})


def bad_period(exc: Exception) -> RequestValidationError:
    """A period that is not one (`2021-H3`) or whose dates or deadline fall outside the years 1 to 9999."""
    message = str(exc) if isinstance(exc, BadPeriod) else f"out of range: {exc}"
    return bad_query("period", message)


@router.get("/dashboard")
async def get_dashboard(request: Request, period: str, province: str | None = None, day: date | None = Day,
                        who: Reader = Depends(reader)) -> JSONResponse:
    """The coordination summary of a province for a period (e.g. 2021-H1 or 2021)."""
    province = who.province(province)
    try:
        async with state(request).engine.connect() as conn:
            board = await dashboard(conn, province, period, today_or(day))
    except (ValueError, OverflowError) as exc:  # the period's window or deadline (BadPeriod included)
        raise bad_period(exc) from None
    board["country_names"] = country_names(board["delegations_by_country"])
    return JSONResponse(board)


@router.get("/tasks")
async def get_tasks(
    request: Request,
    province: str | None = None,
    agency: str | None = None,
    plan: str | None = None,
    status: str | None = None,
    day: date | None = Day,
    who: Reader = Depends(reader),
) -> Response:
    """Plan tasks with lead and coordinating agencies, due date and status (overdue computed). An annual
    task lists its `instances` (one a year, each with its due date, completion and status); its
    `due_date` is that of its earliest instance not completed, and it is overdue while one is."""
    q = select(tasks).where(tasks.c.province == who.province(province)).order_by(tasks.c.plan_id, tasks.c.task_number)
    if plan:
        q = q.where(tasks.c.plan_id == plan)
    if agency:
        q = q.where(tasks.c.lead_agencies.contains([agency]) | tasks.c.coordinating_agencies.contains([agency]))
    today = today_or(day)
    async with state(request).engine.connect() as conn:
        issued = {r.plan_id: r.issued_on for r in await conn.execute(
            select(plans.c.plan_id, plans.c.issued_on).where(plans.c.province == who.province(province)))}
        recorded = await recorded_plans(conn, who.province(province))
        rows = []
        for r in (await conn.execute(q)).mappings():
            row = plain(r)
            first = issued.get(r["plan_id"])
            judged = task_state(r, today, recorded, first.year if first else None)
            row.update(status=judged.status, due_date=judged.due_date.isoformat() if judged.due_date else None,
                       instances=judged.instances_as_dicts(today))
            if status is None or row["status"] == status:
                rows.append(named_task(row))
    return table_response(request, rows, "tasks")


@router.get("/plans")
async def get_plans(request: Request, province: str | None = None, who: Reader = Depends(reader)) -> Response:
    q = select(plans).where(plans.c.province == who.province(province)).order_by(plans.c.issued_on)
    return table_response(request, await rows_of(request, q), "plans")


@router.get("/reports/compliance")
async def get_compliance(
    request: Request, period: str, province: str | None = None, agency: str | None = None, day: date | None = Day,
    who: Reader = Depends(reader),
) -> Response:
    """Who owes which report of a period (`2021-H1`, `2021`) and whether it came: one row per agency
    the plan in force binds (`duty: periodic`, with `deadline_basis` plan, default — the province's
    configured default — or none), one per request and agency it names (`duty: request`), one per
    agency that sent a report nobody asked of it (`status: no_duty`). Status: on_time, late, missing
    (past the deadline), pending or no_duty. `plan` is the plan in force; `note` says when no plan
    binds the units to a periodic report of the period."""
    province = who.province(province)
    try:
        window(period)  # the period exists, as the dashboard's does
        async with state(request).engine.connect() as conn:
            view = await compliance_view(conn, province, period, today_or(day))
    except UnknownReference:
        raise HTTPException(404, f"unknown province {province}") from None
    except (ValueError, OverflowError) as exc:
        raise bad_period(exc) from None
    rows = [c.as_dict() for c in view.rows if agency is None or c.agency == agency]
    if wants_csv(request):
        return table_response(request, rows, f"compliance-{province}-{period}")
    return JSONResponse({"items": rows, "count": len(rows), "period": period, "plan": view.plan, "note": view.note})


@router.get("/reports")
async def get_reports(
    request: Request, province: str | None = None, agency: str | None = None, period: str | None = None,
    who: Reader = Depends(reader),
) -> Response:
    q = select(reports).order_by(reports.c.submitted_on)
    for column, value in ((reports.c.province, who.province(province)), (reports.c.agency, agency),
                          (reports.c.period, period)):
        if value:
            q = q.where(column == value)
    return table_response(request, await rows_of(request, q), "reports")


@router.get("/partners")
async def get_partners(request: Request, province: str | None = None, country: str | None = None,
                       who: Reader = Depends(reader)) -> Response:
    """Registered partners with how many activities involve them."""
    province = who.province(province)
    q = select(partners).where(partners.c.province == province).order_by(partners.c.country, partners.c.slug)
    if country:
        q = q.where(partners.c.country == country)
    rows = await rows_of(request, q)
    counted = (
        select(activities.c.province, activities.c.partner_id, func.count().label("n"))
        .where(activities.c.partner_id.is_not(None), activities.c.province == province)
        .group_by(activities.c.province, activities.c.partner_id)
    )
    counts = {(r["province"], r["partner_id"]): r["n"] for r in await rows_of(request, counted)}
    for row in rows:
        row["activities"] = counts.get((row["province"], row["slug"]), 0)
        named_partner(row)
    return table_response(request, rows, "partners")


@router.get("/partners/{slug}")
async def get_partner(request: Request, slug: str, province: str | None = None,
                      who: Reader = Depends(reader)) -> JSONResponse:
    """A partner of the province's registry and its relationship history there: every activity,
    delegation, agreement and aid."""
    q = select(partners).where(partners.c.slug == slug, partners.c.province == who.province(province))
    found = await rows_of(request, q)
    if not found:
        raise HTTPException(404, f"no partner {slug}")
    history = await rows_of(request, select(activities).where(
        activities.c.partner_id == slug, activities.c.province == found[0]["province"]
    ).order_by(activities.c.start_date))
    return JSONResponse({**named_partner(found[0]), "history": [named_activity(h) for h in history]})


@router.get("/information")
async def get_information(request: Request, province: str | None = None, agency: str | None = None,
                          who: Reader = Depends(reader)) -> Response:
    """Information shared, with its recipients, who acknowledged and who has not yet (an agency: what
    it shared, and what was shared with it)."""
    q = select(information).where(information.c.province == who.province(province)).order_by(information.c.shared_at)
    agency = who.agency(agency)
    rows = await rows_of(request, q)
    out = []
    for row in rows:
        row["pending"] = sorted(set(row["recipients"]) - set(row["acknowledged"]))
        if agency is None or agency == row["agency"] or agency in row["recipients"]:
            out.append(row)
    return table_response(request, out, "information")


@router.get("/difficulties")
async def get_difficulties(request: Request, province: str | None = None, status: str | None = None,
                           who: Reader = Depends(reader)) -> Response:
    """Difficulties with their step (an agency: the ones it raised): `beyond_authority` is the raiser's
    view; `within_authority` SNgV's judgement on acknowledgement (null until it says), and
    `proposal_document`/`decide_by` its proposal to the UBND tỉnh once escalated."""
    q = select(difficulties).where(difficulties.c.province == who.province(province)).order_by(difficulties.c.raised_at)
    if (own := who.own(difficulties)) is not None:
        q = q.where(own)
    if status:
        q = q.where(difficulties.c.status == status)
    rows = await rows_of(request, q)
    for row in rows:
        state = row.pop("state", None) or {}
        row.update({k: state.get(k) for k in ("within_authority", "proposal_document", "decide_by")})
    return table_response(request, rows, "difficulties")
