"""GET /api/...: the read models as JSON (or CSV where a table is natural)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from projections.tables import activities, events, rejected
from services.http.deps import state, table_response

router = APIRouter(prefix="/api", tags=["read models"])


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    from services.http.coordination import plain

    return plain(row)


@router.get("/events/{event_id}")
async def get_event(request: Request, event_id: str) -> JSONResponse:
    """The stored CloudEvent, its stream `sequence` and `recorded_at`."""
    async with state(request).engine.connect() as conn:
        row = (await conn.execute(select(events).where(events.c.id == event_id))).mappings().first()
    if row is None:
        raise HTTPException(404, f"no event with id {event_id}")
    return JSONResponse(
        {"event": row["envelope"], "sequence": row["seq"], "recorded_at": row["recorded_at"].isoformat()}
    )


@router.get("/activities")
async def list_activities(
    request: Request,
    province: str | None = None,
    agency: str | None = None,
    kind: str | None = None,
    partner: str | None = None,
    from_: date | None = Query(None, alias="from"),
    to: date | None = None,
    limit: int = Query(1000, ge=1, le=100_000),
) -> Response:
    """Activities, delegations, conferences, agreements and aid."""
    q = select(activities).order_by(activities.c.start_date, activities.c.subject).limit(limit)
    if province:
        q = q.where(activities.c.province == province)
    if agency:
        q = q.where(activities.c.agency == agency)
    if kind:
        q = q.where(activities.c.kind == kind)
    if partner:
        q = q.where((activities.c.partner_name.ilike(f"%{partner}%")) | (activities.c.partner_country == partner))
    if from_:
        q = q.where(activities.c.end_date >= from_)
    if to:
        q = q.where(activities.c.start_date <= to)
    async with state(request).engine.connect() as conn:
        rows = [_jsonable(dict(r)) for r in (await conn.execute(q)).mappings()]
    return table_response(request, rows, "activities")


@router.get("/rejected")
async def list_rejected(
    request: Request,
    province: str | None = None,
    agency: str | None = None,
    limit: int = Query(1000, ge=1, le=100_000),
) -> Response:
    """Rejected events with their reasons, newest first."""
    q = select(rejected).order_by(rejected.c.recorded_at.desc()).limit(limit)
    if province or agency:
        q = q.where(rejected.c.publisher.like(f"{province or '%'}.{agency or '%'}"))
    async with state(request).engine.connect() as conn:
        rows = []
        for r in (await conn.execute(q)).mappings():
            row = _jsonable({k: v for k, v in r.items() if k != "raw"})
            row["raw"] = bytes(r["raw"]).decode("utf-8", errors="replace")
            rows.append(row)
    return table_response(request, rows, "rejected")
