"""The FastAPI application: built with its dependencies passed in, nothing opened at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from nats.aio.client import Client
from nats.js.errors import APIError
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.codec import InvalidEvent
from services.attachments import DEFAULT_MAX_BYTES, AttachmentStore
from services.embedded.health import Health, StorageFull, StoreFault
from services.http import (
    attachments,
    coordination,
    escalations,
    forms,
    ingest,
    meta,
    my_work,
    names,
    oidc,
    read,
    signin,
    users,
)
from services.http.audit import router as audit_router
from services.http.deps import AppState, AuthError
from services.http.door import AggregateFacts
from services.http.events_first import EventsFirst
from services.http.limits import Limits, TooManyRequests
from services.http.lookup import CoalescingLookup
from services.http.params import declared_length
from services.http.report_download import router as report_download_router
from services.http.reveal import RevealPersonal
from services.oidc.config import OidcProvider
from services.store.publisher import Publisher, StoreUnavailable

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
DOCS_CSP = ("default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com; frame-ancestors 'none'; "
            "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; style-src 'self' 'unsafe-inline' "
            "https://cdn.jsdelivr.net; worker-src 'self' blob:")
"""The interactive API docs load Swagger UI / ReDoc from their CDN."""
RAW_SECURITY_HEADERS = tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items())
DOCS_HEADERS = ((b"content-security-policy", DOCS_CSP.encode("latin-1")),
                *((k, v) for k, v in RAW_SECURITY_HEADERS if k != b"content-security-policy"))
"""SECURITY_HEADERS as ASGI sends them; on the API docs' pages with DOCS_CSP as their policy."""
MAX_REQUEST_BYTES = 1024 * 1024
STORAGE_ERR_CODES = frozenset({10023, 10047})
"""JetStream's "insufficient resources" and "storage resources exceeded": a server out of disk."""
STORAGE_RETRY_S = 30
"""Largest request body of any route that does not state its own limit (the ingest routes do)."""


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response and answers 413 to a body declared over
    MAX_REQUEST_BYTES on a route that states no limit of its own; a plain ASGI middleware, so a
    request costs no extra task or stream."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        declared = declared_length(Headers(scope=scope).get("content-length"))
        if declared is not None and declared > MAX_REQUEST_BYTES and not ingest.states_own_limit(scope["method"], path):
            message = f"request body is {declared} bytes or more, limit {MAX_REQUEST_BYTES}"
            response = JSONResponse({"error": "too_large", "problems": [{"path": "", "message": message}]}, 413)
            await response(scope, receive, self._with_headers(path, send))
            return
        await self.app(scope, receive, self._with_headers(path, send))

    @staticmethod
    def _with_headers(path: str, send: Send) -> Send:
        added = DOCS_HEADERS if path in ("/docs", "/redoc") else RAW_SECURITY_HEADERS

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":  # each header the response does not set, after its own
                headers = list(message.get("headers", ()))
                present = {key.lower() for key, _ in headers}
                message["headers"] = headers + [(key, value) for key, value in added if key not in present]
            await send(message)

        return sending


def served(app: FastAPI) -> ASGIApp:
    """What the server serves: `app`, with POST /events taken ahead of it (`services.http.events_first`)
    through the trusted-host check (the hosts `create_app` was given) and the security headers, and
    the connections spread over the workers (`services.http.spread`)."""
    hosts = app.state.hosts

    def guard(endpoint: ASGIApp) -> ASGIApp:
        headed = SecurityHeaders(endpoint)
        return headed if hosts is None else TrustedHostMiddleware(headed, allowed_hosts=hosts)

    return app.state.doingoai.spread.wrap(EventsFirst(app, guard))  # type: ignore[no-any-return]


DATABASE_GONE = (OSError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
                 asyncpg.ConnectionDoesNotExistError)


