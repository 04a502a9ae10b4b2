"""`doingoai up`: the whole system in one command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from functools import partial

import structlog

from services.db import make_engine
from services.embedded.health import MIB, Health
from services.embedded.keeper import Keeper
from services.http.lookup import CoalescingLookup, serve_lookup
from services.http.peers import Peers
from services.http.serve import HEALTH_FILE, http_app, join_peers, listen, publish_health, worker_argv
from services.http.serve import server as http_server
from services.runtime import Runtime
from services.settings import Settings, Unreachable
from services.supervisor import Supervised

log = structlog.get_logger(__name__)
WORKERS_START_S = 60.0
"""How long `up` waits for its other HTTP workers to serve before it serves (and says it runs) itself."""


def write_runtime_file(rt: Runtime, **extra: object) -> None:
    path = rt.settings.data_dir / "runtime.json"
    info = {"nats_url": rt.nats_url, "database_url": rt.database_url, "http": rt.settings.http, "pid": os.getpid()}
    if path.exists():
        with contextlib.suppress(ValueError):
            info = {**json.loads(path.read_text()), **info}
    info.update(extra)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:  # it holds the database URL with its password: the owner's alone
        out.write(json.dumps(info, indent=2))
    os.chmod(path.with_suffix(".tmp"), 0o600)
    os.replace(path.with_suffix(".tmp"), path)


class AlreadyRunning(Unreachable):
    """Another `doingoai up` runs on this data directory."""


def lock_data_dir(settings: Settings) -> object:
    """Hold an exclusive lock on the data directory for the life of this process."""
    import fcntl

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    handle = (settings.data_dir / "up.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise AlreadyRunning(f"doingoai up is already running on {settings.data_dir}") from None
    return handle


def note_worker(rt: Runtime, n: int, pid: int) -> None:
    write_runtime_file(rt, **{"worker_pid" if n == 0 else f"worker_pid_{n}": pid})


def note_http_worker(rt: Runtime, n: int, pid: int) -> None:
    write_runtime_file(rt, **{f"http_worker_pid_{n}": pid})


async def serving(peers: Peers, others: int, stop: asyncio.Event) -> None:
    """Until `others` other HTTP workers serve, WORKERS_START_S at most, or `up` is stopped."""
    waiting, stopping = asyncio.create_task(peers.wait_serving(others)), asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([waiting, stopping], timeout=WORKERS_START_S, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    stopping.cancel()
    if not done:
        log.warning("up.http_workers_late", serving=len(peers.serving) + 1, wanted=others + 1)


async def up(settings: Settings) -> None:
    lock = lock_data_dir(settings)  # noqa: F841  (held until the process exits)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sockets = listen(settings, reuse_port=settings.http_workers > 1)  # first: a port another program holds stops it
    try:
        rt = await Runtime(settings).start()
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    engine = make_engine(rt.database_url, pool_size=10)
    nc = await rt.connect_nats("doingoai-http")
    host, port = settings.http_host_port
    lookup = CoalescingLookup(engine, window_s=settings.dedup_window_s)  # the HTTP service's and the NATS one
    embedded = rt.embedded_nats is not None or rt.embedded_postgres is not None
    health = Health(settings.data_dir, settings.disk_reserve_mb * MIB) if embedded else None
    app = http_app(settings, engine, nc, lookup, health)
    server = http_server(app)
    write_runtime_file(rt)
    workers = [
        Supervised(
            f"projector-{n}",
            [sys.executable, "-m", "services.cli.main", "worker"],
            rt.child_env(),
            on_start=partial(note_worker, rt, n),
        )
        for n in range(settings.workers)
    ]
    workers += [  # the other HTTP workers, on the same address
        Supervised(f"http-{n}", worker_argv(health), rt.child_env(), on_start=partial(note_http_worker, rt, n))
        for n in range(1, settings.http_workers)
    ]
    tasks: list[asyncio.Task[None]] = []
    try:
        await serve_lookup(nc, engine, lookup)
        peers = await join_peers(app, nc, settings.http_workers) if settings.http_workers > 1 else None
        tasks = [asyncio.create_task(w.run(stop)) for w in workers]
        if health is not None:
            keeper = Keeper(health, rt.embedded_nats, rt.embedded_postgres)
            tasks.append(asyncio.create_task(keeper.run(stop)))
            if settings.http_workers > 1:
                tasks.append(asyncio.create_task(publish_health(health, stop)))
        if peers is not None:  # the other HTTP workers serve first: the address answers with all of them
            await serving(peers, settings.http_workers - 1, stop)
        tasks.insert(0, asyncio.create_task(server.serve(sockets=sockets)))
        while not server.started:
            if tasks[0].done():
                tasks[0].result()
            await asyncio.sleep(0.05)
        print(f"doingoai đang chạy — bảng điều phối: http://{host}:{port}/", flush=True)
        print(f"NATS: {rt.nats_url}  (dữ liệu: {settings.data_dir})", flush=True)
        await stop.wait()
    finally:
        log.info("up.stopping")
        stop.set()
        server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        await nc.drain()
        await engine.dispose()
        for sock in sockets:
            sock.close()
        rt.stop()
        (settings.data_dir / "runtime.json").unlink(missing_ok=True)
        (settings.data_dir / HEALTH_FILE).unlink(missing_ok=True)
        log.info("up.stopped")
