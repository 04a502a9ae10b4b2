"""Our paths: the publisher library over NATS, POST /events over HTTP, the projection runner,
publish->visible latency, and a replay in a child process.

    python -m bench.ours serve PORT      # (child) the HTTP service attached to a running stack
    python -m bench.ours project BACKLOG BATCH   # (child) the projection worker, timed
    python -m bench.ours replay SCHEMA   # (child) replay into SCHEMA, print its figures as JSON
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import httpx
from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.refs import Item
from projections.engine.batch import classify, decode_messages
from projections.engine.runner import Runner
from projections.engine.stream_reader import read_batches
from projections.models.catalogue import all_projections
from projections.models.handlers import events_handler
from services import event_loop
from services.db import make_engine
from services.runtime import Runtime
from services.settings import Settings
from services.store import EVENTS_STREAM, EVENTS_SUBJECTS
from services.store.publisher import Publisher

PROFILE_DIR: Path | None = None
"""Set by `bench.run --profile`: each child writes its pyinstrument profile there."""


def child_env(rt: Runtime, name: str) -> dict[str, str]:
    env = rt.child_env()
    if PROFILE_DIR is not None:
        env["BENCH_PROFILE"] = str(PROFILE_DIR / name)
    return env


async def sequential(publisher: Publisher, items: Sequence[Item]) -> float:
    """await publish() of one event at a time; events/s."""
    t0 = time.perf_counter()
    for _, raw, _ in items:
        await publisher.publish(raw)
    return len(items) / (time.perf_counter() - t0)


async def concurrent(publishers: Sequence[Publisher], items: Sequence[Item]) -> float:
    """One task per publisher, each publishing its share one at a time; events/s."""
    t0 = time.perf_counter()
    await asyncio.gather(*(sequential(p, items[k::len(publishers)]) for k, p in enumerate(publishers)))
    return len(items) / (time.perf_counter() - t0)


async def shared(publisher: Publisher, items: Sequence[Item], callers: int) -> float:
    """`callers` tasks sharing one Publisher (one connection), each publishing its share one at a
    time, as the request handlers of a service do: the Publisher's group commit sees them all."""
    return await concurrent([publisher] * callers, items)


async def bulk(publisher: Publisher, items: Sequence[Item], window: int) -> float:
    """publish_many: validated, looked up, stored `window` at a time (atomic batches where the
    Publisher and the stream allow them, else pipelined publishes); events/s."""
    t0 = time.perf_counter()
    results = await publisher.publish_many([raw for _, raw, _ in items], window=window)
    assert not any(r.duplicate for r in results)
    return len(items) / (time.perf_counter() - t0)


async def batches(publisher: Publisher, items: Sequence[Item], size: int, callers: int) -> float:
    """`callers` tasks sharing one Publisher, each storing one batch of `size` events at a time with
    `publish_many` (as the HTTP service stores a batched request); events/s."""
    chunks = [[raw for _, raw, _ in items[k:k + size]] for k in range(0, len(items), size)]

    async def caller(mine: Sequence[list[bytes]]) -> None:
        for chunk in mine:
            await publisher.publish_many(chunk)

    t0 = time.perf_counter()
    await asyncio.gather(*(caller(chunks[k::callers]) for k in range(callers)))
    return len(items) / (time.perf_counter() - t0)


# --- HTTP ------------------------------------------------------------------------------------

