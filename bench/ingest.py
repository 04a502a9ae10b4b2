"""Ingest alone: the HTTP ingest targets and the figures they are set against, in a shorter run.

    .venv/bin/python -m bench.ingest [--scale 0.25] [--rounds 3] [--profile DIR] [--http-workers N]

Starts the embedded stack as `bench.run` does and measures, round after round on the same servers:
raw nats-py and our NATS ingest with 8 publishers on 8 connections, and 8 callers sharing one
Publisher, `publish_many` in atomic batches of 1,000, `POST /events` with single events (8 clients)
and batches of 100 (4 clients) on the HTTP service as `doingoai up` serves it, and the peer's one
`save()` per event. Each figure keeps its best round; the table holds `bench.run`'s rows of them.
`--profile DIR` writes the HTTP service's pyinstrument profile (its first worker's) into DIR.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from pathlib import Path

from bench import ours, refs
from bench.http_load import http_ingest
from bench.peer import peer
from bench.run import ROUNDS, keep, log
from bench.targets import Table, ingest_labels, ingest_rows
from services import event_loop
from services.credentials import issue
from services.embedded.ports import free_port
from services.gc_tuning import tune_gc
from services.http.lookup import CoalescingLookup
from services.settings import Settings
from services.store.publisher import Publisher

WINDOW = 512
"""`bench.run`'s pipelining window (a label of its references)."""


async def measure(scale: float, rounds: int, http_workers: list[int]) -> dict[str, float]:
    """The figures; with several worker counts, one HTTP service each (on ports of their own), measured
    in turn in every round: `http_1`, `http_100` of the first, `http_1@N`, `http_100@N` of each."""
    n = {k: max(200, int(v * scale)) for k, v in dict(conc=6000, bulk=10000, http1=3000, peer1=3000).items()}
    f: dict[str, float] = {}
    async with ours.embedded_stack("doingoai-bench-", "bench", pool_size=4) as (rt, nc, engine):
        conns = [await rt.connect_nats(f"bench-{k}") for k in range(8)]
        http: dict[int, tuple[int, subprocess.Popen[bytes]]] = {}
        try:
            corpus = refs.Corpus()
            lookup = CoalescingLookup(engine, window_s=rt.settings.dedup_window_s)
            publisher = Publisher(nc, lookup=lookup)
            publishers = [Publisher(c, lookup=lookup) for c in conns]
            token = (await issue(engine, "ha-tinh", "so-ngoai-vu"))["token"]
            for count in http_workers:
                port = free_port()
                http[count] = port, ours.start_http(rt, port, count)
                await http_ingest(port, token, corpus.take(64 * count), 1, 8)  # warm-up
            for r in range(rounds):
                log(f"round {r + 1} of {rounds}")
                keep(f, "raw_8", await refs.raw_connections(conns, corpus.take(n["conc"])))
                keep(f, "ours_8", await ours.concurrent(publishers, corpus.take(n["conc"])))
                keep(f, "shared_8", await ours.shared(publisher, corpus.take(n["conc"]), 8))
                keep(f, "ours_atomic", await ours.bulk(publisher, corpus.take(n["bulk"]), 1000))
                keep(f, "ours_100", await ours.batches(publisher, corpus.take(n["bulk"]), 100, 4))
                for count, (port, _) in http.items():
                    suffix = "" if count == http_workers[0] else f"@{count}"
                    keep(f, "http_1" + suffix, await http_ingest(port, token, corpus.take(n["http1"]), 1, 8))
                    keep(f, "http_100" + suffix, await http_ingest(port, token, corpus.take(n["bulk"]), 100, 4))
                p = await peer(rt.database_url, corpus.take(n["peer1"]), corpus.take(n["bulk"]))
                keep(f, "peer_single", p["single"])
                keep(f, "peer_batched", p["batched"])
                log(", ".join(f"{k} {v:,.0f}/s" for k, v in f.items()))
        finally:
            for _, child in http.values():
                ours.stop_http(child)
            for c in conns:
                await c.close()
    return f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.25, help="multiply every event count")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--http-workers", default=str(Settings().http_workers),
                        help="DOINGOAI_HTTP_WORKERS of the HTTP service; several, comma-separated (e.g. 1,2): one "
                             "service each, measured in turn in every round, the rows of the first in the table")
    parser.add_argument("--profile", type=Path, help="write the HTTP service's pyinstrument profile here")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        ours.PROFILE_DIR = args.profile.resolve()
    tune_gc()
    started = time.perf_counter()
    counts = [int(c) for c in args.http_workers.split(",")]
    f = event_loop.run(measure(args.scale, args.rounds, counts))
    load = os.getloadavg()
    print(f"\nscale {args.scale:g}; {os.cpu_count()} CPUs; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"{time.perf_counter() - started:.0f} s in all; HTTP workers: {counts[0]}\n")
    table = Table(f, ingest_labels(WINDOW))
    ingest_rows(table, WINDOW)
    for count in counts[1:]:
        for mode, clients in (("1", "single events, 8 clients"), ("100", "batches of 100, 4 clients")):
            table.compare(f"the same with {count} HTTP workers: {clients}", f[f"http_{mode}@{count}"],
                          f"{counts[0]} HTTP worker(s)", f[f"http_{mode}"], None)
    print("\n".join(table.markdown()))

if __name__ == "__main__":
    main()
