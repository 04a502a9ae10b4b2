"""Information shared with named agencies, and who has acknowledged it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from projections.engine.batch import Stored
from projections.models.rows import Reducer, Refused, Row, RowProjection, base_row
from projections.models.tables import information


def shared(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    return {**base_row(s), "topic": d.topic, "kind": d.kind.value, "recipients": list(d.recipients),
            "acknowledged": (row or {}).get("acknowledged") or [], "shared_at": s.event.envelope.time,
            "respond_by": d.respond_by}


def acknowledged(row: Row | None, s: Stored) -> Row:
    if row is None:
        raise Refused("unknown_aggregate", "subject", f"no information {s.event.envelope.subject} was shared")
    d: Any = s.event.data  # a recipient acknowledging for itself (`schemas.authority`)
    return {**row, "acknowledged": sorted({*row["acknowledged"], d.agency})}


class Information(RowProjection):
    name = "information"
    table = information
    key = "info_id"
    reducers: ClassVar[Mapping[str, Reducer]] = {"information_shared": shared, "information_acknowledged": acknowledged}
