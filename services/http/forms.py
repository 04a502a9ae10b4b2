"""GET /api/forms: the forms an official may fill, drawn from the event types' JSON Schemas (with their
Vietnamese titles and enum labels), one per event type the authority rules give the person's agency the
word on; GET /api/forms/{name}/subjects: what an event of that type may be about (a new aggregate, or one
the agency may speak on as the rules stand). The form posts the event through `POST /events`."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Table, select

from projections.tables import (
    activities,
    aggregates,
    difficulties,
    escalations,
    information,
    partners,
    plans,
    reports,
    tasks,
)
from schemas.authority import RULES, Aggregate, Speaker, may_ever_publish, may_speak_on
from schemas.base import EventType, latest_versions
from schemas.export import data_schema
from services.http.deps import state
from services.http.scope import Reader, reader
from services.names import agency_name

router = APIRouter(prefix="/api/forms", tags=["forms"])

GROUPS = (
    ("Hoạt động đối ngoại", ("activity", "delegation", "conference", "agreement", "aid")),
    ("Trao đổi thông tin", ("information",)),
    ("Báo cáo", ("report",)),
    ("Khó khăn, vướng mắc", ("difficulty",)),
    ("Kế hoạch, nhiệm vụ", ("plan", "task")),
    ("Đối tác nước ngoài", ("partner",)),
)
"""How the forms are grouped, by the kind of aggregate they speak of, in this order."""
WITHOUT_FORM = frozenset({"escalation_acknowledged"})
"""Event types recorded otherwise: an escalation is acknowledged with its own button (Cảnh báo)."""
LABELS: dict[str, tuple[Table, str, str]] = {
    **{kind: (activities, "subject", "title") for kind in ("activity", "delegation", "conference", "agreement", "aid")},
    "difficulty": (difficulties, "difficulty_id", "topic"),
    "report": (reports, "report_id", "title"),
    "information": (information, "info_id", "topic"),
    "task": (tasks, "task_id", "title"),
    "plan": (plans, "plan_id", "title"),
    "partner": (partners, "slug", "name_vi"),
    "escalation": (escalations, "escalation_id", "message"),
}
"""Where the read models keep what an aggregate is called: table, id column (the aggregate id, or the
whole subject), label column."""
MAX_SUBJECTS = 500


def _group(aggregate: str) -> tuple[int, str]:
    for n, (title, kinds) in enumerate(GROUPS):
        if aggregate in kinds:
            return n, title
    return len(GROUPS), "Khác"


def form_types(agency: str, can_publish: bool) -> list[EventType]:
    """The newest version of each event type `agency` may ever publish, in the forms' order."""
    if not can_publish:
        return []
    found = [et for name, et in latest_versions().items()
             if name not in WITHOUT_FORM and RULES.get(name) is not None and RULES[name].speaker is not Speaker.system
             and may_ever_publish(agency, name)]
    order = {name: n for n, name in enumerate(RULES)}
    return sorted(found, key=lambda et: (_group(et.aggregate)[0], order[et.name]))


@cache
def form_of(et: EventType) -> dict[str, Any]:
    """The form of an event type (built once: the schemas do not change while the service runs)."""
    rule = RULES[et.name]
    return {
        "name": et.name, "version": et.version, "type": et.ce_type, "aggregate": et.aggregate,
        "title_vi": et.title_vi, "group": _group(et.aggregate)[1], "opens": rule.opens,
        "itself": rule.itself, "owner_field": rule.owner, "schema": data_schema(et),
    }


@router.get("")
async def list_forms(who: Reader = Depends(reader)) -> JSONResponse:
    """The forms of the reader's agency: for each event type it may publish, its CloudEvents `type`, the
    aggregate kind its `subject` names, whether it may open a new one (`opens`), the field that must name
    the agency itself (`itself`), the field that must name the aggregate's owner (`owner_field`), and the
    JSON Schema of its `data`. The envelope's `source` is the agency's."""
    me = who.who
    forms = [form_of(et) for et in form_types(me.agency, me.can_publish)]
    return JSONResponse({"province": me.province, "agency": me.agency, "source": me.source, "forms": forms})


@router.get("/{name}/subjects")
async def subjects(request: Request, name: str, q: str | None = Query(None, max_length=200),
                   who: Reader = Depends(reader)) -> JSONResponse:
    """What an event `name` of the reader's agency may be about: `new` (it may open a new aggregate) and
    `items`, the aggregates of its kind in the province it may speak on now (newest first), each with
    `subject`, `label`, `owner` and `owner_name`; `q` filters by label."""
    me = who.who
    et = latest_versions().get(name)
    if et is None or et not in form_types(me.agency, me.can_publish):
        raise HTTPException(404, f"no form {name} for {me.province}.{me.agency}")
    query = (select(aggregates).where(aggregates.c.province == me.province,
                                      aggregates.c.subject.startswith(f"{et.aggregate}/", autoescape=True))
             .order_by(aggregates.c.first_seq.desc()))
    async with state(request).engine.connect() as conn:
        held = [r for r in (await conn.execute(query)).mappings()
                if may_speak_on(me.province, me.agency, name, Aggregate(r["province"], r["subject"], r["owner"],
                                                                         frozenset(r["parties"])))][:MAX_SUBJECTS]
        labels = await _labels(conn, me.province, et.aggregate, [r["subject"] for r in held])
    items = [{"subject": r["subject"], "label": labels.get(r["subject"]) or r["subject"], "owner": r["owner"],
              "owner_name": agency_name(me.province, r["owner"])} for r in held]
    if q:
        items = [i for i in items if q.casefold() in i["label"].casefold()]
    return JSONResponse({"new": may_speak_on(me.province, me.agency, name, None), "items": items})


async def _labels(conn: Any, province: str, kind: str, subjects: list[str]) -> dict[str, str]:
    found = LABELS.get(kind)
    if found is None or not subjects:
        return {}
    table, key, label = found
    whole = key == "subject"
    ids = subjects if whole else [s.partition("/")[2] for s in subjects]
    rows = await conn.execute(select(table.c[key], table.c[label]).where(table.c.province == province,
                                                                          table.c[key].in_(ids)))
    return {(r[0] if whole else f"{kind}/{r[0]}"): str(r[1]) for r in rows}
