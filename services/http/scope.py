"""Who may read what (CONTRACT §3): every read needs a credential, and stays in its scope.

An agency reads its province's coordination views (dashboard, activities, plans and tasks, report
compliance, partners, the consolidated report), its own events, rejections and difficulties, the
information shared by it or with it, and its escalations. Sở Ngoại vụ, the UBND tỉnh and its office,
and auditors read their whole province. Nobody reads another province: `403`. Without a credential:
`401`. The routes apply the scope with the `Reader` their dependency gives them; the rule of who
reads the whole province is `schemas.authority.reads_whole_province`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy import ColumnElement, Table, false, or_

from schemas.authority import reads_whole_province
from services.credentials import Identity
from services.http.deps import AuthError, identity


@dataclass(frozen=True)
class Reader:
    """The identity behind a read, and the scope it reads in."""

    who: Identity

    @property
    def whole_province(self) -> bool:
        return reads_whole_province(self.who.agency, self.who.role)

    def province(self, asked: str | None) -> str:
        """The province a read covers: the reader's own; asking for another is `403`."""
        if asked is not None and asked != self.who.province:
            raise AuthError(403, f"{self.who.province}.{self.who.agency} reads {self.who.province} only, "
                                 f"not {asked}")
        return self.who.province

    def own(self, table: Table, column: str = "agency") -> ColumnElement[bool] | None:
        """A filter of `table`'s rows to the reader's own agency, or None for a whole-province reader."""
        return None if self.whole_province else table.c[column] == self.who.agency

    def agency(self, asked: str | None) -> str | None:
        """An `agency` filter of an agency-scoped read: the reader's own (asking for another: `403`)."""
        if self.whole_province:
            return asked
        if asked is not None and asked != self.who.agency:
            raise AuthError(403, f"{self.who.agency} reads its own {asked and 'rows'}, not {asked}'s")
        return self.who.agency

    def either(self, *conditions: ColumnElement[bool]) -> ColumnElement[bool] | None:
        """Rows matching any of `conditions` for an agency; None (no filter) for a whole-province reader."""
        if self.whole_province:
            return None
        return or_(*conditions) if conditions else false()

    def check_row(self, row: dict[str, Any], *, agency_of: str | None = None) -> None:
        """`403` unless the row is of the reader's province (and, for an agency, its own)."""
        self.province(row.get("province"))
        if agency_of is not None and not self.whole_province and agency_of != self.who.agency:
            raise AuthError(403, f"{self.who.agency} reads its own, not {agency_of}'s")


async def reader(request: Request) -> Reader:
    """The FastAPI dependency of every read route: `401` without a valid credential."""
    return Reader(await identity(request))
