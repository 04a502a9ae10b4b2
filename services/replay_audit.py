"""The audit chain of a replay, rebuilt in a process of its own while the replaying process
applies every other projection (see `services.replay`).

    python -m services.replay_audit SCHEMA --last-seq N [--from-seq N] [--as-of TIME] [--batch N] [--nice N]

It attaches with the environment it is given (DOINGOAI_NATS_URL, DOINGOAI_NATS_USER/_PASSWORD,
DOINGOAI_DATABASE_URL, and the settings that name the audit signing key), chains the events
stream's messages `--from-seq`..`--last-seq` (recorded up to `--as-of`) into SCHEMA's audit trail
under the checkpoint `AUDIT_CONSUMER` (the one partitioned workers give their `global` unit), and
prints one JSON line: {"events", "peak_rss_mb", "nice"}. With `--nice N` it first lowers its own
CPU priority by N (where the system has priorities); "nice" is the niceness it ran at.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
from datetime import datetime

from projections.engine.partitions import AUDIT_CONSUMER
from projections.engine.replay import replay_stream
from projections.models.handlers import AuditOnly
from services import event_loop, logs
from services.audit_keys import audit_trail
from services.db import make_engine
from services.gc_tuning import tune_gc
from services.settings import load
from services.store import EVENTS_STREAM, EVENTS_SUBJECTS
from services.store.connect import connect


async def rebuild(schema: str, *, from_seq: int, last_seq: int, as_of: datetime | None, batch_size: int) -> int:
    """Chain the messages into `schema`'s audit trail; how many were applied."""
    settings = load()
    if not settings.database_url:
        raise SystemExit("DOINGOAI_DATABASE_URL is not set")
    nc = await connect(settings.nats_servers, user=settings.nats_user, password=settings.nats_password,
                       name="doingoai-replay-audit")
    engine = make_engine(settings.database_url, schema, pool_size=2, pre_ping=False)
    try:
        count, _ = await replay_stream(
            nc, engine, EVENTS_STREAM, EVENTS_SUBJECTS, AuditOnly(audit_trail(settings)), AUDIT_CONSUMER,
            from_seq=from_seq, as_of=as_of, batch_size=batch_size, last_seq=last_seq,
        )
    finally:
        await engine.dispose()
        await nc.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.replay_audit")
    parser.add_argument("schema")
    parser.add_argument("--last-seq", type=int, required=True)
    parser.add_argument("--from-seq", type=int, default=1)
    parser.add_argument("--as-of", type=datetime.fromisoformat, default=None)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--nice", type=int, default=0)
    args = parser.parse_args()
    nice = os.nice(args.nice) if hasattr(os, "nice") else 0
    logs.configure()  # on stderr: stdout carries the result
    tune_gc()
    count = event_loop.run(rebuild(args.schema, from_seq=args.from_seq, last_seq=args.last_seq, as_of=args.as_of,
                                   batch_size=args.batch))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"events": count, "peak_rss_mb": round(peak_mb), "nice": nice}), flush=True)


if __name__ == "__main__":
    main()
