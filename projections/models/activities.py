"""Activities, delegations in and out, conferences, agreements and aid: one row per aggregate.

`kind` is one of activity, delegation_in, delegation_out, conference, agreement, aid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from projections.engine.batch import Stored
from projections.models.rows import Reducer, Row, RowProjection, base_row
from projections.models.tables import activities
from schemas.common import PartnerRef

KINDS = ("activity", "delegation_in", "delegation_out", "conference", "agreement", "aid")


def _partner(partner: PartnerRef | None) -> Row:
    if partner is None:
        return {"partner_country": None, "partner_name": None, "partner_id": None}
    return {
        "partner_country": partner.country,
        "partner_name": partner.locality or partner.organisation,
        "partner_id": partner.partner_id,
    }


def _new(row: Row | None, stored: Stored, kind: str, **values: Any) -> Row:
    out = {
        **(row or {}),
        **base_row(stored),
        "subject": stored.event.envelope.subject,
        "kind": kind,
        "first_seq": (row or {}).get("first_seq") or stored.seq,
        "updated_at": stored.recorded_at,
    }
    out.update(values)
    return out


def planned(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    if row and row.get("status") in ("held", "cancelled"):
        return row  # a late plan does not undo what happened
    return _new(
        row,
        s,
        "activity",
        title=d.title,
        status="planned",
        start_date=d.planned_start,
        end_date=d.planned_end,
        participants=d.expected_participants,
        lead_agency=d.lead_agency,
        detail={"activity_kind": d.kind.value},
        **_partner(d.partners[0] if d.partners else None),
    )


def held(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    return _new(
        row,
        s,
        "activity",
        title=d.title,
        status="held",
        start_date=d.start_date,
        end_date=d.end_date,
        participants=d.participants,
        lead_agency=d.lead_agency,
        detail={
            "activity_kind": d.kind.value,
            "foreign_participants": d.foreign_participants,
            "partners": [p.model_dump(mode="json", exclude_none=True) for p in d.partners],
        },
        **_partner(d.partners[0] if d.partners else None),
    )


def cancelled(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    base = row or {"title": "", "start_date": None, "end_date": None}
    return _new(
        base, s, "activity", status="cancelled", detail={**((row or {}).get("detail") or {}), "cancel_reason": d.reason}
    )


def delegation_received(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    return _new(
        row,
        s,
        "delegation_in",
        title=d.purpose,
        status="received",
        start_date=d.arrival_date,
        end_date=d.departure_date,
        participants=d.size,
        lead_agency=d.host_agency,
        detail={"head": d.head.name, "head_title": d.head.title},
        **_partner(d.partner),
    )


def delegation_sent(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    return _new(
        row,
        s,
        "delegation_out",
        title=d.purpose,
        status="sent",
        start_date=d.departure_date,
        end_date=d.return_date,
        participants=d.size,
        lead_agency=d.sending_agency,
        detail={"head": d.head.name, "head_title": d.head.title},
        **_partner(d.destination),
    )


def conference_held(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    return _new(
        row,
        s,
        "conference",
        title=d.title,
        status="held",
        start_date=d.start_date,
        end_date=d.end_date,
        participants=d.participants,
        lead_agency=d.organiser,
        detail={"conference_kind": d.kind.value, "online": d.online, "foreign_participants": d.foreign_participants},
        **_partner(d.co_organisers[0] if d.co_organisers else None),
    )


def agreement_signed(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    return _new(
        row,
        s,
        "agreement",
        title=d.title,
        status="signed",
        start_date=d.signed_on,
        end_date=d.valid_until,
        participants=None,
        lead_agency=d.signatory_agency,
        detail={"agreement_kind": d.kind.value, "areas": list(d.areas)},
        **_partner(d.partner),
    )


def aid_committed(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    start = d.start_date or s.event.envelope.time.date()
    return _new(
        row,
        s,
        "aid",
        title=d.title,
        status="committed",
        start_date=start,
        end_date=d.end_date,
        participants=None,
        lead_agency=d.recipient_agency,
        amount=d.amount,
        currency=d.currency,
        detail={"sector": d.sector.value, "aid_kind": d.aid_kind.value, "appraising_agency": d.appraising_agency},
        **_partner(d.donor),
    )


class Activities(RowProjection):
    name = "activities"
    table = activities
    key = "subject"
    reducers: ClassVar[Mapping[str, Reducer]] = {
        "activity_planned": planned,
        "activity_held": held,
        "activity_cancelled": cancelled,
        "delegation_received": delegation_received,
        "delegation_sent": delegation_sent,
        "conference_held": conference_held,
        "agreement_signed": agreement_signed,
        "aid_committed": aid_committed,
    }

    def id_of(self, stored: Stored) -> str:
        return stored.event.envelope.subject
