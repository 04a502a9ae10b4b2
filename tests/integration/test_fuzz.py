"""Fuzzing the two ways in: over 10,000 malformed events drawn by hypothesis strategies, sent over
HTTP (structured, binary and batched mode) and straight to NATS, interleaved with valid events."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import nats
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from projections.engine.batch import check_route, decode_strict, parse_strict
from schemas.codec import InvalidEvent, encode, from_binary
from schemas.envelope import TYPE_RE
from services.credentials import Identity
from services.http.ingest import Item, decode_item, items_of
from services.store import EVENTS_STREAM, REJECTED_STREAM
from tests.support import System, nats_options, new_system, sample

pytestmark = pytest.mark.integration
PROVINCE, AGENCY = "ha-tinh", "so-ngoai-vu"
WHO = Identity(PROVINCE, AGENCY, "agency", "fuzzer")
NAMES = ("activity_held", "delegation_received", "conference_held", "difficulty_raised")
MALFORMED_HTTP, MALFORMED_NATS, VALID_EACH = 4_000, 6_400, 300
MARKER = re.compile(r"fz\d{6}q")
MOMENT = datetime.now(UTC).replace(microsecond=0)
"""The time of every event drawn in this run."""
ATTRS = ("specversion", "id", "source", "type", "subject", "time", "data")
WRONG = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
                  st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
TEXT = st.text(max_size=40)
STRUCTURED = SimpleNamespace(headers={})  # a request without ce-* headers
KINDS = (
    "truncated", "junk_byte", "garbage", "not_an_object", "missing_attribute", "wrong_type_attribute",
    "bad_attribute_text", "unknown_type", "data_wrong_type", "data_missing_field", "data_unknown_field",
    "wrong_source", "unstorable_string", "nan", "deep",
) * 5 + ("oversize", "deep_bytes")
"""The mutations; the heavy ones (200-300 KB each) are drawn about one time in forty."""


@st.composite
def malformed(draw: st.DrawFn) -> tuple[str, Any]:
    """(mutation, JSON object or raw bytes) derived from a valid event, meant to be refused."""
    # ids and the time come from hypothesis and the module, not from uuid4 and the clock: an example
    # drawn again is the same example
    event = sample(draw(st.sampled_from(NAMES)), aggregate_id=draw(st.uuids()).hex)
    obj: dict[str, Any] = json.loads(encode(event.model_copy(update={"id": str(draw(st.uuids())), "time": MOMENT})))
    data = obj["data"]
    how = draw(st.sampled_from(KINDS))
    if how in ("truncated", "junk_byte", "nan"):
        raw = json.dumps(obj, ensure_ascii=False).encode()
        if how == "nan":
            return how, raw.replace(b'"1.0"', b"NaN", 1)
        at = draw(st.integers(60, len(raw) - 1))
        junk = draw(st.sampled_from([b"", b"{", b"]", b",", b'"', b"\\", b"\x00", b"\xff", b"\xc3("]))
        return how, raw[:at] + junk + (raw[at + 1:] if how == "junk_byte" else b"")
    if how == "garbage":
        return how, draw(st.binary(max_size=300))
    if how == "not_an_object":
        return how, draw(st.sampled_from([[obj], [], "event", 42, None, True]))
    if how == "missing_attribute":
        del obj[draw(st.sampled_from(ATTRS[1:]))]
    elif how == "wrong_type_attribute":
        obj[draw(st.sampled_from(ATTRS))] = draw(WRONG)
    elif how == "bad_attribute_text":
        obj[draw(st.sampled_from(ATTRS[:-1]))] = draw(TEXT)
    elif how == "unknown_type":
        name = draw(st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True))
        obj["type"] = f"vn.gov.doingoai.{name}.v{draw(st.integers(1, 9))}"
    elif how == "data_wrong_type":
        data[draw(st.sampled_from(sorted(data)))] = draw(WRONG)
    elif how == "data_missing_field":
        del data[draw(st.sampled_from(sorted(data)))]
    elif how == "data_unknown_field":
        data[draw(st.from_regex(r"[a-z_]{1,12}", fullmatch=True))] = draw(TEXT)
    elif how == "wrong_source":
        obj["source"] = f"/provinces/{PROVINCE}/agencies/{draw(st.sampled_from(['so-noi-vu', 'ubnd-tinh', 'so-y-te']))}"
    elif how == "unstorable_string":
        key = draw(st.sampled_from(["title", "id", "subject", "actor"]))
        target = data if key == "title" else obj
        target[key] = str(target.get(key, "x")) + draw(st.sampled_from(["\x00", "\ud800", "a\udfffb"]))
    elif how == "deep_bytes":  # too deep for a recursive parser
        head = json.dumps({k: v for k, v in obj.items() if k != "data"}).encode()[:-1]
        return how, head + b',"data":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    elif how == "deep":
        obj["data"] = json.loads("[" * 200 + "]" * 200)
    elif how == "oversize":
        data["title"] = "x" * 300_000
    return how, obj


def draw_all(n: int, per_example: int = 100) -> list[tuple[str, Any]]:
    """`n` malformed payloads, drawn by hypothesis `per_example` at a time (one draw per example
    costs milliseconds of engine time; a hundred per example keep 10,000 draws to seconds)."""
    out: list[tuple[str, Any]] = []

    @settings(max_examples=-(-n // per_example), database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.lists(malformed(), min_size=per_example, max_size=per_example))
    def collect(examples: list[tuple[str, Any]]) -> None:
        out.extend(examples)

    collect()
    return out


def marked(n: int, how: str, payload: Any) -> tuple[str, Any]:
    """Put a unique marker where a rejection keeps it: the id and a first extension attribute, or
    the first bytes, so it is found by event id or in the first 4 KiB of the raw event."""
    marker = f"fz{n:06d}q"
    if isinstance(payload, dict):
        out = {"fuzzmark": marker, **payload}
        if how not in ("missing_attribute", "wrong_type_attribute", "bad_attribute_text", "unstorable_string"):
            out["id"] = marker
        return marker, out
    if isinstance(payload, bytes):
        if payload.startswith(b'{"'):
            return marker, b'{"fuzzmark":"' + marker.encode() + b'",' + payload[1:]
        return marker, marker.encode() + payload
    return marker, [marker, payload]


def to_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes):
        return payload
    return json.dumps(payload, ensure_ascii=False).encode("utf-8", errors="surrogatepass")


def http_request(mode: str, payload: Any, token: str) -> tuple[dict[str, str], bytes]:
    """Headers and body of a POST /events in `mode` (structured, binary or batch)."""
    auth = {"authorization": f"Bearer {token}"}
    if mode == "binary":
        headers = {f"ce-{k}": str(v) for k, v in payload.items() if k not in ("data", "datacontenttype")}
        return {**auth, **headers, "content-type": "application/json"}, json.dumps(payload.get("data")).encode()
    kind = "application/cloudevents-batch+json" if mode == "batch" else "application/cloudevents+json"
    return {**auth, "content-type": kind}, to_bytes(payload)


def refused(check: Callable[[], object]) -> bool:
    """The service's own rules, applied locally: a payload counts only if they refuse it."""
    try:
        check()
    except InvalidEvent:
        return True
    return False


