"""GET /api/my-work: what waits on the reader's agency ("Việc cần làm"), oldest deadline first."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from schemas import roles
from services.http.coordination import Day, today_or
from services.http.deps import state, table_response, wants_csv
from services.http.escalations import person_role
from services.http.scope import Reader, reader
from services.names import agency_name
from services.queries.my_work import my_work

router = APIRouter(prefix="/api", tags=["read models"])


@router.get("/my-work")
async def get_my_work(request: Request, province: str | None = None, day: date | None = Day,
                      who: Reader = Depends(reader)) -> Response:
    """What waits on the agency of the signed-in person (or of the token): escalations addressed to it
    (a person: at their role's level), information to acknowledge, reports owed or returned, plan
    tasks due, difficulties it raised (and those waiting on its step). Each item has `kind`, a
    Vietnamese `title` naming agencies and plans, `deadline` (Asia/Ho_Chi_Minh; null: none), `state`,
    `subject` and the dashboard `link`; oldest deadline first, no deadline last. CSV too."""
    identity = who.who
    province = who.province(province)
    role = person_role(identity)
    today = today_or(day)
    async with state(request).engine.connect() as conn:
        items = [i.as_dict() for i in await my_work(conn, province, identity.agency, role, today)]
    if wants_csv(request):  # one column for each field any item has
        columns = list(dict.fromkeys(key for item in items for key in item))
        return table_response(request, [{k: item.get(k) for k in columns} for item in items],
                              f"viec-can-lam-{identity.agency}")
    person = identity.person
    return JSONResponse({
        "province": province, "agency": identity.agency, "agency_name": agency_name(province, identity.agency),
        "role": role or identity.role, "role_name": roles.role_name(role),
        "name": person.name if person else None, "today": today.isoformat(), "items": items, "count": len(items),
    })
