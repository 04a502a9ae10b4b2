"""What one client may cost the service, on the real stack: refused events kept per agency per hour
are bounded (then 429, nothing kept), the rejected-events stream is bounded, the HTTP process's memory
stays bounded while 4 MiB batches are refused, and an address trying bad tokens is slowed down."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import nats
import pytest
from nats.js.api import DiscardPolicy

from schemas.codec import encode
from services.store import REJECTED_STREAM
from services.store.streams import ensure_streams, stream_configs
from tests.support import System, new_system, sample

pytestmark = pytest.mark.integration
QUOTA = 8 * 1024 * 1024
BATCH = {"content-type": "application/cloudevents-batch+json"}
CE = {"content-type": "application/cloudevents+json"}


def invalid_batch(agency: str = "so-ngoai-vu") -> bytes:
    """Just under 4 MiB: a thousand events of an unknown type, each refused on its own."""
    event = {"specversion": "1.0", "source": f"/provinces/ha-tinh/agencies/{agency}",
             "type": "vn.gov.doingoai.no_such_thing.v1", "subject": "difficulty/x", "time": "2021-01-01T00:00:00Z",
             "data": {"pad": "y" * 3900}}
    body = json.dumps([{**event, "id": str(uuid.uuid4())} for _ in range(1000)]).encode()
    assert 4_000_000 < len(body) <= 4 * 1024 * 1024
    return body


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def quota_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    system = new_system(tmp_path_factory.mktemp("quota"), DOINGOAI_REJECTED_QUOTA_BYTES=str(QUOTA),
                        DOINGOAI_ESCALATIONS="false").start()
    yield system
    system.stop()


async def test_a_loop_of_4_mib_invalid_batches_ends_in_429s_with_storage_and_memory_bounded(quota_system: System):
    """Eight clients sending 4 MiB invalid batches with one token: the first are refused (422) and kept,
    then every request is 429 `quota_exceeded` with Retry-After, nothing more is kept (the stream holds
    about the quota), the HTTP process stays under 600 MB; another agency is not affected."""
    system = quota_system
    creds = system.credentials("ha-tinh", "so-ngoai-vu")
    other = system.credentials("ha-tinh", "so-noi-vu")
    pid = system.runtime()["pid"]  # `up` serves HTTP in its own process
    body = invalid_batch()
    statuses: list[int] = []
    answers: list[httpx.Response] = []
    peak = 0.0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal peak
        while len(statuses) < 120:
            r = await http.post("/events", content=body, headers={**BATCH, "authorization": f"Bearer {creds['token']}"})
            statuses.append(r.status_code)
            answers.append(r)
            peak = max(peak, rss_mb(pid))

    async with httpx.AsyncClient(base_url=system.http, timeout=120) as http:
        await asyncio.gather(*(client(http) for _ in range(8)))
    counts = Counter(statuses)
    assert set(counts) == {422, 429}, counts
    assert counts[422] <= 3, counts  # a refused batch keeps about 5.5 MB: the quota of 8 MiB holds one or two
    late = next(a for a in reversed(answers) if a.status_code == 429)  # answers end in any order
    assert late.json()["error"] == "quota_exceeded" and late.json()["quota_bytes"] == QUOTA
    assert 0 < int(late.headers["retry-after"]) <= 3600

    nc = await system.service_nats()
    try:
        info = await nc.jetstream().stream_info(REJECTED_STREAM)
    finally:
        await nc.close()
    assert info.state.bytes <= QUOTA * 1.1, info.state.bytes
    assert info.config.max_bytes > 0 and info.config.discard == DiscardPolicy.OLD
    assert peak < 600, f"HTTP process at {peak:.0f} MB"
    auditor = system.credentials("ha-tinh", "kiem-toan-doc", "auditor")
    metrics = httpx.get(f"{system.http}/metrics", headers={"authorization": f"Bearer {auditor['token']}"}).text
    found = re.search(r'doingoai_http_rejected_quota_exceeded_total\{publisher="ha-tinh.so-ngoai-vu"\} (\S+)', metrics)
    assert found and float(found[1]) >= counts[429]

    print(f"\nquota: {dict(counts)}; rejected stream {info.state.bytes} bytes; HTTP process peak {peak:.0f} MB")
    auth_other = {**CE, "authorization": f"Bearer {other['token']}"}
    valid = sample("activity_held", agency="so-noi-vu")
    assert httpx.post(f"{system.http}/events", content=encode(valid), headers=auth_other).status_code == 202
    assert httpx.post(f"{system.http}/events", content=b"{", headers=auth_other).status_code == 400
    over = httpx.post(f"{system.http}/events", content=encode(sample("activity_held")),
                      headers={**CE, "authorization": f"Bearer {creds['token']}"})
    assert over.status_code == 429, "a publisher over its quota is refused unread until the hour is over"


async def test_the_rejected_streams_limits_are_applied_to_an_existing_stream(bare_nats_url: str):
    """A DOINGOAI_REJECTED declared before (no limits, discard new) with messages in it: ensure_streams
    gives it max_bytes, max_age and discard old, keeps what fits, and then holds it under max_bytes."""
    nc = await nats.connect(bare_nats_url)
    js = nc.jetstream()
    try:
        old = next(c for c in stream_configs(dedup_window_s=60, replicas=1) if c.name == REJECTED_STREAM)
        await js.add_stream(dataclasses.replace(old, max_bytes=None, max_age=0, discard=DiscardPolicy.NEW))
        for n in range(10):
            await js.publish(f"doingoai.rejected.ha-tinh.so-{n}", b"x" * 1000)
        await ensure_streams(js, dedup_window_s=60, rejected_max_bytes=2 * 1024 * 1024, rejected_max_age_s=7 * 86400)
        info = await js.stream_info(REJECTED_STREAM)
        assert (info.config.max_bytes, info.config.max_age, info.config.discard) == (
            2 * 1024 * 1024, 7 * 86400, DiscardPolicy.OLD)
        assert info.state.messages == 10
        for n in range(40):
            await js.publish(f"doingoai.rejected.ha-tinh.so-{n}", b"x" * 100_000)
        info = await js.stream_info(REJECTED_STREAM)
        assert info.state.bytes <= 2 * 1024 * 1024 and info.state.last_seq == 50
    finally:
        await nc.close()


def test_an_address_trying_bad_tokens_is_answered_429_for_a_while(system: System, agency):
    """Twenty bad tokens from one address within a minute: its next requests are 429 with Retry-After,
    a good token from it too (its token is not even looked up); other addresses are not affected."""
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"  # as a proxy on this host would forward it
    event = encode(sample("activity_held"))

    def post(token: str, forwarded: str | None = address) -> httpx.Response:
        headers = {**CE, "authorization": f"Bearer {token}", **({"x-forwarded-for": forwarded} if forwarded else {})}
        return httpx.post(f"{system.http}/events", content=event, headers=headers)

    assert [post(f"guess-{n}").status_code for n in range(20)] == [401] * 20
    blocked = post("guess-21")
    assert blocked.status_code == 429 and blocked.json()["error"] == "too_many_requests"
    assert int(blocked.headers["retry-after"]) > 0
    assert post(agency["token"]).status_code == 429
    assert post(agency["token"], forwarded=None).status_code == 202
    assert post("guess-other", forwarded="198.51.100.251").status_code == 401
