"""Publish the demo scenario through the public paths: HTTP with agency tokens, NATS with
agency users, in scenario order (so each aggregate's events arrive in causal order)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import nats
from nats.aio.client import Client

from schemas.codec import encode
from services.credentials import issue
from services.db import make_engine
from services.demo.provinces import scenario
from services.runtime import Runtime
from services.store.publisher import Publisher


class DemoFailed(RuntimeError):
    """The running system refused a demo event."""


async def run_demo(rt: Runtime) -> dict[str, Any]:
    steps = scenario()
    engine = make_engine(rt.database_url, pool_size=1)
    try:
        creds = {key: await issue(engine, *key) for key in sorted({(s.province, s.agency) for s in steps})}
    finally:
        await engine.dispose()
    await rt.refresh_auth()
    await asyncio.sleep(0.5)  # the server reloads its users
    connections: dict[tuple[str, str], Client] = {}
    outcome: Counter[str] = Counter()
    base = rt.settings.http.rstrip("/")
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for step in steps:
                key = (step.province, step.agency)
                if step.via == "http":
                    r = await http.post(
                        "/events",
                        content=encode(step.event),
                        headers={
                            "content-type": "application/cloudevents+json",
                            "authorization": f"Bearer {creds[key]['token']}",
                        },
                    )
                    if r.status_code != 202:
                        raise DemoFailed(f"{step.event.type} refused: {r.status_code} {r.text}")
                    duplicate = r.json()["duplicate"]
                else:
                    if key not in connections:
                        connections[key] = await nats.connect(
                            rt.nats_servers, user=creds[key]["nats_user"], password=creds[key]["nats_password"],
                            inbox_prefix=creds[key]["nats_inbox_prefix"],
                        )
                    duplicate = (await Publisher(connections[key]).publish(step.event)).duplicate
                outcome["already stored" if duplicate else f"via {step.via}"] += 1
    finally:
        for nc in connections.values():
            await nc.close()
    return {
        "events": len(steps),
        "agencies": len(creds),
        **outcome,
        "provinces": sorted({s.province for s in steps}),
        "dashboard": f"{base}/",
    }
