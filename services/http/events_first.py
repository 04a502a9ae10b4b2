"""POST /events ahead of FastAPI's routing: agency systems send their events one request each, so
this route is the service's hottest. A plain ASGI middleware, the innermost of the application's
(inside the trusted-host check and the security headers, which it keeps), hands it to
`services.http.ingest.post_events` without FastAPI's exception middleware, router and endpoint
wrapper; an exception is answered by the application's own handler of it, as it would have been
there, and one without a handler of its own goes on to the server-error handler as before. FastAPI's
route of the same path (`ingest.events_doc`) stays for the OpenAPI document.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from services.http.ingest import post_events

Handler = Callable[[Request, Any], Response | Awaitable[Response]]


class EventsFirst:
    """Serves POST /events with `post_events`; `handlers`: the application's exception handlers
    (its own dict, so handlers added later count too)."""

    def __init__(self, app: ASGIApp, handlers: Mapping[Any, Handler]):
        self.app = app
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/events" or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response: Response = await post_events(request)
        except Exception as exc:
            handler = self.handler(exc)
            if handler is None:
                raise  # to the server-error handler, as from any route
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    def handler(self, exc: Exception) -> Handler | None:
        """The application's handler of `exc`'s class or nearest base, but the catch-all one of
        `Exception`, which the server-error middleware calls."""
        for cls in type(exc).__mro__:
            if cls is Exception:
                return None
            if cls in self.handlers:
                return self.handlers[cls]
        return None
