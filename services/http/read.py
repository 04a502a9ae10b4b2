"""GET /api/...: the read models as JSON (or CSV where a table is natural)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select

from projections.models.tables import activities, events
from services.http.deps import AuthError, state, table_response
from services.http.names import named_activity
from services.http.params import MAX_SEQUENCE
from services.http.scope import Reader, reader
from services.http.signed import signature_of
from services.rejections import get_rejection, list_rejections

router = APIRouter(prefix="/api", tags=["read models"])


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    from services.http.coordination import plain

    return plain(row)


@router.get("/events/{event_id}", responses={300: {"description": "Several sources used the id: pick one with "
                                                   "`?source=` (the body lists them)"}})
async def get_event(
    request: Request,
    event_id: str,
    source: str | None = Query(None, description="The event's source, e.g. /provinces/ha-tinh/agencies/"
                               "so-ngoai-vu: needed only when several sources used the id"),
    who: Reader = Depends(reader),
) -> JSONResponse:
    """The stored CloudEvent, its stream `sequence`, `recorded_at` and `signature` (the agency's key that
    verified it: {key_id, algorithm, verified, extensions}; null if unsigned). An event is (source, id): when
    one source used the id, that event; `?source=` picks one source's event; when several sources
    used the id and no `source` is given, `300 Multiple Choices` with `{"error": "ambiguous_id",
    "id", "sources": [...]}` (each source once, in the order they stored it) and nothing chosen.
    Only events the reader may read count: its province's (an agency: its own); `403` when the id is
    only another's."""
    # by the (id, source) index: one row per source at most, ordered here (an ORDER BY seq LIMIT could
    # lead the planner to walk the primary key instead)
    q = select(events).where(events.c.id == event_id)
    if source is not None:
        q = q.where(events.c.source == source)
    async with state(request).engine.connect() as conn:
        found = sorted((await conn.execute(q)).mappings().all(), key=lambda r: r["seq"])
    rows = [r for r in found if r["province"] == who.who.province and (who.whole_province
                                                                        or r["source"] == who.who.source)]
    if found and not rows:
        raise AuthError(403, f"{event_id} is not an event {who.who.province}.{who.who.agency} reads")
    if not rows:
        raise HTTPException(404, f"no event with id {event_id}" + (f" from {source}" if source else ""))
    if len(rows) > 1:
        return JSONResponse({"error": "ambiguous_id", "id": event_id, "sources": [r["source"] for r in rows],
                             "message": "several sources used this id: name one with ?source="}, status_code=300)
    row = rows[0]
    return JSONResponse(
        {"event": row["envelope"], "sequence": row["seq"], "recorded_at": row["recorded_at"].isoformat(),
         "signature": await signature_of(state(request).engine, row["seq"])}
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
    who: Reader = Depends(reader),
) -> Response:
    """Activities, delegations, conferences, agreements and aid."""
    q = select(activities).where(activities.c.province == who.province(province))
    q = q.order_by(activities.c.start_date, activities.c.subject).limit(limit)
    if agency:
        q = q.where(activities.c.agency == agency)
    if kind:
        q = q.where(activities.c.kind == kind)
    if partner:
        q = q.where((activities.c.partner_name.ilike(f"%{partner}%")) | (activities.c.partner_country == partner))
    if from_:
        q = q.where(func.coalesce(activities.c.end_date, activities.c.start_date) >= from_)
    if to:
        q = q.where(activities.c.start_date <= to)
    async with state(request).engine.connect() as conn:
        rows = [named_activity(_jsonable(dict(r))) for r in (await conn.execute(q)).mappings()]
    return table_response(request, rows, "activities")


@router.get("/rejected")
async def list_rejected(
    request: Request,
    province: str | None = None,
    agency: str | None = None,
    kind: str | None = Query(None, description="bad_json, bad_envelope, unknown_type, schema_violation, "
                             "too_large, source_mismatch, impossible_transition, projection_failed, …"),
    event_id: str | None = None,
    status: Literal["open", "resolved"] | None = Query(None, description="open: no correction stored yet"),
    limit: int = Query(1000, ge=1, le=100_000),
    offset: int = Query(0, ge=0, le=MAX_SEQUENCE),
    who: Reader = Depends(reader),
) -> Response:
    """Rejected events with their reasons, newest first: the first 4 KiB of each raw event, its size,
    and `resolved_by`, the sequence of the correction stored since (same publisher, same id or the id
    it was re-submitted as)."""
    async with state(request).engine.connect() as conn:
        rows = await list_rejections(conn, province=who.province(province), agency=who.agency(agency), kind=kind,
                                     event_id=event_id, status=status, limit=limit, offset=offset)
    return table_response(request, rows, "rejected")


@router.get("/rejected/{key}")
async def get_rejected(request: Request, key: str, who: Reader = Depends(reader)) -> JSONResponse:
    """One rejected event with its reason and all its raw bytes (`raw`, and `raw_base64` exactly)."""
    async with state(request).engine.connect() as conn:
        row = await get_rejection(conn, key)
    if row is None:
        raise HTTPException(404, f"no rejection {key}")
    province, _, agency = str(row.get("publisher") or "").partition(".")
    if province != who.who.province or (not who.whole_province and agency != who.who.agency):
        raise AuthError(403, f"{key} is not among {who.who.province}.{who.who.agency}'s rejections")
    return JSONResponse(row)