def _database_gone(exc: BaseException) -> bool:
    """Whether an error SQLAlchemy wrapped was caused by the database not answering."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, DATABASE_GONE):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def create_app(engine: AsyncEngine, nc: Client, *, lookup: CoalescingLookup | None = None,
               hosts: list[str] | None = None, docs: bool = False, limits: Limits | None = None,
               sso: OidcProvider | None = None, attachment_max_bytes: int = DEFAULT_MAX_BYTES,
               health: Health | None = None) -> FastAPI:
    """The HTTP service; `lookup` (closed with the app), the id lookup of its publisher; `hosts`, the
    host names it answers (any, if None); `docs`, whether /docs and /redoc are served; `limits`, what
    one client may cost it (the defaults when not given); `sso`, the OpenID provider people may sign in
    with (none if None); `attachment_max_bytes`, the largest file an event may carry; `health`, the
    state of the embedded servers (free space, faults) that ingest and /healthz read."""
    lookup = lookup or CoalescingLookup(engine)
    authority = AggregateFacts(engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await lookup.close()
        await authority.close_connection()

    app = FastAPI(
        title="doingoai",
        version="0.1.0",
        description="Đối ngoại nhân dân: CloudEvents in, coordination read models out.",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )
    publisher = Publisher(nc, lookup=lookup)
    app.state.hosts = hosts
    app.state.doingoai = AppState(engine=engine, nc=nc, publisher=publisher, attachments=AttachmentStore(nc),
                                  authority=authority,
                                  limits=limits or Limits(), attachment_max_bytes=attachment_max_bytes,
                                  sso=oidc.single_sign_on(sso) if sso is not None else None, health=health)
    app.include_router(ingest.router)
    app.include_router(read.router)
    app.include_router(coordination.router)
    app.include_router(names.router)
    app.include_router(escalations.router)
    app.include_router(my_work.router)
    app.include_router(audit_router)
    app.include_router(report_download_router)
    app.include_router(meta.router)
    app.include_router(signin.router)
    app.include_router(users.router)
    app.include_router(oidc.router)
    app.include_router(forms.router)
    app.include_router(attachments.router)

    if sso is not None:  # the sign-in's state cookie, on /login/oidc only
        app.add_middleware(oidc.StateCookie, provider=sso)
    app.add_middleware(RevealPersonal, engine=lambda: app.state.doingoai.engine)
    app.add_middleware(SecurityHeaders)
    if hosts is not None:  # outermost: a request for another host (DNS rebinding) is refused first
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)

    @app.exception_handler(AuthError)
    async def auth_error(_: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"error": exc.error, "message": str(exc)}, status_code=exc.status, headers=headers)

    @app.exception_handler(TooManyRequests)
    async def too_many(_: Request, exc: TooManyRequests) -> JSONResponse:
        return JSONResponse(exc.as_dict(), status_code=429, headers={"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(InvalidEvent)
    async def invalid_event(_: Request, exc: InvalidEvent) -> JSONResponse:
        return JSONResponse(exc.as_dict(), status_code=400 if exc.kind in ("bad_json", "too_large") else 422)

    @app.exception_handler(RequestValidationError)
    async def bad_query(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return JSONResponse({"error": "bad_request", "problems": problems}, status_code=400)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: Exception) -> JSONResponse:
        """A number or date of the request that a computation or PostgreSQL cannot hold (each parameter
        is bounded where it is read: this is the net behind those bounds)."""
        import structlog

        structlog.get_logger(__name__).warning("http.out_of_range", path=request.url.path, error=repr(exc)[:300])
        problem = {"path": "query", "message": "a number or date of the request is out of range"}
        return JSONResponse({"error": "bad_request", "problems": [problem]}, status_code=400)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"error": "unavailable", "message": f"{exc}; retry with the same event id"},
                            status_code=503, headers={"Retry-After": "2"})

    @app.exception_handler(StorageFull)
    async def storage_full(_: Request, exc: StorageFull) -> JSONResponse:
        return JSONResponse({"error": "storage_full", "message": f"{exc}; retry later with the same event id"},
                            status_code=507, headers={"Retry-After": str(STORAGE_RETRY_S)})

    @app.exception_handler(StoreFault)
    async def store_fault(_: Request, exc: StoreFault) -> JSONResponse:
        return JSONResponse({"error": "unavailable", "message": f"{exc}; retry with the same event id"},
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(ConnectionError)
    @app.exception_handler(asyncpg.PostgresConnectionError)
    @app.exception_handler(asyncpg.CannotConnectNowError)
    @app.exception_handler(asyncpg.ConnectionDoesNotExistError)
    @app.exception_handler(DBAPIError)  # what SQLAlchemy wraps them in
    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        """PostgreSQL does not answer (stopped, restarting): 503, never a 500."""
        if isinstance(exc, DBAPIError) and not (exc.connection_invalidated or _database_gone(exc)):
            return await unexpected(request, exc)
        return JSONResponse({"error": "unavailable", "message": "the database does not answer now; retry"},
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(APIError)
    async def store_refused(request: Request, exc: APIError) -> JSONResponse:
        """JetStream refused: out of its storage (507 storage_full), or what nobody expected (500)."""
        if exc.err_code in STORAGE_ERR_CODES:
            return await storage_full(request, StorageFull(f"the event store is out of space: {exc.description}"))
        return await unexpected(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        import structlog

        structlog.get_logger(__name__).exception("http.unexpected", error=repr(exc))
        return JSONResponse({"error": "internal", "message": "internal error; it was logged"}, status_code=500,
                            headers=SECURITY_HEADERS)  # answered outside the middleware: add them here

    from fastapi.staticfiles import StaticFiles

    from services.http.pages import STATIC

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home() -> str:
        from services.http.pages import home_page

        return home_page()

    return app
