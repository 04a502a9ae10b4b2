"""POST /events ahead of the application: agency systems send their events one request each, so
this route is the service's hottest. The server serves `EventsFirst` around the FastAPI application;
it hands POST /events to `services.http.ingest.post_events` through the middlewares that concern
it (`guard`: the trusted-host check and the security headers), and everything else to the
application. FastAPI's own layers (its server-error, telemetry, body-limit and exception
middlewares, its router and endpoint wrapper) and the middlewares of other routes (GET answers'
personal data, the sign-in's state cookie) are not on this path. An exception is answered by the
application's own handler of it, as it would have been there; one without a handler of its own by the
application's handler of `Exception`, as its server-error middleware would have. FastAPI's route of
the same path (`ingest.events_doc`) serves the application on its own (tests in-process) and the
OpenAPI document.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from services.http.ingest import post_events

Handler = Callable[[Request, Any], Response | Awaitable[Response]]


class EventsFirst:
    """Serves POST /events with `post_events` inside `guard`, and every other request with `app`."""

    def __init__(self, app: FastAPI, guard: Callable[[ASGIApp], ASGIApp]):
        self.app = app
        self.events = guard(self._post_events)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/events" or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app  # as the application sets it: request.app, its state
        await self.events(scope, receive, send)

    async def _post_events(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response: Response = await post_events(request)
        except Exception as exc:
            handler = self.handler(exc)
            if handler is None:
                response = PlainTextResponse("Internal Server Error", status_code=500)
            else:
                answer = handler(request, exc)
                response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    def handler(self, exc: Exception) -> Handler | None:
        """The application's handler of `exc`'s class or nearest base (`Exception`'s last)."""
        handlers = self.app.exception_handlers
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]  # type: ignore[no-any-return]
        return None
