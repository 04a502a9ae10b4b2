"""Ingest alone: the HTTP ingest targets and the figures they are set against, in one shorter run.

    .venv/bin/python -m bench.ingest [--scale 0.25] [--rounds 3] [--profile DIR] [--http-workers N]

Starts the embedded stack as `bench.run` does and measures, round after round on the same servers:
our NATS ingest with 8 publishers, the peer's one `save()` per event, `publish_many` in atomic
batches of 1,000, and `POST /events` with single events (8 clients) and batches of 100 (4 clients),
the HTTP service started as `doingoai up` serves it. Each figure keeps its best round; the rows are
those of `bench.run`'s table that concern ingest.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench import ours, refs
from bench.peer import peer
from bench.run import ROUNDS, keep, log
from services import event_loop
from services.credentials import issue
from services.db import make_engine
from services.embedded.ports import free_port
from services.gc_tuning import tune_gc
from services.http.lookup import CoalescingLookup
from services.runtime import Runtime
from services.settings import Settings
from services.store.publisher import Publisher


async def measure(scale: float, rounds: int, http_workers: int | None) -> dict[str, float]:
    n = {k: max(200, int(v * scale)) for k, v in dict(conc=6000, bulk=10000, http1=3000, peer1=3000).items()}
    f: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="doingoai-bench-") as tmp:
        os.environ["DOINGOAI_DATA_DIR"] = tmp
        rt = await Runtime(Settings(data_dir=Path(tmp))).start()
        nc = await rt.connect_nats("bench")
        engine = make_engine(rt.database_url, pool_size=4)
        conns = [await rt.connect_nats(f"bench-{k}") for k in range(8)]
        http = None
        try:
            corpus = refs.Corpus()
            lookup = CoalescingLookup(engine, window_s=rt.settings.dedup_window_s)
            publisher = Publisher(nc, lookup=lookup)
            publishers = [Publisher(c, lookup=lookup) for c in conns]
            token = (await issue(engine, "ha-tinh", "so-ngoai-vu"))["token"]
            port = free_port()
            http = ours.start_http(rt, port, http_workers)
            await ours.http_ingest(port, token, corpus.take(64), 1, 8)  # warm-up
            for r in range(rounds):
                log(f"round {r + 1} of {rounds}")
                keep(f, "ours_8", await ours.concurrent(publishers, corpus.take(n["conc"])))
                keep(f, "ours_atomic", await ours.bulk(publisher, corpus.take(n["bulk"]), 1000))
                keep(f, "http_1", await ours.http_ingest(port, token, corpus.take(n["http1"]), 1, 8))
                keep(f, "http_100", await ours.http_ingest(port, token, corpus.take(n["bulk"]), 100, 4))
                p = await peer(rt.database_url, corpus.take(n["peer1"]), corpus.take(200), batch=200)
                keep(f, "peer_single", p["single"])
                log(", ".join(f"{k} {v:,.0f}/s" for k, v in f.items()))
        finally:
            if http is not None:
                ours.stop_http(http)
            for c in conns:
                await c.close()
            await nc.close()
            await engine.dispose()
            rt.stop()
    return f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.25, help="multiply every event count")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--http-workers", type=int, help="DOINGOAI_HTTP_WORKERS of the HTTP service")
    parser.add_argument("--profile", type=Path, help="write the HTTP service's pyinstrument profile here")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        ours.PROFILE_DIR = args.profile.resolve()
    tune_gc()
    started = time.perf_counter()
    f = event_loop.run(measure(args.scale, args.rounds, args.http_workers))
    load = os.getloadavg()
    print(f"\nscale {args.scale:g}; {os.cpu_count()} CPUs; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"{time.perf_counter() - started:.0f} s in all; HTTP workers {args.http_workers or 'default'}")
    for k, v in f.items():
        print(f"{k:12} {v:10,.0f}/s")
    print(f"http_1 / peer_single {f['http_1'] / f['peer_single']:.2f}x; http_1 / ours_8 {f['http_1'] / f['ours_8']:.2f}x; "
          f"http_100 / ours_atomic {f['http_100'] / f['ours_atomic']:.2f}x")


if __name__ == "__main__":
    main()