def refused_over_http(payload: Any, mode: str) -> bool:
    def check() -> None:
        headers, body = http_request(mode, payload, "-")
        item = Item(body, from_binary(headers, body)) if mode == "binary" else items_of(STRUCTURED, body, False)[0]
        decode_item(WHO, item)

    return refused(check)


def refused_over_nats(raw: bytes, subject: str) -> bool:
    return refused(lambda: check_route(subject, decode_strict(raw)))


def subject_for(payload: Any) -> str:
    kind = payload.get("type") if isinstance(payload, dict) else None
    found = TYPE_RE.match(kind) if isinstance(kind, str) else None
    return f"doingoai.events.{PROVINCE}.{AGENCY}.{found['name'] if found else 'activity_held'}"


@dataclass
class Plan:
    """What is sent: HTTP requests (mode, marker(s), payload(s)) and NATS messages (marker, bytes, subject)."""

    http: list[tuple[str, list[str], Any]] = field(default_factory=list)
    nats: list[tuple[str, bytes, str]] = field(default_factory=list)
    how: dict[str, str] = field(default_factory=dict)

    @property
    def http_events(self) -> int:
        return sum(len(markers) for _, markers, _ in self.http)


def make_plan(draws: list[tuple[str, Any]], rng: random.Random) -> Plan:
    """HTTP first (half of the JSON objects in batches of 20, some in binary mode), then
    NATS; a payload the service would accept is left out (mutations may happen to be valid)."""
    plan, batch = Plan(), []
    for n, (how, drawn) in enumerate(draws):
        marker, payload = marked(n, how, drawn)
        if plan.http_events + len(batch) < MALFORMED_HTTP:
            mode = "structured"
            if isinstance(payload, dict) and how not in ("oversize", "unstorable_string"):
                data_level = how.startswith(("data_", "unknown", "wrong_s"))  # ASCII attributes: binary mode
                mode = rng.choice(("batch", "batch", "binary" if data_level else "structured", "structured"))
                if mode == "batch" and refused(lambda: parse_strict(to_bytes(payload), storable=False)):  # noqa: B023
                    mode = "structured"  # e.g. Infinity: it would make the whole batch one bad request
            if not refused_over_http(payload, "binary" if mode == "binary" else "structured"):
                continue
            plan.how[marker] = how
            if mode == "batch":
                batch.append((marker, payload))
                if len(batch) == 20:
                    plan.http.append(("batch", [m for m, _ in batch], [p for _, p in batch]))
                    batch = []
            else:
                plan.http.append((mode, [marker], payload))
        elif len(plan.nats) < MALFORMED_NATS:
            raw, subject = to_bytes(payload), subject_for(payload)
            if refused_over_nats(raw, subject):
                plan.nats.append((marker, raw, subject))
                plan.how[marker] = how
    if batch:
        plan.http.append(("batch", [m for m, _ in batch], [p for _, p in batch]))
    return plan


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def fuzz_system(tmp_path_factory: pytest.TempPathFactory):
    system = new_system(tmp_path_factory.mktemp("fuzz"), DOINGOAI_ESCALATIONS="false",
                        DOINGOAI_REJECTED_QUOTA_BYTES=str(1024**3)).start()  # it keeps ~30 MB of refusals
    yield system
    system.stop()


