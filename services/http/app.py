"""The FastAPI application: built with its dependencies passed in, nothing opened at import."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.codec import InvalidEvent
from services.http import coordination, escalations, ingest, meta, read
from services.http.audit import router as audit_router
from services.http.deps import AppState, AuthError
from services.http.lookup import CoalescingLookup
from services.http.report_download import router as report_download_router
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
MAX_REQUEST_BYTES = 1024 * 1024
"""Largest request body of any route that does not state its own limit (the ingest routes do)."""


def create_app(engine: AsyncEngine, nc: Client) -> FastAPI:
    app = FastAPI(
        title="doingoai",
        version="0.1.0",
        description="Đối ngoại nhân dân: CloudEvents in, coordination read models out.",
    )
    publisher = Publisher(nc, lookup=CoalescingLookup(engine))
    app.state.doingoai = AppState(engine=engine, nc=nc, publisher=publisher)
    app.include_router(ingest.router)
    app.include_router(read.router)
    app.include_router(coordination.router)
    app.include_router(escalations.router)
    app.include_router(audit_router)
    app.include_router(report_download_router)
    app.include_router(meta.router)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES \
                and not ingest.states_own_limit(request):
            message = f"request body is {declared} bytes, limit {MAX_REQUEST_BYTES}"
            response = JSONResponse({"error": "too_large", "problems": [{"path": "", "message": message}]}, 413)
        else:
            response = await call_next(request)
        if request.url.path in ("/docs", "/redoc"):
            response.headers.setdefault("Content-Security-Policy", DOCS_CSP)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(AuthError)
    async def auth_error(_: Request, exc: AuthError) -> JSONResponse:
        kind = "unauthorized" if exc.status == 401 else "forbidden"
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"error": kind, "message": str(exc)}, status_code=exc.status, headers=headers)

    @app.exception_handler(InvalidEvent)
    async def invalid_event(_: Request, exc: InvalidEvent) -> JSONResponse:
        return JSONResponse(exc.as_dict(), status_code=400 if exc.kind in ("bad_json", "too_large") else 422)

    @app.exception_handler(RequestValidationError)
    async def bad_query(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return JSONResponse({"error": "bad_request", "problems": problems}, status_code=400)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(_: Request, exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"error": "unavailable", "message": f"{exc}; retry with the same event id"},
                            status_code=503, headers={"Retry-After": "2"})

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
