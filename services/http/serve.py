"""The HTTP service as `doingoai up` runs it: `DOINGOAI_HTTP_WORKERS` processes in all (`up`'s own and
the others it supervises). With more than one, each listens on the address with a socket of its own
(`SO_REUSEPORT`: the kernel hands each new connection to one of them, by a hash of its addresses;
`up` binds first, so a port another program holds stops it before anything starts), and the
connections a worker holds over its share are sent elsewhere (`services.http.spread`). Each worker
has its own NATS connection and Publisher, whose group commit gathers that worker's concurrent
requests, its own connections to PostgreSQL and its own caches; what the limits and the session
cache of one learn, the others are told (`services.http.peers`); the embedded servers' health, which
`up` keeps, reaches them through `health.json` in the data directory.

    python -m services.http.serve [--health]   # (started by `up`) one more worker on DOINGOAI_HTTP
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys

import structlog
import uvicorn
from fastapi import FastAPI
from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from services.embedded.health import MIB, Health
from services.http.app import create_app, served
from services.http.limits import Limits, RejectedQuota
from services.http.lookup import CoalescingLookup
from services.http.peers import Peers
from services.runtime import Runtime
from services.settings import Settings, Unreachable

log = structlog.get_logger(__name__)
HEALTH_FILE = "health.json"
HEALTH_READ_S = 0.5
"""How often a worker reads the health `up` keeps (its keeper looks every second)."""


class Server(uvicorn.Server):
    """uvicorn without its own signal handling: the process that runs it owns the shutdown."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def,override]
        yield


def http_app(settings: Settings, engine: AsyncEngine, nc: Client, lookup: CoalescingLookup,
             health: Health | None) -> FastAPI:
    """The application every worker serves, from the settings."""
    return create_app(engine, nc, lookup=lookup, hosts=settings.hosts, docs=settings.api_docs,
                      limits=Limits(RejectedQuota(settings.rejected_quota_bytes)), sso=settings.oidc,
                      attachment_max_bytes=settings.attachment_max_bytes, health=health)


async def join_peers(app: FastAPI, nc: Client, workers: int) -> Peers:
    """Have the application's limits and session caches shared with the other workers (`workers` in
    all), and its connections spread over them."""
    st = app.state.doingoai
    st.peers = await Peers.join(nc, st.limits, st.spread, workers)
    return st.peers  # type: ignore[no-any-return]


def server(app: FastAPI) -> Server:
    """uvicorn serving `app` as `served` has it (POST /events ahead of it); no access log (what
    `log_level` would drop anyway, at a cost per request)."""
    return Server(uvicorn.Config(served(app), log_level="warning", access_log=False))


def listen(settings: Settings, *, reuse_port: bool = False) -> list[socket.socket]:
    """The listening sockets of `DOINGOAI_HTTP` (each address its host names), with `reuse_port` in
    the group of every worker's; Unreachable, in one line, if one cannot be had (e.g. another program
    holds the port)."""
    host, port = settings.http_host_port
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise Unreachable(f"DOINGOAI_HTTP: {host}: {exc}") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys((f, k, p, c, a) for f, k, p, c, a in found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(2048)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise Unreachable(f"DOINGOAI_HTTP: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sockets


async def publish_health(health: Health, stop: asyncio.Event) -> None:
    """(`up`) Write the problems its keeper finds into `health.json` whenever they change."""
    path, written = health.path / HEALTH_FILE, None
    while not stop.is_set():
        if health.problems != written:
            written = dict(health.problems)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(written))
            os.replace(tmp, path)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEALTH_READ_S / 2)


async def read_health(health: Health, stop: asyncio.Event) -> None:
    """(a worker) Keep `health.problems` as `up` last wrote them."""
    path = health.path / HEALTH_FILE
    while not stop.is_set():
        with contextlib.suppress(OSError, ValueError):
            health.problems = json.loads(path.read_text())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEALTH_READ_S)


def worker_argv(health: Health | None) -> list[str]:
    return [sys.executable, "-m", "services.http.serve", *(["--health"] if health is not None else [])]


async def worker(with_health: bool) -> None:
    """(a worker process) Serve DOINGOAI_HTTP until SIGTERM; `with_health`: read the health of the
    embedded servers that `up` keeps."""
    from services.db import make_engine
    from services.settings import load

    settings = load()
    sockets = listen(settings, reuse_port=True)
    rt = Runtime(settings, nats_servers=settings.nats_servers, database_url=settings.database_url or "",
                 nats_user=settings.nats_user, nats_password=settings.nats_password)
    engine = make_engine(rt.database_url, pool_size=10)
    nc = await rt.connect_nats(f"doingoai-http-{os.getpid()}")
    lookup = CoalescingLookup(engine, window_s=settings.dedup_window_s)
    health = Health(settings.data_dir, settings.disk_reserve_mb * MIB) if with_health else None
    app = http_app(settings, engine, nc, lookup, health)
    stop = asyncio.Event()
    peers = await join_peers(app, nc, settings.http_workers)
    web = server(app)
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(web.serve(sockets=sockets))]
    if health is not None:
        tasks.append(asyncio.create_task(read_health(health, stop)))
    try:
        while not web.started:
            if tasks[0].done():
                break
            await asyncio.sleep(0.05)
        peers.say_serving()  # `up` serves once every worker does
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([tasks[0], stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
    finally:
        stop.set()
        web.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        await peers.leave()
        await nc.drain()
        await engine.dispose()


if __name__ == "__main__":
    from services import event_loop, logs
    from services.gc_tuning import tune_gc

    logs.configure(service=True)
    tune_gc()
    event_loop.run(worker("--health" in sys.argv[1:]))
