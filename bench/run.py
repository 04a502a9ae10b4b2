"""Every benchmark in one run, against the physical limit and the Python peer, as a Markdown table.

    .venv/bin/python -m bench.run [--scale 1.0] [--profile DIR] [--http-workers N]

Starts the embedded stack (nats-server with fsync before every ack, PostgreSQL with fsync on) in a
temporary data directory and measures, on the same servers: ingest over NATS with the publisher
library (1 publisher; 8 publishers on 8 connections; 8 and 256 callers sharing one Publisher, its
group commit; publish_many as pipelined publishes and as JetStream atomic batches) and over HTTP
(single events and batches of 100, the service as `doingoai up` serves it, light keep-alive clients),
projection throughput (one runner with every projection, and the two units two partitioned workers
hold, one process each), publish->visible latency at a steady 1,000 events/s, and a replay of 1M
events (x scale) as `doingoai replay` runs it (a child process and its audit-chain process) with
their peak RSS; then the references — raw nats-py publish/consume of the same bytes, PostgreSQL COPY
of the same rows — and the peer, the `eventsourcing` library on the same PostgreSQL. `--profile DIR`
also writes pyinstrument profiles of the ingest, HTTP, projection and replay paths into DIR.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import ours, refs, units
from bench.http_load import http_ingest
from bench.peer import peer
from bench.targets import Table, ingest_labels, ingest_rows, rate
from services import event_loop
from services.credentials import issue
from services.db import DEFAULT_SCHEMA
from services.embedded.ports import free_port
from services.gc_tuning import tune_gc
from services.http.lookup import CoalescingLookup
from services.settings import Settings
from services.store import EVENTS_STREAM
from services.store.publisher import Publisher

PROFILE: Path | None = None
ROUNDS = 3
"""Ingest and peer measurements are short and the machine may be shared: best of ROUNDS each."""


def keep(figures: dict[str, float], key: str, value: float) -> None:
    figures[key] = max(figures.get(key, 0.0), value)


def profiled(name: str | None) -> contextlib.AbstractContextManager[None]:
    """Sample this process's thread (every task) with pyinstrument while the block runs."""
    return ours.profile_to(str(PROFILE / name) if PROFILE is not None and name is not None else None)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


WARM_UP_S = 2
"""Seconds at the steady rate before publish->visible is measured (not counted)."""


SETTLE = ("VACUUM (ANALYZE)", "CHECKPOINT")
"""What `settle` runs, in this order."""


