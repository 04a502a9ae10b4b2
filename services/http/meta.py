"""Health, metrics, JSON Schemas of the event types and the AsyncAPI document."""

from __future__ import annotations

import re

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select, text

from projections.engine.tables import checkpoints
from schemas.base import registry
from schemas.export import data_schema, schema_index
from services.http.deps import SESSION_COOKIE, AuthError, identity, session, state

router = APIRouter()
SCHEMA_NAME = re.compile(r"^(?P<name>[a-z][a-z0-9_]{0,63})\.v(?P<version>[1-9][0-9]{0,5})\.json$")


@router.get("/healthz", tags=["operations"])
async def healthz(request: Request) -> JSONResponse:
    """`status` (ok or degraded) and, when something is wrong, `problems` (its kinds: storage_full,
    nats_write_error, nats_down, database_down) for anyone; with a credential (or a signed-in
    session), each problem's message (`details`), the free space, what is up and how far each
    projection has got."""
    st = state(request)
    db_ok = True
    progress: dict[str, int] = {}
    try:
        async with st.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            progress = {r.consumer: r.last_seq for r in await conn.execute(select(checkpoints))}
    except Exception:  # reported, not raised: health says what is down
        db_ok = False
    report = st.health.report() if st.health is not None else {"problems": {}}
    problems: dict[str, str] = report["problems"]  # type: ignore[assignment]
    ok = db_ok and st.nc.is_connected and not problems
    body: dict[str, object] = {"status": "ok" if ok else "degraded"}
    if problems:
        body["problems"] = sorted(problems)
    details = {"nats": st.nc.is_connected, "database": db_ok, "projections": progress,
               **({"details": problems} if problems else {}),
               **({"storage": report["storage"]} if "storage" in report else {})}
    if request.headers.get("authorization"):
        await identity(request)  # 401 for a credential that is not one
        body.update(details)
    elif request.cookies.get(SESSION_COOKIE):
        try:  # a session that has ended sees what anyone sees (the dashboard polls with its cookie)
            await session(request)
            body.update(details)
        except AuthError:
            pass
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", tags=["operations"])
async def metrics(request: Request) -> Response:
    """Prometheus text, for a credential (an auditor's token for the scraper)."""
    await identity(request)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/asyncapi.json", tags=["schemas"])
async def asyncapi_document(request: Request) -> JSONResponse:
    """The AsyncAPI document of the NATS side: subjects, CloudEvents envelope, payload schemas."""
    from services.asyncapi import asyncapi

    return JSONResponse(asyncapi([u.geturl() for u in state(request).nc.servers]))


@router.get("/schemas", tags=["schemas"])
async def schemas_index() -> JSONResponse:
    return JSONResponse({"event_types": schema_index()})


@router.get("/schemas/{filename}", tags=["schemas"])
async def schema(filename: str) -> JSONResponse:
    """JSON Schema of an event type's `data`, e.g. /schemas/difficulty_raised.v1.json."""
    found = SCHEMA_NAME.match(filename)
    et = registry().get((found["name"], int(found["version"]))) if found else None
    if et is None:
        raise HTTPException(404, f"no schema {filename}")
    return JSONResponse(data_schema(et), media_type="application/schema+json")
