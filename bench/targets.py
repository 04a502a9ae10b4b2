"""The rows of the benchmark table: each figure against a reference measured in the same run, with
the target as a ratio to it. `ingest_rows` are the ingest rows (NATS and HTTP) that `bench.run` and
`bench.ingest` both print.

A target set against the peer (a multiple of its figure) is capped by what the same servers do with
the same load and no library of ours (`Table.against_capped`): the bar is never more than half of what
the server alone reaches, as for every other path measured against raw nats-py (so that the bar does
not jump from half the server's multiple to all of it as the server's multiple passes the target); the
target column then shows the server's own multiple of the peer. HTTP batches of 100, set against
`publish_many` in batches of 1,000, are capped alike by the same load without HTTP: `publish_many` from 4
callers in batches of 100 (nats-server stages each atomic batch at a fixed cost, so 100s reach less).
"""

from __future__ import annotations

from collections.abc import Mapping

Row = tuple[str, str, str, str, str, str, str]


def rate(x: float) -> str:
    return f"{x:,.0f}/s"


class Table:
    """Rows of `| measurement | ours | reference | reference figure | ours / ref | target | result |`."""

    def __init__(self, f: Mapping[str, float], labels: Mapping[str, str]):
        self.f, self.labels = f, labels
        self.rows: list[Row] = []

    def compare(self, what: str, ours_v: float, ref: str, ref_v: float, target: float | None,
                goal: str | None = None) -> None:
        ratio = ours_v / ref_v if ref_v else 0.0
        verdict = "—" if target is None else ("PASS" if ratio >= target else "FAIL")
        goal = goal or ("—" if target is None else f"≥ {target:g}×")
        self.rows.append((what, rate(ours_v), ref, rate(ref_v), f"{ratio:.2f}×", goal, verdict))

    def against(self, what: str, ours_v: float, key: str, target: float | None) -> None:
        self.compare(what, ours_v, self.labels[key], self.f[key], target)

    def against_capped(self, what: str, ours_v: float, ref: str, target: float, server: str) -> None:
        """`ours_v` ≥ `target`× the figure `ref`, or, where the same load without the layer measured
        (reference `server`: the server without our library, or for HTTP, our library without HTTP)
        reaches less than twice that, ≥ half of what it reaches."""
        reached = self.f[server] / self.f[ref] if self.f[ref] else 0.0
        if reached >= 2 * target:
            self.against(what, ours_v, ref, target)
            return
        capped = round(reached / 2, 2)
        whose = "the peer" if ref.startswith("peer") else self.labels[ref]
        self.compare(what, ours_v, self.labels[ref], self.f[ref], capped,
                     f"≥ {capped:g}× ({target:g}×, capped: {self.labels[server]} is {reached:.2f}× {whose})")

    def markdown(self) -> list[str]:
        out = ["| measurement | ours | reference | reference figure | ours / ref | target | result |",
               "|---|---:|---|---:|---:|---|---|"]
        return out + ["| " + " | ".join(r) + " |" for r in self.rows]


def ingest_labels(window: int) -> dict[str, str]:
    return {
        "raw_seq": "raw js.publish, one at a time", "raw_8": "raw js.publish, 8 connections",
        "raw_pipe": f"raw pipelined js.publish (window {window})", "raw_atomic": "raw atomic batches of 1,000",
        "peer_single": "peer: one `save()` per event", "peer_batched": "peer: `save()` of 1,000 events",
        "ours_8": "our NATS ingest, 8 publishers", "ours_atomic": "our `publish_many`, atomic batches of 1,000",
        "ours_bulk": f"our `publish_many` (window {window}, no atomic batches)",
        "ours_100": "our `publish_many`, 4 callers, a batch of 100 each at a time",
    }


def ingest_rows(t: Table, window: int) -> None:
    """The NATS and HTTP ingest rows of the figures `t` has (a row whose figures are missing is left out)."""
    f, have = t.f, t.f.keys()
    if {"ours_seq", "raw_seq"} <= have:
        t.against("NATS ingest, 1 publisher, `await publish()` each", f["ours_seq"], "raw_seq", 0.5)
    eight = "NATS ingest, 8 publishers (8 connections, one event at a time each)"
    if {"ours_8", "raw_8"} <= have:
        t.against(eight, f["ours_8"], "raw_8", 0.5)
        t.against_capped(eight, f["ours_8"], "peer_single", 5, "raw_8")
    shared = ("NATS ingest, 8 concurrent callers sharing one Publisher (group commit; under 16 in flight "
              "each event goes out at once)")
    if {"shared_8", "raw_8", "raw_pipe"} <= have:
        t.against(shared, f["shared_8"], "raw_8", 0.5)
        t.against_capped(shared, f["shared_8"], "peer_single", 5, "raw_pipe")
        # the same load without our library: the pipelined figure is the most the server stores of single
        # messages (`sync_interval: always`: each stored and fsynced in turn)
        t.against(f"the same server without our library: {t.labels['raw_8']}", f["raw_8"], "peer_single", None)
        t.against(f"the same server without our library: {t.labels['raw_pipe']}", f["raw_pipe"], "peer_single", None)
    if {"shared_256", "raw_pipe"} <= have:
        t.against("NATS ingest, 256 concurrent callers sharing one Publisher (group commit: the waiting ones "
                  "go as one atomic batch)", f["shared_256"], "raw_pipe", None)
    if {"ours_bulk", "raw_pipe"} <= have:
        pipe = f"NATS bulk: `publish_many` without atomic batches (pipelined publishes, window {window})"
        t.against(pipe, f["ours_bulk"], "raw_pipe", 0.5)
        t.against_capped(pipe, f["ours_bulk"], "peer_batched", 2, "raw_pipe")
    bulk = "NATS bulk: `publish_many`, atomic batches of 1,000 (all validated first, id lookup)"
    if {"ours_atomic", "raw_atomic"} <= have:
        t.against(bulk, f["ours_atomic"], "raw_atomic", 0.5)
        t.against_capped(bulk, f["ours_atomic"], "peer_batched", 2, "raw_atomic")
    single = "HTTP `POST /events`, single events, 8 clients"
    if "http_1" in have:
        t.against(single, f["http_1"], "peer_single", 2)
        t.against(single, f["http_1"], "ours_8", 0.5)
    if "http_100" in have:
        batches = "HTTP `POST /events`, batches of 100, 4 clients"
        ref = "ours_atomic" if "ours_atomic" in have else "ours_bulk"
        if "ours_100" in have:  # nats-server stages each atomic batch at a fixed cost: 100s reach less than 1,000s
            t.against_capped(batches, f["http_100"], ref, 0.5, "ours_100")
            t.against(batches, f["http_100"], "ours_100", None)  # the same load without HTTP, beside it
        else:
            t.against(batches, f["http_100"], ref, 0.5)
