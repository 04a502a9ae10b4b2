"""Partners registered by events; their history is read from the activities table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from projections.engine.batch import Stored
from projections.models.rows import Reducer, Row, RowProjection
from projections.models.tables import partners


def registered(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    return {"province": s.event.envelope.province, "name_vi": d.name_vi, "name_original": d.name_original,
            "country": d.country, "kind": d.kind.value, "relationship": d.relationship, "since": d.since}


class Partners(RowProjection):
    name = "partners"
    table = partners
    key = "slug"
    reducers: ClassVar[Mapping[str, Reducer]] = {"partner_registered": registered}

    def id_of(self, stored: Stored) -> str:
        return str(stored.event.data.slug)  # type: ignore[attr-defined]
