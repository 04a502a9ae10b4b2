"""GET /api/escalations and POST /api/escalations/{id}/acknowledge."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from projections.models.tables import escalations
from schemas import roles
from schemas.authority import NOT_AUTHORIZED
from schemas.codec import new_event
from schemas.events.escalations import EscalationAcknowledgedV1
from services.credentials import Identity
from services.http.coordination import rows_of
from services.http.deps import AuthError, identity, state, table_response
from services.http.names import named_escalation
from services.http.params import bad_query
from services.http.scope import Reader, reader
from services.http.signed import refusal_of, session_marks
from services.personal_data import seal_recorded

router = APIRouter(prefix="/api/escalations", tags=["escalations"])
ACK_NS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:doingoai:escalation-ack")
STATUSES = ("open", "acknowledged", "closed")


@router.get("")
async def list_escalations(
    request: Request, status: str | None = None, target: str | None = None, province: str | None = None,
    trigger: str | None = None, reminders: bool = False, inbox: bool = False, who: Reader = Depends(reader),
) -> Response:
    """Escalations, newest first: `status=open|acknowledged|closed`, `target=<agency>`, `province=`
    (an agency: those addressed to it or about it). `inbox=true`: the reader's inbox
    (`schemas.roles.inbox`): for a signed-in official, what is addressed to their agency at their
    role's level (level 1 chuyên viên, level 2 lãnh đạo), what their agency's late steps caused, and
    for a leader what climbed above their agency; for an agency's token, everything addressed to it
    and what its late steps caused."""
    province = who.province(province)
    if status is not None and status not in STATUSES:
        raise bad_query("status", f"must be one of {', '.join(STATUSES)}")
    q = select(escalations).order_by(escalations.c.raised_at.desc(), escalations.c.level.desc())
    later = {"status": status, "target_agency": target} if inbox else {}
    for column, value in ((escalations.c.status, status), (escalations.c.target_agency, target),
                          (escalations.c.province, province), (escalations.c.trigger, trigger)):
        if value and column.name not in later:
            q = q.where(column == value)
    if not reminders:
        q = q.where(escalations.c.level > 0)
    mine = who.either(escalations.c.target_agency == who.who.agency, escalations.c.responsible_agency == who.who.agency)
    if mine is not None:
        q = q.where(mine)
    rows = await rows_of(request, q)
    if inbox:  # the levels of a cause decide what climbed above: status and target are filtered after
        rows = [r for r in inbox_of(who.who, rows) if all(not v or r[k] == v for k, v in later.items())]
    return table_response(request, [named_escalation(r) for r in rows], "escalations")


def person_role(who: Identity) -> str | None:
    """The role of a signed-in official (None for a token)."""
    return who.person.role if who.person is not None else None


def inbox_of(who: Identity, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of `who`'s inbox among `rows` (`schemas.roles.inbox`)."""
    return roles.inbox(person_role(who), who.agency, rows)


@router.post("/{escalation_id}/acknowledge", status_code=202)
async def acknowledge(
    request: Request, escalation_id: str, body: dict[str, Any] | None = Body(None)
) -> JSONResponse:
    """The target agency acknowledges an escalation (publishes `escalation_acknowledged`).
    Body (optional): {"by": {"name": ..., "title": ...}, "action": "..."}; in a signed-in session
    (with its `X-CSRF-Token`) `by` is the person's name and title."""
    who = await identity(request)
    found = await rows_of(request, select(escalations).where(
        escalations.c.escalation_id == escalation_id, escalations.c.province == who.province))
    if not found:
        raise HTTPException(404, f"no escalation {escalation_id}")
    row = found[0]
    if not who.can_publish or (who.province, who.agency) != (row["province"], row["target_agency"]):
        raise AuthError(403, f"only {row['target_agency']} of {row['province']} acknowledges this escalation")
    role = person_role(who)
    if not roles.may_acknowledge(role, row["level"]):
        whom = " and ".join(sorted(roles.addressed_roles(row["level"])))
        raise AuthError(403, f"level {row['level']} ({row['target_role'] or row['target_agency']}) is addressed to the "
                             f"{whom} of {row['target_agency']}: a {role}'s session does not acknowledge it",
                        NOT_AUTHORIZED)
    body = body or {}
    person = who.person  # a signed-in official acknowledges as themselves, whatever the body says
    by = {"name": person.name, "title": person.title} if person else body.get("by") or {"name": who.agency}
    data = EscalationAcknowledgedV1.model_validate({"agency": who.agency, "by": by, "action": body.get("action")})
    event = new_event(data, province=who.province, agency=who.agency, aggregate_id=escalation_id,
                      time=datetime.now(UTC), event_id=str(uuid.uuid5(ACK_NS, f"{escalation_id}|{who.agency}")),
                      actor=who.actor or data.by.name)
    if who.actor is not None:
        event = event.model_copy(update=session_marks(who.actor))
    refused = await refusal_of(state(request).engine, event)
    if refused is not None:  # the service signs nothing: an agency that must sign acknowledges itself
        return JSONResponse(refused.as_dict(), status_code=400)
    result = await state(request).publisher.publish(await seal_recorded(state(request).engine, event))
    return JSONResponse({"id": result.id, "sequence": result.sequence, "duplicate": result.duplicate}, 202)
