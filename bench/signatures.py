"""What agencies' signatures cost per event: the check alone, HTTP ingest and the projection, signed
events against the same events unsigned.

    .venv/bin/python -m bench.signatures [--events 20000] [--rounds 2]

Starts the embedded stack in a temporary data directory, registers an Ed25519 key for the corpus's
agency (and an ECDSA P-256 one, for the check alone), and measures, best of `--rounds`, in turns:
- the signature check alone (`KeyRing.check` of a decoded event against its stored bytes);
- HTTP `POST /events`, single events from 8 clients (the HTTP service in a process of its own);
- the projection: every projection (the authority step with its signature check included) over the
  same number of stored events, unsigned then signed, each range into a fresh schema in this process.
Each is given as CPU time per event of the process doing the work (the HTTP service's, the
projection's; PostgreSQL's and nats-server's are not counted), which a machine shared with other work
changes far less than the rates, printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import ours, refs
from bench.http_load import http_ingest
from projections.engine.replay import replay_stream
from projections.models.catalogue import all_projections
from projections.models.handlers import events_handler
from projections.models.signatures import copy_keys
from schemas.codec import decode
from schemas.jsontext import member_text
from schemas.keyring import KeyRing, Signed
from schemas.signatures import PrivateKey, material_of, public_key_of, sign
from services import event_loop
from services.agency_keys import add_key
from services.credentials import issue
from services.db import make_engine
from services.db.migrate import migrate
from services.embedded.ports import free_port
from services.gc_tuning import tune_gc
from services.runtime import Runtime
from services.store import EVENTS_STREAM, EVENTS_SUBJECTS


def signed_item(item: refs.Item, private: PrivateKey, key_id: str) -> refs.Item:
    """The corpus event with its `dssematerial`, its bytes otherwise unchanged."""
    subject, raw, event_id = item
    obj = json.loads(raw)
    material = material_of(obj, obj["time"], member_text(raw, "data"))
    value = sign(material, private, key_id).attribute()
    return subject, raw[:-1] + b',"dssematerial":"' + value.encode() + b'"}', event_id


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) of process `pid` (this one if None) so far."""
    if pid is None:
        return time.process_time()
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check_cost(items: Sequence[refs.Item], ring: KeyRing) -> float:
    """CPU µs per event of `KeyRing.check` (the event decoded beforehand, as the projection has it)."""
    decoded = [(decode(raw).envelope, raw) for _, raw, _ in items]
    now = datetime.now(UTC)
    t0 = cpu_s()
    for envelope, raw in decoded:
        found = ring.check(envelope, raw, now)
        assert found is None or isinstance(found, Signed), found
    return (cpu_s() - t0) / len(decoded) * 1e6


async def project(rt: Runtime, nc: Any, first: int, last: int) -> tuple[float, float]:
    """Every projection over the stream's messages first..last into a fresh schema: (events/s, CPU µs
    per event of this process)."""
    schema = f"bench_sig_{uuid.uuid4().hex[:8]}"
    await migrate(rt.database_url, schema)
    engine = make_engine(rt.database_url, schema, pool_size=2, pre_ping=False)
    live = make_engine(rt.database_url, pool_size=1)
    try:
        async with live.connect() as source, engine.begin() as target:
            await copy_keys(source, target)
        t0, c0 = time.perf_counter(), cpu_s()
        count, _ = await replay_stream(nc, engine, EVENTS_STREAM, EVENTS_SUBJECTS, events_handler(all_projections()),
                                       "projector_v1", from_seq=first, as_of=None, batch_size=2000, last_seq=last)
        return count / (time.perf_counter() - t0), (cpu_s() - c0) / count * 1e6
    finally:
        await engine.dispose()
        await live.dispose()


