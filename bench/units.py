"""The projection as two partitioned workers run it (`DOINGOAI_PARTITIONS` > 1), for `bench.run`.

Two processes, each one unit of `services.worker.Units`, as two workers hold them for a stream
of one province: `global` (the audit chain, and the rare message with no province) and the
province's unit (every other projection). Both start together once both are ready; the time runs
until both checkpoints reach the stream's last sequence.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import asyncpg

from bench.ours import attach, child_env, child_profile, emit
from bench.refs import _dsn
from services import event_loop
from services.runtime import Runtime


async def unit_child(unit: str, schema: str) -> None:
    """(child) Run `unit` on `schema` from the first line on stdin until stdin closes."""
    from services.db import make_engine
    from services.worker import Units

    rt = attach()
    nc = await rt.connect_nats(f"bench-unit-{unit}")
    engine = make_engine(rt.database_url, schema, pool_size=3, pre_ping=False)  # as the worker's
    stop = asyncio.Event()
    units = Units(rt, engine, nc.jetstream(), nc, stop)
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    emit({"ready": unit})
    await reader.readline()
    with child_profile():
        task = asyncio.create_task(units.run(unit))
        await reader.readline()  # end of input: stop
        stop.set()
        await task
    await nc.close()
    await engine.dispose()


async def two_workers(rt: Runtime, province: str, last: int) -> float:
    """events/s of the `global` unit and `province`'s unit in two processes, from their start
    together until both checkpoints reach `last` (the stream holds that province's events only)."""
    from projections.engine.partitions import province_unit
    from services.db.migrate import migrate

    schema = "bench_units"
    await migrate(rt.database_url, schema)
    env = {**child_env(rt, "units"), "DOINGOAI_PARTITIONS": "2", "DOINGOAI_ESCALATIONS": "false"}
    log = (rt.settings.data_dir / "units.log").open("ab")
    children = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.units", unit, schema, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log) for unit in ("global", province_unit(province))]
    conn = await asyncpg.connect(_dsn(rt.database_url))
    try:
        for child in children:
            assert child.stdout is not None
            while b'"ready"' not in (line := await child.stdout.readline()):
                if not line:
                    raise RuntimeError(f"a unit child exited ({await child.wait()})")
        started = time.perf_counter()
        for child in children:
            assert child.stdin is not None
            child.stdin.write(b"go\n")
        while True:
            marks = await conn.fetch(f"SELECT last_seq FROM {schema}.checkpoints")
            if len(marks) >= 2 and all(m["last_seq"] >= last for m in marks):
                break
            if any(child.returncode is not None for child in children):
                raise RuntimeError("a unit child exited before the end")
            await asyncio.sleep(0.02)
        seconds = time.perf_counter() - started
    finally:
        await conn.close()
        for child in children:
            if child.stdin is not None:
                child.stdin.close()
        await asyncio.gather(*(child.wait() for child in children))
    return last / seconds


if __name__ == "__main__":
    import structlog

    from services.gc_tuning import tune_gc

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    tune_gc()  # as the `doingoai` processes run
    event_loop.run(unit_child(sys.argv[1], sys.argv[2]))