def start_http(rt: Runtime, port: int, workers: int | None = None) -> subprocess.Popen[bytes]:
    """The HTTP service (create_app under uvicorn) in a child process, as `doingoai up` serves it."""
    log = (rt.settings.data_dir / "http.log").open("ab")
    env = child_env(rt, "http_server")
    if workers is not None:
        env["DOINGOAI_HTTP_WORKERS"] = str(workers)
    child = subprocess.Popen([sys.executable, "-m", "bench.ours", "serve", str(port)], env=env,
                             stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return child
        except httpx.HTTPError:
            time.sleep(0.2)
    child.kill()
    raise RuntimeError("the HTTP service did not start")


def stop_http(child: subprocess.Popen[bytes]) -> None:
    child.terminate()
    try:
        child.wait(60)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


@contextlib.asynccontextmanager
async def embedded_stack(prefix: str, client: str, *,
                         pool_size: int = 2) -> AsyncIterator[tuple[Runtime, Client, AsyncEngine]]:
    """A stack of its own under a temporary data directory (`DOINGOAI_DATA_DIR` meanwhile: everything,
    the audit signing key too, stays in it): the runtime, a NATS connection and a database engine, all
    stopped on the way out."""
    before = os.environ.get("DOINGOAI_DATA_DIR")
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        os.environ["DOINGOAI_DATA_DIR"] = tmp
        try:
            rt = await Runtime(Settings(data_dir=Path(tmp))).start()
            try:
                nc = await rt.connect_nats(client)
                engine = make_engine(rt.database_url, pool_size=pool_size)
                try:
                    yield rt, nc, engine
                finally:
                    await nc.close()
                    await engine.dispose()
            finally:
                rt.stop()
        finally:
            if before is None:
                os.environ.pop("DOINGOAI_DATA_DIR", None)
            else:
                os.environ["DOINGOAI_DATA_DIR"] = before


@contextlib.contextmanager
def http_service(rt: Runtime, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`start_http`, stopped on the way out."""
    child = start_http(rt, port)
    try:
        yield child
    finally:
        stop_http(child)


async def serve(port: int) -> None:
    """(child) The HTTP service as `doingoai up` serves it (`services.http.serve`): this process and,
    with `DOINGOAI_HTTP_WORKERS` > 1, the other workers on the same address."""
    import signal

    from services.db import make_engine
    from services.http.lookup import CoalescingLookup
    from services.http.serve import http_app, join_peers, listen, server, worker_argv

    rt = attach()
    settings = rt.settings.model_copy(update={"http": f"127.0.0.1:{port}"})
    sockets = listen(settings, reuse_port=settings.http_workers > 1)
    env = {**os.environ, "DOINGOAI_HTTP": settings.http}
    others = [subprocess.Popen(worker_argv(None), env=env) for _ in range(1, settings.http_workers)]
    engine = make_engine(rt.database_url, pool_size=10)
    nc = await rt.connect_nats("bench-http")
    app = http_app(settings, engine, nc, CoalescingLookup(engine, window_s=settings.dedup_window_s), None)
    if settings.http_workers > 1:
        await join_peers(app, nc, settings.http_workers)
    web = server(app)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: setattr(web, "should_exit", True))
    try:
        with child_profile():
            await web.serve(sockets=sockets)
    finally:
        for child in others:
            child.terminate()
        for child in others:
            child.wait(30)


def save_profile(profiler, base: str) -> None:  # type: ignore[no-untyped-def]
    Path(base + ".txt").write_text(profiler.output_text(unicode=True))
    Path(base + ".html").write_text(profiler.output_html())


def child_profile() -> contextlib.AbstractContextManager[None]:
    """pyinstrument over the block when BENCH_PROFILE names a file (without extension)."""
    return profile_to(os.environ.get("BENCH_PROFILE"))


@contextlib.contextmanager
def profile_to(base: str | None) -> Iterator[None]:
    """Sample this process's thread (every task) with pyinstrument, saved under `base`, if given."""
    if not base:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        save_profile(profiler, base)


def emit(figures: dict[str, object]) -> None:
    """(child) One result line for the parent; the child's logs go to stderr (see __main__)."""
    print(json.dumps({"bench": figures}), flush=True)


def attach() -> Runtime:
    s = Settings()
    return Runtime(s, nats_servers=s.nats_servers, database_url=s.database_url or "",
                   nats_user=s.nats_user, nats_password=s.nats_password)


# --- projection ------------------------------------------------------------------------------
# The projection runs in its own process, as the worker does. Its commit times and the parent's
# send times are both time.perf_counter(), CLOCK_MONOTONIC on Linux: one clock for both processes.

class TimedRunner(Runner):
    """A runner that notes when each sequence became visible (its transaction committed)."""

    visible: dict[int, float]

    def _committed(self, todo):  # type: ignore[no-untyped-def]
        super()._committed(todo)
        now = time.perf_counter()
        for m in todo:
            self.visible[m.seq] = now


async def wait_for(runner: Runner, seq: int) -> None:
    while runner.checkpoint < seq:
        await asyncio.sleep(0.002)


async def project_child(backlog: int, batch: int) -> None:
    """(child) A fresh durable runner with every projection: its rate over the backlog, then
    for each `visible N` line on stdin, the commit time of every sequence after the backlog up to N."""
    from services.audit_keys import audit_trail
    from services.db import make_engine

    rt = attach()
    nc = await rt.connect_nats("bench-projector")
    engine = make_engine(rt.database_url, pool_size=3, pre_ping=False)  # as the worker's
    runner = TimedRunner(nc, engine, stream=EVENTS_STREAM, durable="bench_live_v1",  # signing as the worker does
                         handler=events_handler(all_projections(audit_trail(rt.settings))), batch_size=batch)
    runner.visible = {}
    stop = asyncio.Event()
    with child_profile():
        t0 = time.perf_counter()
        task = asyncio.create_task(runner.run(stop))
        await wait_for(runner, backlog)
        emit({"project": backlog / (time.perf_counter() - t0)})
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).split():
        await wait_for(runner, int(line[1]))
        emit({"visible": {s: t for s, t in runner.visible.items() if s > backlog}})
    stop.set()
    await task
    await nc.close()
    await engine.dispose()


class Projector:
    """The parent's side of `project_child`."""

    def __init__(self, child: asyncio.subprocess.Process):
        self.child = child

    @classmethod
    async def start(cls, rt: Runtime, backlog: int, batch: int) -> tuple[Projector, float]:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.ours", "project", str(backlog), str(batch), env=child_env(rt, "projection"),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=(rt.settings.data_dir / "project.log").open("ab"),
            limit=1 << 26)
        me = cls(child)
        return me, float(await me.read("project"))  # type: ignore[arg-type]

    async def read(self, key: str) -> object:
        assert self.child.stdout is not None
        while line := await self.child.stdout.readline():
            if line.startswith(b'{"bench":'):
                return json.loads(line)["bench"][key]
        raise RuntimeError(f"the projection child exited ({await self.child.wait()})")

    async def visible(self, until: int) -> dict[int, float]:
        assert self.child.stdin is not None
        self.child.stdin.write(f"visible {until}\n".encode())
        found = await self.read("visible")
        return {int(k): v for k, v in found.items()}  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self.child.returncode is None and self.child.stdin is not None:
            self.child.stdin.close()  # the child stops its runner and exits
            await self.child.wait()


