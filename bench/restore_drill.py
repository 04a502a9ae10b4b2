"""The restore drill, timed: fill a system, back it up while it runs, restore the backup into an
empty data directory, start it, verify its audit trail and compare its stream and read models.

    .venv/bin/python -m bench.restore_drill --demo              # the demo scenario
    .venv/bin/python -m bench.restore_drill --events 200000     # bulk events (publish_many)

Prints a Markdown table of the steps and their seconds (docs/backup-restore.md keeps the figures).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from schemas.codec import encode
from services import event_loop
from services.db import make_engine
from services.embedded.ports import free_port
from services.replay import table_checksums
from services.store import EVENTS_STREAM
from services.store.publisher import Publisher
from tests.support import System, new_system, sample

CHUNK = 20_000


async def fill(system: System, events: int) -> None:
    nc = await system.service_nats()
    try:
        publisher = Publisher(nc, lookup=False)
        for start in range(0, events, CHUNK):
            batch = [encode(sample("activity_held" if k % 3 else "delegation_received"))
                     for k in range(start, min(events, start + CHUNK))]
            await publisher.publish_many(batch)
    finally:
        await nc.close()


async def facts(system: System) -> tuple[int, dict[str, str]]:
    nc = await system.service_nats()
    try:
        last = (await nc.jetstream().stream_info(EVENTS_STREAM)).state.last_seq
    finally:
        await nc.close()
    engine = make_engine(system.runtime()["database_url"], pool_size=1)
    try:
        async with engine.connect() as conn:
            return last, await table_checksums(conn)
    finally:
        await engine.dispose()


def timed(steps: list[tuple[str, float]], name: str, started: float) -> None:
    steps.append((name, time.monotonic() - started))
    print(f"{name}: {steps[-1][1]:.1f} s", file=sys.stderr, flush=True)


def command(system: System, *args: str) -> dict[str, object]:
    """`doingoai ARGS` against `system`, as long as it takes; its JSON answer, if any."""
    done = subprocess.run([sys.executable, "-m", "services.cli.main", *args], env=system.env(),
                          capture_output=True, text=True, timeout=4 * 3600)
    if done.returncode != 0:
        raise SystemExit(f"doingoai {args[0]} failed: {done.stderr}")
    print(done.stdout, file=sys.stderr, flush=True)
    return json.loads(done.stdout) if done.stdout.lstrip().startswith("{") else {}


async def drill(base: Path, *, demo: bool, events: int) -> None:
    steps: list[tuple[str, float]] = []
    original = new_system(base, DOINGOAI_ESCALATIONS="false")
    restored = System(base / "restored", free_port(), env_extra={"DOINGOAI_ESCALATIONS": "false"})
    try:
        original.start(timeout=300)
        started = time.monotonic()
        if demo:
            command(original, "demo")
        if events:
            await fill(original, events)
        last, _ = await facts(original)
        original.wait_projected(last, timeout=7200)
        timed(steps, f"fill and project ({last} messages)", started)
        last, sums = await facts(original)

        started = time.monotonic()
        taken = command(original, "backup", "--out", str(base / "backup"))
        timed(steps, f"`doingoai backup` (system running; dump {taken['database_s']} s)", started)
        size = int(taken["bytes"])  # type: ignore[call-overload]
        original.stop()

        started = time.monotonic()
        put = command(restored, "restore", "--from", str(base / "backup"))
        timed(steps, f"`doingoai restore` (schema {put['database_s']} s, streams {put['streams_s']} s)", started)
        started = time.monotonic()
        restored.start(timeout=600)
        timed(steps, "`doingoai up` until healthy", started)
        started = time.monotonic()
        command(restored, "audit", "verify", "--wait", "3600")
        timed(steps, "`doingoai audit verify`", started)
        again, same = await facts(restored)
        if (again, same) != (last, sums):
            raise SystemExit(f"the restored system differs: last_seq {again} vs {last}")
    finally:
        restored.stop()
        original.stop()
    print(f"| step ({'demo' if demo else f'{events:,} events'}; backup {size / 1e6:.1f} MB) | seconds |")
    print("|---|---:|")
    for name, seconds in steps:
        print(f"| {name} | {seconds:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="publish the demo scenario")
    parser.add_argument("--events", type=int, default=0, help="bulk events to publish")
    parser.add_argument("--keep", type=Path, default=None, help="work in this directory and keep it")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        event_loop.run(drill(args.keep, demo=args.demo, events=args.events))
        return
    base = Path(tempfile.mkdtemp(prefix="doingoai-drill-"))
    try:
        event_loop.run(drill(base, demo=args.demo, events=args.events))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
