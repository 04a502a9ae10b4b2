"""What sealing personal data costs per event: HTTP ingest and the projection, delegations whose head
is written in clear (sealed by the door, or by the projection) against the same delegations whose
head is sealed already (nothing to seal: the cost before).

    .venv/bin/python -m bench.personal [--events 10000] [--rounds 2]

Starts the embedded stack in a temporary data directory and measures, best of `--rounds`, in turns:
- HTTP `POST /events`, single events from 8 clients: the door seals the head's name and title (a key
  looked up, or made, in PostgreSQL; AES-GCM; the event encoded again) — or finds them sealed;
- the projection: every projection over the same number of events published over NATS, in clear
  (the projection seals them before any read model sees them) or sealed, each range into a fresh
  schema in this process.
As `bench.signatures` does, each is CPU time per event of the process doing the work (PostgreSQL's and
nats-server's not counted), with the rate beside it. The corpus's delegations name one head, as a
province's recur; `--people N` spreads them over N people (a key each).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench import ours, refs
from bench.http_load import http_ingest
from bench.signatures import cpu_s, project_ranges
from schemas.personal import new_key, new_key_id, seal
from services import event_loop
from services.credentials import issue
from services.embedded.ports import free_port
from services.gc_tuning import tune_gc
from services.store import EVENTS_STREAM

DELEGATION = refs.KINDS.index("delegation_received")


def delegations(corpus: refs.Corpus, n: int, people: int) -> list[refs.Item]:
    """`n` delegations of the corpus, their heads spread over `people` names."""
    first, corpus.next = corpus.next, corpus.next + n * len(refs.KINDS)
    items = [corpus.item(i) for i in range(first, corpus.next) if i % len(refs.KINDS) == DELEGATION]
    out = []
    for k, (subject, raw, eid) in enumerate(items):
        obj = json.loads(raw)
        obj["data"]["head"]["name"] = f"{obj['data']['head']['name']} {k % people}"
        out.append((subject, json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode(), eid))
    return out


def presealed(items: list[refs.Item]) -> list[refs.Item]:
    """The same events with the head's name and title sealed already (keys of nobody here)."""
    key, key_id = new_key(), new_key_id()
    out = []
    for subject, raw, eid in items:
        obj = json.loads(raw)
        head = obj["data"]["head"]
        obj["data"]["head"] = {k: seal(key, key_id, obj["source"].split("/")[2], v) for k, v in head.items()}
        out.append((subject, json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode(), eid))
    return out


async def measure(events: int, rounds: int, people: int) -> dict[str, float]:
    f: dict[str, float] = {}

    def keep(key: str, value: float, best: Any = max) -> None:
        f[key] = best(f.get(key, value), value)

    async with ours.embedded_stack("doingoai-bench-pd-", "bench-personal") as (rt, nc, engine):
        corpus = refs.Corpus()
        token = (await issue(engine, "ha-tinh", "so-ngoai-vu"))["token"]
        port = free_port()
        js = nc.jetstream()
        ranges: dict[str, list[tuple[int, int]]] = {"sealed": [], "clear": []}
        with ours.http_service(rt, port) as http:
            await http_ingest(port, token, delegations(corpus, 64, people), 1, 8)  # warm-up, keys made
            for _ in range(rounds):
                for kind in ("sealed", "clear"):
                    items = delegations(corpus, events, people)
                    items = presealed(items) if kind == "sealed" else items
                    c0 = cpu_s(http.pid)
                    keep(f"http_{kind}", await http_ingest(port, token, items, 1, 8))
                    keep(f"http_cpu_{kind}", (cpu_s(http.pid) - c0) / len(items) * 1e6, min)
                    items = delegations(corpus, events, people)
                    items = presealed(items) if kind == "sealed" else items
                    first = (await js.stream_info(EVENTS_STREAM)).state.last_seq + 1
                    await refs.raw_pipelined(nc, items, 256)
                    ranges[kind].append((first, (await js.stream_info(EVENTS_STREAM)).state.last_seq))
        await project_ranges(rt, nc, ranges, keep)
    return f


def table(f: dict[str, float], events: int, people: int) -> str:
    def cell(kind: str) -> str:
        where, how = kind.split(":")
        return f"{f[where + '_cpu_' + how]:,.0f} µs; {f[where + '_' + how]:,.0f}/s"

    rows = [
        (f"HTTP `POST /events`, single delegations, 8 clients ({events:,}, {people} heads): "
         "the HTTP service's CPU per event; rate", cell("http:sealed"), cell("http:clear"),
         f"{f['http_cpu_clear'] - f['http_cpu_sealed']:+,.0f} µs"),
        (f"projection, every projection, {events:,} delegations published over NATS (batch 2,000): "
         "its CPU per event; rate", cell("project:sealed"), cell("project:clear"),
         f"{f['project_cpu_clear'] - f['project_cpu_sealed']:+,.0f} µs"),
    ]
    out = ["| measurement | head sealed already (before) | head in clear, sealed here | cost of sealing |",
           "|---|---:|---:|---:|"]
    return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000, help="events per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="best of this many rounds")
    parser.add_argument("--people", type=int, default=1, help="how many different heads the delegations name")
    args = parser.parse_args()
    tune_gc()
    figures = event_loop.run(measure(args.events, args.rounds, args.people))
    print(table(figures, args.events, args.people))


if __name__ == "__main__":
    main()
