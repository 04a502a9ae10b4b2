"""Shared state of the HTTP service and the request helpers its routes use."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from services.credentials import Identity, UnknownToken, identify
from services.http.limits import Limits
from services.store.publisher import Publisher


@dataclass
class AppState:
    engine: AsyncEngine
    nc: Client
    publisher: Publisher
    limits: Limits = field(default_factory=Limits)


def state(request: Request) -> AppState:
    return request.app.state.doingoai  # type: ignore[no-any-return]


class AuthError(Exception):
    """Authentication (401) or authorisation (403) failed."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


async def identity(request: Request) -> Identity:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "missing bearer token")
    bad_tokens = state(request).limits.bad_tokens
    address = request.client.host if request.client else "unknown"
    bad_tokens.check(address)  # an address that tried too many bad tokens waits, its token unread
    try:
        return await identify(state(request).engine, token.strip())
    except UnknownToken as exc:
        bad_tokens.failed(address)
        raise AuthError(401, str(exc)) from None


def wants_csv(request: Request) -> bool:
    return request.query_params.get("format") == "csv" or "text/csv" in request.headers.get("accept", "")


def table_response(request: Request, rows: Sequence[dict[str, Any]], name: str) -> Response:
    """JSON `{"items": [...]}` or CSV (`Accept: text/csv` or `?format=csv`)."""
    if not wants_csv(request):
        return JSONResponse({"items": list(rows), "count": len(rows)})
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A cell whose text begins with one of these is read as a formula by spreadsheets (CSV injection)."""


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: lists and objects as JSON, and text that a spreadsheet would take for a
    formula (`=HYPERLINK(...)`, `+1`, `-2`, `@SUM`, a leading tab or CR) behind a `'`, shown as text."""
    if isinstance(value, list | dict):
        import json

        value = json.dumps(value, ensure_ascii=False)
    if value is not None and str(value).startswith(FORMULA_START):
        return "'" + str(value)
    return value