async def test_ten_thousand_malformed_events_are_all_kept_and_never_block_the_valid_ones(fuzz_system: System):
    """>10,000 malformed events (broken JSON, missing or wrong-typed attributes, unknown types, schema
    violations, NUL/surrogates/NaN, deep nesting, oversize, another agency's source) over HTTP and NATS,
    interleaved with valid events: no 5xx, the projection worker never restarts, every malformed one is
    listed as rejected with a reason, every valid one is stored and projected."""
    system = fuzz_system
    creds = system.credentials(PROVINCE, AGENCY)
    worker_pid = system.runtime()["worker_pid"]
    rng = random.Random(20210520)
    started = time.monotonic()
    draws = draw_all(int((MALFORMED_HTTP + MALFORMED_NATS) * 1.2))
    plan = make_plan(draws, rng)
    assert plan.http_events == MALFORMED_HTTP and len(plan.nats) == MALFORMED_NATS
    valid_http = [sample(rng.choice(NAMES)) for _ in range(VALID_EACH)]
    valid_nats = [sample(rng.choice(NAMES)) for _ in range(VALID_EACH)]
    generated = time.monotonic()

    statuses: dict[str, list[int]] = {"malformed": [], "valid": []}
    requests = [("malformed", *http_request(mode, payload, creds["token"])) for mode, _, payload in plan.http]
    requests += [("valid", *http_request("structured", encode(e), creds["token"])) for e in valid_http]
    rng.shuffle(requests)
    gate = asyncio.Semaphore(64)

    async def send_http(client: httpx.AsyncClient) -> None:
        async def one(label: str, headers: dict[str, str], body: bytes) -> None:
            async with gate:
                r = await client.post("/events", content=body, headers=headers)
            statuses[label].append(r.status_code)
        await asyncio.gather(*(one(*r) for r in requests))

    async def send_nats() -> int:
        nc = await nats.connect(creds["nats_url"], **nats_options(creds))
        js = nc.jetstream(timeout=30)
        messages = [(raw, subject) for _, raw, subject in plan.nats]
        messages += [(encode(e), f"doingoai.events.{PROVINCE}.{AGENCY}.{e.type.split('.')[3]}") for e in valid_nats]
        rng.shuffle(messages)
        last = 0
        for start in range(0, len(messages), 256):
            acks = await asyncio.gather(*(js.publish(s, raw) for raw, s in messages[start:start + 256]))
            last = max([last, *(a.seq for a in acks)])
        await nc.close()
        return last

    # a connection per request: twice as fast here as keep-alive, and none races a server-side idle close
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=system.http, limits=limits, timeout=60) as client:
        _, last_nats_seq = await asyncio.gather(send_http(client), send_nats())
    sent_at = time.monotonic()

    assert not [s for s in statuses["malformed"] + statuses["valid"] if s >= 500]
    assert set(statuses["malformed"]) <= {400, 403, 413, 422}, sorted(set(statuses["malformed"]))
    assert set(statuses["valid"]) == {202}

    service = await system.service_nats()
    last_seq = (await service.jetstream().stream_info(EVENTS_STREAM)).state.last_seq
    last_rejected = (await service.jetstream().stream_info(REJECTED_STREAM)).state.last_seq
    await service.close()
    assert last_seq >= last_nats_seq
    system.wait_projected(last_seq, timeout=120)
    wait_for(lambda: system.progress().get("rejected_v1", 0) >= last_rejected, 120)
    expected = plan.how
    found: dict[str, int] = {}
    rows = system.get("/api/rejected", province=PROVINCE, limit=100_000, timeout=120).json()["items"]
    for row in rows:
        assert row["problems"] and row["kind"] and row["publisher"] == f"{PROVINCE}.{AGENCY}"
        for marker in {row["event_id"] or "", *MARKER.findall(row["raw"])} & expected.keys():
            found[marker] = found.get(marker, 0) + 1
    missing = [(m, expected[m]) for m in expected.keys() - found.keys()]
    assert not missing, f"{len(missing)} malformed events not listed as rejected, e.g. {missing[:5]}"
    assert set(found.values()) == {1}

    # 600 reads at once: they wait for a connection as long as it takes (a busy machine), each read
    # then has 60 s
    async with httpx.AsyncClient(base_url=system.http, timeout=httpx.Timeout(60, pool=None),
                                 headers=system.reader(PROVINCE)) as client:
        got = await asyncio.gather(*(client.get(f"/api/events/{e.id}") for e in valid_http + valid_nats))
    assert {r.status_code for r in got} == {200}
    assert system.runtime()["worker_pid"] == worker_pid
    assert httpx.get(f"{system.http}/healthz").json()["status"] == "ok"
    print(f"\nfuzz: {plan.http_events} malformed over HTTP ({len(plan.http)} requests), {len(plan.nats)} over "
          f"NATS, {2 * VALID_EACH} valid; drawn {generated - started:.1f}s, sent {sent_at - generated:.1f}s, "
          f"all listed {time.monotonic() - sent_at:.1f}s later; mutations: {sorted(set(expected.values()))}")