async def settle(engine: AsyncEngine) -> None:
    """Pay now, not under the next measurement, what the phases before left to do: a VACUUM (ANALYZE)
    of the tables they filled, which autovacuum would otherwise go over meanwhile, then a checkpoint,
    so that the pages left dirty are written (each skipped where the role may not run it)."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        busy = await conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"))
        log(f"autovacuum workers at work: {busy}")
        for statement in SETTLE:
            t0 = time.perf_counter()
            try:
                await conn.execute(text(statement))
            except DBAPIError as exc:
                log(f"no {statement}: {exc.orig!r}")
            else:
                log(f"{statement}: {time.perf_counter() - t0:.1f} s")


async def last_seq(js) -> int:  # type: ignore[no-untyped-def]
    return int((await js.stream_info(EVENTS_STREAM)).state.last_seq)


async def measure(scale: float) -> tuple[dict[str, float], dict[str, object]]:
    n = {k: max(200, int(v * scale)) for k, v in dict(
        seq=3000, conc=6000, bulk=10000, http1=3000, peer1=3000, replay=1_000_000).items()}
    window, batch, rate = 512, Settings().projection_batch, 1000
    seconds = max(3, round(10 * min(scale, 1.0)))
    f: dict[str, float] = {}
    info: dict[str, object] = {"window": window, "batch": batch, "rate": rate, "seconds": seconds, **n}
    async with ours.embedded_stack("doingoai-bench-", "bench", pool_size=4) as (rt, nc, engine):
        js = nc.jetstream()
        conns = [await rt.connect_nats(f"bench-{k}") for k in range(8)]
        http, projector = None, None
        try:
            info["atomic"] = bool((await js.stream_info(EVENTS_STREAM)).config.allow_atomic)  # ensure_streams
            corpus = refs.Corpus()
            lookup = CoalescingLookup(engine, window_s=rt.settings.dedup_window_s)
            publisher = Publisher(nc, lookup=lookup)
            pipelined = Publisher(nc, lookup=lookup, atomic=False)  # publish_many as without atomic batches

            publishers = [Publisher(c, lookup=lookup) for c in conns]
            for r in range(ROUNDS):  # raw and ours alternate; each keeps its best round
                log(f"ingest over NATS, round {r + 1} of {ROUNDS}")
                keep(f, "raw_seq", await refs.raw_sequential(nc, corpus.take(n["seq"])))
                with profiled("ingest_publish" if r == 0 else None):
                    keep(f, "ours_seq", await ours.sequential(publisher, corpus.take(n["seq"])))
                keep(f, "raw_8", await refs.raw_connections(conns, corpus.take(n["conc"])))
                keep(f, "ours_8", await ours.concurrent(publishers, corpus.take(n["conc"])))
                keep(f, "shared_8", await ours.shared(publisher, corpus.take(n["conc"]), 8))
                with profiled("ingest_group_commit" if r == 0 else None):
                    keep(f, "shared_256", await ours.shared(publisher, corpus.take(n["bulk"]), 256))
                keep(f, "raw_pipe", await refs.raw_pipelined(nc, corpus.take(n["bulk"]), window))
                keep(f, "ours_bulk", await ours.bulk(pipelined, corpus.take(n["bulk"]), window))
                if info["atomic"]:
                    keep(f, "raw_atomic", await refs.raw_atomic(nc, corpus.take(n["bulk"])))
                    with profiled("ingest_publish_many" if r == 0 else None):
                        keep(f, "ours_atomic", await ours.bulk(publisher, corpus.take(n["bulk"]), 1000))
                    keep(f, "ours_100", await ours.batches(publisher, corpus.take(n["bulk"]), 100, 4))

            log("ingest over HTTP")
            token = (await issue(engine, "ha-tinh", "so-ngoai-vu"))["token"]
            port = free_port()
            http = ours.start_http(rt, port)
            await http_ingest(port, token, corpus.take(64), 1, 8)  # warm-up: connections, first requests
            for _ in range(ROUNDS):
                keep(f, "http_1", await http_ingest(port, token, corpus.take(n["http1"]), 1, 8))
                keep(f, "http_100", await http_ingest(port, token, corpus.take(n["bulk"]), 100, 4))
            http.terminate()
            http.wait(60)
            http = None

            for r in range(ROUNDS):
                log(f"the peer (eventsourcing), round {r + 1} of {ROUNDS}")
                p = await peer(rt.database_url, corpus.take(n["peer1"]), corpus.take(n["bulk"]))
                for k, v in p.items():
                    keep(f, f"peer_{k}", v)

            backlog = await last_seq(js)
            info["backlog"] = backlog
            log(f"projection of the {backlog:,}-event backlog and its limits")
            f["raw_pull"] = await refs.raw_pull(nc, 1, backlog, batch)
            f["copy_live"] = await refs.copy_rows(rt.database_url, refs.row_chunks(corpus, 0, backlog), "bench_copy")
            projector, f["project"] = await ours.Projector.start(rt, backlog, batch)
            async with engine.connect() as conn:  # every event projected once, none refused
                info["indexed"] = await conn.scalar(text("SELECT count(*) FROM events"))
                info["refused"] = await conn.scalar(text("SELECT count(*) FROM rejected"))
            f["copy_live_all"], info["rows_live"] = await refs.copy_same_rows(
                rt.database_url, DEFAULT_SCHEMA, backlog, rt.settings.data_dir)

            log(f"publish->visible at {rate}/s for {seconds} s (after VACUUM (ANALYZE), a checkpoint and {WARM_UP_S} s "
                "at that rate)")
            await settle(engine)
            await ours.steady(publisher, projector, corpus.take(rate * WARM_UP_S), rate)
            acks, latencies = await ours.steady(publisher, projector, corpus.take(rate * seconds), rate)
            await projector.stop()
            projector = None
            info["two_events"] = await last_seq(js)
            log(f"projection of the {info['two_events']:,}-event stream by two processes, as two partitioned "
                "workers run it")
            f["project_two"] = await units.two_workers(rt, corpus.province, info["two_events"])
            for q in (50, 95, 99):
                f[f"p{q}"] = percentile(latencies, q)
            f["pmax"] = max(latencies)
            f["ack50"], f["ack99"] = percentile(acks, 50), percentile(acks, 99)

            have = await last_seq(js)
            log(f"filling the stream from {have:,} to {n['replay']:,} events")
            f["fill"] = await fill(nc, corpus, n["replay"] - have, bool(info["atomic"]))
            total = await last_seq(js)
            info["replayed"] = total
            log("replay limits: ordered consumer, COPY")
            f["raw_ordered"] = await refs.raw_ordered(nc, total)
            f["copy_replay"] = await refs.copy_rows(rt.database_url, refs.row_chunks(corpus, 0, total), "bench_copy")
            log("reading and decoding alone (no database)")
            f["decode_only"], f["decode_only_cpu"] = await ours.read_and_decode(nc, total, batch)
            log(f"replay of {total:,} events in a child process")
            replayed = await asyncio.to_thread(ours.run_replay_child, rt, "bench_replay")
            f["replay"], f["replay_rss"], f["audit_rss"] = (
                replayed["rate"], replayed["peak_rss_mb"], replayed["audit_rss_mb"])
            info["replay_events"] = replayed["events"]
            f["copy_replay_all"], info["rows_replay"] = await refs.copy_same_rows(
                rt.database_url, "bench_replay", int(replayed["events"]), rt.settings.data_dir)
        finally:
            if http is not None:
                http.kill()
                http.wait()
            if projector is not None:
                await projector.stop()
            for c in conns:
                await c.close()
    return f, info


async def fill(nc, corpus: refs.Corpus, count: int, atomic: bool) -> float:  # type: ignore[no-untyped-def]
    """Append `count` more events, 50,000 at a time (raw atomic batches, else pipelined); events/s."""
    seconds = 0.0
    for start in range(0, count, 50_000):
        chunk = corpus.take(min(50_000, count - start))
        rate = await (refs.raw_atomic(nc, chunk, in_flight=4) if atomic else refs.raw_pipelined(nc, chunk, 2000))
        seconds += len(chunk) / rate
    return count / seconds if seconds else 0.0


def table(f: dict[str, float], info: dict[str, object]) -> str:
    w, b = info["window"], info["batch"]
    labels = {  # each reference's label, in the rows that compare with it and in the list of references
        **ingest_labels(int(str(w))),
        "raw_pull": f"raw durable pull + ack (batch {b})", "raw_ordered": "raw ordered consumer (whole stream)",
        "copy_live_all": f"COPY of the rows the projection wrote ({info['rows_live']:,} rows in every "
                         "read-model table, events/s)",
        "copy_replay_all": f"COPY of the rows the replay wrote ({info['rows_replay']:,} rows, events/s)",
        "copy_live": f"COPY of the event-index rows alone ({info['backlog']:,} rows)",
        "copy_replay": f"COPY of the event-index rows alone ({info['replayed']:,} rows)",
        "peer_read": "peer: read back in order (notification log, decoded)",
        "fill": "stream fill for the replay (raw atomic batches, 4 in flight)",
    }
    t = Table(f, labels)
    rows, compare = t.rows, t.compare
    ingest_rows(t, int(str(w)))
    live_limit = min(f["raw_pull"], f["copy_live_all"])
    compare(f"projection, all projections, fresh durable runner, {info['backlog']:,}-event backlog "
            f"(batch {b})", f["project"],
            f"slower of raw pull+ack {rate(f['raw_pull'])} / COPY of the same rows {rate(f['copy_live_all'])}",
            live_limit, 0.5)
    compare(f"projection as two workers run it (`DOINGOAI_PARTITIONS` > 1): the audit chain's unit and the "
            f"province's unit, one process each, from scratch over the {info['two_events']:,}-event stream",
            f["project_two"], "the same limit as above", live_limit, 0.5)
    p99_ok = "PASS" if f["p99"] <= 100 else "FAIL"
    rows.append((f"publish → visible at {info['rate']:,}/s for {info['seconds']} s (p50 / p95 / p99; max)",
                 f"{f['p50']:.0f} / {f['p95']:.0f} / {f['p99']:.0f} ms; {f['pmax']:.0f} ms",
                 "publish → acknowledged (p50 / p99)", f"{f['ack50']:.0f} / {f['ack99']:.0f} ms", "—",
                 "p99 ≤ 100 ms", p99_ok))
    limit = min(f["raw_ordered"], f["copy_replay_all"])
    compare(f"replay of {info['replay_events']:,} events into fresh read models (`doingoai replay` in a child "
            "process, its audit chain in a second one)", f["replay"],
            f"slower of ordered consumer {rate(f['raw_ordered'])} / COPY of the same rows "
            f"{rate(f['copy_replay_all'])}", limit, 0.5)
    decode_only = (f"reading and decoding alone, no database: the replay's reader and decoder over the "
                   f"{info['replay_events']:,} events, one process ({f['decode_only_cpu']:.0f} µs of CPU per event)")
    compare(decode_only, f["decode_only"], "the projection target: half the slower live limit", live_limit / 2, None)
    compare(decode_only, f["decode_only"], "the replay target: half the slower replay limit", limit / 2, None)
    rss = max(f["replay_rss"], f["audit_rss"])
    rows.append(("replay worker peak RSS (replaying process / its audit-chain process)",
                 f"{f['replay_rss']:.0f} / {f['audit_rss']:.0f} MB", "—", "—", "—", "≤ 300 MB each",
                 "PASS" if rss <= 300 else "FAIL"))
    out = t.markdown()
    out += ["", "| reference / peer | events/s |", "|---|---:|"]
    out += [f"| {label} | {rate(f[key])} |" for key, label in labels.items()
            if key in f and not key.startswith("ours_")]
    out.append("")
    if info.get("atomic"):
        out.append("Atomic batches (ADR-50): nats-py 2.16 has no batch API; the publisher library "
                   "(services/store/wire.py) and the raw reference (bench/refs.py) both send them with nats-py's "
                   "`publish` (headers, reply). "
                   "nats-server stages each batch of a single-replica file stream in a file store of its own, a "
                   "fixed few ms a batch: the library sends groups and chunks under 48 events as single publishes.")
    else:
        out.append("JetStream atomic batch publish: not available here; the bulk path is publish_many's pipelined "
                   "publishes.")
    if PROFILE is not None:
        out.append("Taken with pyinstrument running (--profile): slower than without, and the RSS includes it.")
    out.append(f"HTTP: the service as `doingoai up` serves it ({Settings().http_workers} worker(s)), in its own "
               "process, clients on keep-alive HTTP/1.1 connections (httptools parsing the answers); the "
               "projection runner (and the replay) in their "
               "own processes, as the worker runs. Raw publishes carry the same subjects, bytes and "
               "Nats-Msg-Id/Content-Type headers as ours. Every process, the raw references' one included, "
               "runs with the garbage-collector settings of `services.gc_tuning` and on the event loop of "
               "`services.event_loop` (uvloop), as the `doingoai` processes do.")
    return "\n".join(out)


def main() -> None:
    global PROFILE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every event count (1.0: 1M replay)")
    parser.add_argument("--profile", type=Path, help="write pyinstrument profiles into this directory")
    parser.add_argument("--http-workers", type=int, help="DOINGOAI_HTTP_WORKERS of the HTTP service (default: "
                                                          "the setting's)")
    args = parser.parse_args()
    if args.http_workers is not None:
        os.environ["DOINGOAI_HTTP_WORKERS"] = str(args.http_workers)  # the HTTP service's child inherits it
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        PROFILE = ours.PROFILE_DIR = args.profile.resolve()
    started, ticks = time.perf_counter(), refs.cpu_ticks()
    tune_gc()  # as the `doingoai` processes run (the children do the same)
    figures, info = event_loop.run(measure(args.scale))
    load, stolen = os.getloadavg(), refs.stolen_share(ticks, refs.cpu_ticks())
    print()
    print(f"scale {args.scale:g}; {os.cpu_count()} CPUs; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"{time.perf_counter() - started:.0f} s in all" +
          ("" if stolen is None else f"; CPU time stolen by the hypervisor: {stolen:.0%} of the machine's"))
    print(f"backlog {info['backlog']:,} events: {info['indexed']:,} in the event index, {info['refused']} refused; "
          f"replay: {info['replay_events']:,} of {info['replayed']:,} stream events")
    print()
    print(table(figures, info))


if __name__ == "__main__":
    main()
