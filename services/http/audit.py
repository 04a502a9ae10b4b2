"""GET /api/audit: the audit trail, filtered, as JSON, CSV or JSON Lines (an export for a period).

Every row carries `sequence`, `hash` and `prev_hash`; the JSON Lines export also carries the
stored bytes (`data_base64`), so each row's hash can be recomputed without the system.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import Select, case, exists, func, or_, select

from projections.models.audit_tables import audit_trail
from projections.models.personal import personal_keys, personal_refs
from projections.models.signatures import event_signatures
from projections.models.tables import event_duplicates, events, rejected
from services.http.deps import AuthError, state, table_response
from services.http.params import MAX_SEQUENCE, bad_query
from services.http.scope import Reader, reader
from services.http.signed import signature_view
from services.personal_data import person_key_ids

router = APIRouter(prefix="/api", tags=["audit"])
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
STATUS = case(
    (exists().where(events.c.seq == audit_trail.c.seq), "stored"),
    (exists().where(event_duplicates.c.seq == audit_trail.c.seq), "duplicate"),
    (exists().where(rejected.c.key == func.concat("events:", audit_trail.c.seq)), "rejected"),
    else_="pending",
).label("status")
COLUMNS = (
    audit_trail.c.seq.label("sequence"), audit_trail.c.recorded_at, audit_trail.c.occurred_at,
    audit_trail.c.province, audit_trail.c.agency, audit_trail.c.actor, audit_trail.c.event_id,
    audit_trail.c.event_type.label("type"), audit_trail.c.aggregate.label("subject"), audit_trail.c.nats_subject,
    STATUS, audit_trail.c.prev_hash, audit_trail.c.hash,
    event_signatures.c.key_id.label("signature_key_id"), event_signatures.c.algorithm.label("signature_algorithm"),
)
ERASED_IN_CLEAR = exists().where(
    personal_refs.c.seq == audit_trail.c.seq, personal_refs.c.in_clear,
    personal_keys.c.key_id == personal_refs.c.key_id, personal_keys.c.erased_at.is_not(None),
).label("withheld")
"""Whether a message's bytes hold, in clear, the name of a person erased since (its data is withheld)."""
TRAIL = audit_trail.outerjoin(event_signatures, event_signatures.c.seq == audit_trail.c.seq)
"""The trail, with the key that verified each stored signed event."""


def moment(value: str, field: str, *, end: bool) -> datetime:
    """A date (a whole day in Vietnam: its start, or the start of the next day when `end`) or a date-time,
    in UTC; one outside the years 1 to 9999 once in UTC is a 400."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time.min, LOCAL).astimezone(UTC)
        parsed = datetime.fromisoformat(value)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except ValueError:
        raise bad_query(field, "a date (YYYY-MM-DD) or an RFC 3339 date-time") from None
    except OverflowError:
        raise bad_query(field, "out of range: a moment between the years 1 and 9999 (UTC)") from None


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
    if "signature_key_id" in out:
        out["signature"] = signature_view(out.pop("signature_key_id"), out.pop("signature_algorithm"))
    return out


def wants_jsonl(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.query_params.get("format") == "jsonl" or "ndjson" in accept or "jsonl" in accept


@router.get("/audit")
async def list_audit(
    request: Request,
    province: str | None = None,
    agency: str | None = None,
    actor: str | None = None,
    type_: str | None = Query(None, alias="type", description="CloudEvents type (full)"),
    event_id: str | None = None,
    from_: str | None = Query(None, alias="from", description="Recorded from (a date or date-time)"),
    to: str | None = Query(None, description="Recorded up to (a date: the whole day; or a date-time, exclusive)"),
    after: int | None = Query(None, ge=0, le=MAX_SEQUENCE, description="Only sequences after this one (for paging)"),
    limit: int = Query(1000, ge=1, le=1_000_000),
    order: str = Query("asc", pattern="^(asc|desc)$", description="asc: oldest first; desc: newest first"),
    format: str | None = Query(None, description="json (default), csv or jsonl"),
    who: Reader = Depends(reader),
) -> Response:
    """The audit trail of the reader's province in stream order: who, when, what, and the hash chain
    (`prev_hash`, `hash`), and the agency's key that verified each signed event (`signature`). Read by Sở
    Ngoại vụ, the UBND tỉnh and auditors."""
    if not who.whole_province:
        raise AuthError(403, "the audit trail is read by Sở Ngoại vụ, the UBND tỉnh and auditors")
    province = who.province(province)
    key = audit_trail.c.seq.desc() if order == "desc" else audit_trail.c.seq
    q: Select[Any] = select(*COLUMNS).select_from(TRAIL).order_by(key).limit(limit)
    for column, value in (("province", province), ("agency", agency),
                          ("event_type", type_), ("event_id", event_id)):
        if value is not None:
            q = q.where(audit_trail.c[column] == value)
    if actor is not None:  # stored sealed with the person's key: found by the key's id
        ids = await person_key_ids(state(request).engine, province, actor)
        q = q.where(or_(audit_trail.c.actor == actor, *(audit_trail.c.actor.startswith(f"pd1.{i}.") for i in ids)))
    if from_:
        q = q.where(audit_trail.c.recorded_at >= moment(from_, "from", end=False))
    if to and len(to) == 10:
        q = q.where(audit_trail.c.recorded_at < moment(to, "to", end=True))  # the whole day
    elif to:
        q = q.where(audit_trail.c.recorded_at <= moment(to, "to", end=True))
    if after is not None:
        q = q.where(audit_trail.c.seq > after)
    engine = state(request).engine
    if wants_jsonl(request):
        return StreamingResponse(
            _jsonl(engine, q.add_columns(audit_trail.c.data, ERASED_IN_CLEAR)),
            media_type="application/x-ndjson",
            headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'},
        )
    if limit > 100_000:
        raise bad_query("limit", "at most 100000 rows as JSON or CSV; use format=jsonl")
    async with engine.connect() as conn:
        rows = [_jsonable(dict(r)) for r in (await conn.execute(q)).mappings()]
    return table_response(request, rows, "audit")


async def _jsonl(engine: Any, query: Select[Any]) -> AsyncIterator[bytes]:
    async with engine.connect() as conn:
        result = await conn.stream(query)
        async for row in result.mappings():
            item = _jsonable({k: v for k, v in row.items() if k not in ("data", "withheld")})
            if row["withheld"]:  # the message holds an erased person's name as its publisher wrote it
                item["data_base64"], item["data_withheld"] = None, "personal_data_erased"
            else:
                item["data_base64"] = base64.b64encode(bytes(row["data"])).decode()
            yield (json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
