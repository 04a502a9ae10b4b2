"""What the server serves (`services.http.app.served`): POST /events is taken ahead of the FastAPI
application, still through the trusted-host check and the security headers, its errors answered by
the application's handlers; every other request goes to the application."""

from __future__ import annotations

import httpx
from nats.aio.client import Client

from services.db import make_engine
from services.http.app import create_app, served


def client() -> httpx.AsyncClient:
    app = create_app(make_engine("postgresql://nobody:x@127.0.0.1:9/none"), Client(), hosts=["so-ngoai-vu.example"])
    transport = httpx.ASGITransport(app=served(app), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://so-ngoai-vu.example")


async def test_events_posted_for_another_host_are_refused_before_anything_is_read():
    async with client() as c:
        r = await c.post("http://elsewhere.example/events", content=b"{}", headers={"authorization": "Bearer x"})
    assert r.status_code == 400 and r.text == "Invalid host header"


async def test_events_posted_without_a_token_are_answered_by_the_applications_handler_with_its_headers():
    async with client() as c:
        r = await c.post("/events", content=b"{}")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"] == "unauthorized"
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"


async def test_a_database_that_does_not_answer_is_a_503_on_the_events_route_too():
    async with client() as c:
        r = await c.post("/events", content=b"{}", headers={"authorization": "Bearer doingoai_x"})
        page = await c.get("/")
    assert r.status_code == 503 and r.json()["error"] == "unavailable" and r.headers["retry-after"] == "5"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert page.status_code == 200 and "content-security-policy" in page.headers