async def project_ranges(rt: Runtime, nc: Any, ranges: dict[str, list[tuple[int, int]]], keep: Any) -> None:
    """Every projection over each kind's stream ranges, round by round, the kinds in turn; kept as
    `project_<kind>` (events/s, the best) and `project_cpu_<kind>` (CPU µs per event, the least)."""
    for in_round in zip(*ranges.values(), strict=True):
        for kind, (first, last) in zip(ranges, in_round, strict=True):
            rate, cpu = await project(rt, nc, first, last)
            keep(f"project_{kind}", rate)
            keep(f"project_cpu_{kind}", cpu, min)


async def measure(events: int, rounds: int) -> dict[str, float]:
    f: dict[str, float] = {}

    def keep(key: str, value: float, best: Any = max) -> None:
        f[key] = best(f.get(key, value), value)

    async with ours.embedded_stack("doingoai-bench-sig-", "bench-signatures") as (rt, nc, engine):
        corpus = refs.Corpus()
        ed, p256 = Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())
        keys = [await add_key(engine, "ha-tinh", "so-ngoai-vu", public_key_of(k).pem().encode())
                for k in (ed, p256)]
        ring = KeyRing(keys)
        sample = corpus.take(2000)
        for _ in range(rounds):
            keep("check_unsigned", check_cost(sample, ring), min)
            keep("check_ed25519", check_cost([signed_item(i, ed, keys[0].key_id) for i in sample], ring), min)
            keep("check_p256", check_cost([signed_item(i, p256, keys[1].key_id) for i in sample], ring), min)
        token = (await issue(engine, "ha-tinh", "so-ngoai-vu"))["token"]
        port = free_port()
        ranges: dict[str, list[tuple[int, int]]] = {"unsigned": [], "signed": []}
        js = nc.jetstream()
        with ours.http_service(rt, port) as http:
            await http_ingest(port, token, corpus.take(64), 1, 8)  # warm-up
            for _ in range(rounds):
                for kind in ("unsigned", "signed"):
                    items = corpus.take(events)
                    if kind == "signed":
                        items = [signed_item(i, ed, keys[0].key_id) for i in items]
                    first = (await js.stream_info(EVENTS_STREAM)).state.last_seq + 1
                    c0 = cpu_s(http.pid)
                    keep(f"http_{kind}", await http_ingest(port, token, items, 1, 8))
                    keep(f"http_cpu_{kind}", (cpu_s(http.pid) - c0) / len(items) * 1e6, min)
                    ranges[kind].append((first, (await js.stream_info(EVENTS_STREAM)).state.last_seq))
        await project_ranges(rt, nc, ranges, keep)
    return f


def table(f: dict[str, float], events: int) -> str:
    def cpu(kind: str) -> str:
        return f"{f[kind]:,.0f} µs"

    rows = [
        ("signature check alone (decoded event, its stored bytes): CPU per event", f"{f['check_unsigned']:.1f} µs",
         f"Ed25519 {f['check_ed25519']:.0f} µs; P-256 {f['check_p256']:.0f} µs", "—"),
        (f"HTTP `POST /events`, single events, 8 clients ({events:,}): the HTTP service's CPU per event; rate",
         f"{cpu('http_cpu_unsigned')}; {f['http_unsigned']:,.0f}/s", f"{cpu('http_cpu_signed')}; "
         f"{f['http_signed']:,.0f}/s", f"{f['http_cpu_signed'] - f['http_cpu_unsigned']:+,.0f} µs"),
        (f"projection, every projection, {events:,} stored events (batch 2,000): its CPU per event; rate",
         f"{cpu('project_cpu_unsigned')}; {f['project_unsigned']:,.0f}/s", f"{cpu('project_cpu_signed')}; "
         f"{f['project_signed']:,.0f}/s", f"{f['project_cpu_signed'] - f['project_cpu_unsigned']:+,.0f} µs"),
    ]
    out = ["| measurement | unsigned | signed (Ed25519) | cost of a signature |", "|---|---:|---:|---:|"]
    return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="events per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="best of this many rounds")
    args = parser.parse_args()
    tune_gc()
    figures = event_loop.run(measure(args.events, args.rounds))
    print(table(figures, args.events))


if __name__ == "__main__":
    main()