async def steady(publisher: Publisher, projector: Projector, items: Sequence[Item], rate: int
                 ) -> tuple[list[float], list[float]]:
    """Publish at `rate` events/s (each publish its own task, started on schedule);
    (publish->acknowledged ms, publish->visible ms)."""

    async def one(raw: bytes) -> tuple[int, float, float]:
        t = time.perf_counter()
        result = await publisher.publish(raw)
        return result.sequence, t, time.perf_counter()

    start = time.perf_counter()
    pending = []
    for i, (_, raw, _) in enumerate(items):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.create_task(one(raw)))
    sent = [await fut for fut in pending]
    visible = await projector.visible(max(s for s, _, _ in sent))
    return [(a - t) * 1000 for _, t, a in sent], [(visible[s] - t) * 1000 for s, t, _ in sent]


# --- replay ----------------------------------------------------------------------------------

async def read_and_decode(nc, last_seq: int, batch: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """What the projection and the replay do before any database work, alone: the replay's reader
    over the stream up to `last_seq`, every batch decoded (JSON, envelope and payload validated)
    and classified; (events/s, CPU µs of this process per event). No rows are built or written,
    so a projection of these events in one process cannot go faster."""
    batches = read_batches(nc, EVENTS_STREAM, EVENTS_SUBJECTS, from_seq=1, last_seq=last_seq, batch=batch)
    count = 0
    t0, cpu0 = time.perf_counter(), time.process_time()
    async with contextlib.aclosing(batches):
        async for messages in batches:
            classify(messages, {}, decode_messages(messages))
            count += len(messages)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return count / seconds, cpu / max(count, 1) * 1e6


def run_replay_child(rt: Runtime, schema: str) -> dict[str, float]:
    """`services.replay.replay` in a child process, as `doingoai replay` runs it (the audit
    chain in a process of its own); its figures and the peak RSS of each of the two processes."""
    child = subprocess.Popen([sys.executable, "-m", "bench.ours", "replay", schema], env=child_env(rt, "replay"),
                             stdout=subprocess.PIPE, stderr=(rt.settings.data_dir / "replay.log").open("ab"))
    out = child.communicate()[0].decode()
    if child.returncode != 0:
        raise RuntimeError(f"the replay child failed ({child.returncode})")
    figures: dict[str, float] = json.loads(
        [line for line in out.splitlines() if line.startswith('{"bench":')][-1])["bench"]
    return figures


async def replay_child(schema: str) -> dict[str, object]:
    from services.replay import replay

    rt = attach()
    nc = await rt.connect_nats("bench-replay")
    try:
        with child_profile():
            result = await replay(nc, rt.database_url, schema, child_env=rt.child_env())
    finally:
        await nc.close()
    audit = result.audit_apart or {}
    return {"events": result.events, "seconds": result.seconds, "rate": result.rate,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "audit_rss_mb": float(audit.get("peak_rss_mb", 0))}


if __name__ == "__main__":
    import structlog

    from services.gc_tuning import tune_gc

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    tune_gc()  # as the `doingoai` processes run
    if sys.argv[1] == "serve":
        event_loop.run(serve(int(sys.argv[2])))
    elif sys.argv[1] == "project":
        event_loop.run(project_child(int(sys.argv[2]), int(sys.argv[3])))
    elif sys.argv[1] == "replay":
        emit(event_loop.run(replay_child(sys.argv[2])))
