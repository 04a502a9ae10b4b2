"""Shared state of the HTTP service and the request helpers its routes use."""

from __future__ import annotations

import csv
import hmac
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from services.attachments import DEFAULT_MAX_BYTES, AttachmentStore
from services.credentials import Identity, UnknownToken, identify
from services.embedded.health import Health
from services.http.door import AggregateFacts
from services.http.limits import Limits
from services.http.spread import Spread
from services.sessions import NoSession, Session, forget_user, session_of
from services.store.publisher import Publisher

if TYPE_CHECKING:
    from services.http.oidc import SingleSignOn
    from services.http.peers import Peers


@dataclass
class AppState:
    engine: AsyncEngine
    nc: Client
    publisher: Publisher
    attachments: AttachmentStore
    authority: AggregateFacts
    """The aggregates the authority rules read at the door (`services.http.door`)."""
    limits: Limits = field(default_factory=Limits)
    attachment_max_bytes: int = DEFAULT_MAX_BYTES
    sso: SingleSignOn | None = None
    """The OpenID provider people may sign in with (`services.http.oidc`), if one is configured."""
    health: Health | None = None
    """What is wrong with the embedded servers (`up` keeps it); None on external servers."""
    peers: Peers | None = None
    """The other HTTP workers (`services.http.peers`), where there are any."""
    spread: Spread = field(default_factory=Spread)
    """This worker's connections and the others' (`services.http.spread`)."""

    def forget_user(self, username: str) -> None:
        """This process, and the other workers, trust no cached session of `username`."""
        if self.peers is not None:
            self.peers.forget_user(username)
        else:
            forget_user(username)

    async def told(self) -> None:
        """Wait until the other workers can know what this request taught the limits."""
        if self.peers is not None:
            await self.peers.settled()


def state(request: Request) -> AppState:
    return request.app.state.doingoai  # type: ignore[no-any-return]


class AuthError(Exception):
    """Authentication (401) or authorisation (403) failed; `error` names why in the answer
    (default `unauthorized` / `forbidden`; `csrf` for a session's write without its CSRF token)."""

    def __init__(self, status: int, message: str, error: str | None = None):
        self.status = status
        self.error = error or ("unauthorized" if status == 401 else "forbidden")
        super().__init__(message)


SESSION_COOKIE = "doingoai_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def session(request: Request) -> Session | None:
    """The signed-in session of the request's cookie; None without the cookie; 401 for a cookie whose
    session has ended (a stale cookie is not counted as a bad token: the dashboard polls with it)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    try:
        return await session_of(state(request).engine, session_id)
    except NoSession as exc:
        raise AuthError(401, str(exc)) from None


def check_csrf(request: Request, signed_in: Session) -> None:
    """A session's request that changes something carries the session's CSRF token in `X-CSRF-Token`
    (a page of another site can make the browser send the cookie, never this header): `403 csrf`."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), signed_in.csrf_token.encode()):
        raise AuthError(403, f"a signed-in session writes with header {CSRF_HEADER} (its csrf_token from /api/me)",
                        "csrf")


async def identity(request: Request) -> Identity:
    """Who makes the request: the bearer token of `Authorization` if there is one, else the signed-in
    session of the cookie (its writes checked by `check_csrf`); 401 without either."""
    header = request.headers.get("authorization", "")
    if not header:
        signed_in = await session(request)
        if signed_in is not None:
            check_csrf(request, signed_in)
            return signed_in.identity
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "missing bearer token")
    st = state(request)
    address = request.client.host if request.client else "unknown"
    st.limits.bad_tokens.check(address)  # an address that tried too many bad tokens waits, its token unread
    try:
        return await identify(st.engine, token.strip())
    except UnknownToken as exc:
        st.limits.bad_tokens.failed(address)
        await st.told()
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
