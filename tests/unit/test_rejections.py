"""Bad input without a broker: strict parsing, rejection records, NATS permissions, HTTP hardening."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import bcrypt
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.aio.client import Client

from projections.engine.batch import StreamMessage, classify, decode_strict, guess_id, parse_strict
from projections.engine.runner import Runner
from projections.models.rejected import _link, _rejection_row
from projections.models.rows import Refused
from schemas.codec import MAX_EVENT_BYTES, InvalidEvent, encode
from services.credentials import password_hash
from services.db import make_engine
from services.http.app import create_app
from services.natsauth import (
    SERVICES_INBOX_PREFIX,
    NatsUser,
    agency_permissions,
    auditor_permissions,
    auth_conf,
    consumer_names,
    inbox_prefix,
)
from tests.support import sample

pytestmark = pytest.mark.unit
NOW = datetime.now(UTC)  # events are stamped now; an event more than 24 h ahead of its recording is refused
SUBJECT = "doingoai.events.ha-tinh.so-ngoai-vu.activity_held"


def event_obj(**changes: Any) -> dict[str, Any]:
    obj = json.loads(encode(sample("activity_held")))
    data = {**obj["data"], **changes.pop("data", {})}
    return {**obj, **changes, "data": data}


@pytest.mark.parametrize(
    ("raw", "kind", "path"),
    [
        (b"x" * (MAX_EVENT_BYTES + 1), "too_large", ""),
        (b'{"a": NaN}', "bad_json", ""),
        (b'{"a": -Infinity}', "bad_json", ""),
        (b'{"a": 1e999}', "bad_envelope", "a"),
        (b"[" * 100_000 + b"]" * 100_000, "bad_json", ""),
        (b'{"a": ' + b"9" * 5000 + b"}", "bad_json", ""),
        (b'{"id": "\xff"}', "bad_json", ""),
        (json.dumps(event_obj(data={"title": "a\x00b"})).encode(), "schema_violation", "data.title"),
        (json.dumps(event_obj(id="x\ud800")).encode(), "bad_envelope", "id"),
    ],
)
def test_strict_parsing_refuses_what_a_stream_or_a_table_cannot_keep(raw: bytes, kind: str, path: str):
    """Too large, NaN/Infinity, nesting too deep for the parser, over-long numbers, invalid UTF-8,
    NUL and lone surrogates are refused with a kind and a field path, never another exception."""
    with pytest.raises(InvalidEvent) as caught:
        decode_strict(raw)
    assert (caught.value.kind, caught.value.problems[0].path) == (kind, path)


def test_a_batch_is_parsed_whole_and_its_events_checked_one_by_one():
    """`storable=False` parses a batch body; each event is checked for storability on its own."""
    body = json.dumps([event_obj(), event_obj(data={"title": "\x00"})]).encode()
    assert len(parse_strict(body, 10 * MAX_EVENT_BYTES, storable=False)) == 2
    with pytest.raises(InvalidEvent):
        parse_strict(body, 10 * MAX_EVENT_BYTES)


def test_the_id_of_a_broken_event_is_still_read_when_it_can_be():
    """The id is read from valid JSON, from truncated JSON, never from a NUL-bearing id, and
    reading never raises (deeply nested input included)."""
    raw = encode(sample("activity_held"))
    assert guess_id(raw) == json.loads(raw)["id"]
    assert guess_id(raw[:120]) == json.loads(raw)["id"]
    assert guess_id(json.dumps({"id": "a\x00"}).encode()) is None
    assert guess_id(b"[" * 100_000) is None
    assert guess_id(b"\xff\xfe") is None


def test_classify_rejects_unstorable_events_with_storable_reasons():
    """An event with NUL in a field name or value is a rejection, not a fresh event, and the reason
    (path and message) itself holds no NUL, so it can be written to PostgreSQL."""
    bad_key = json.dumps(event_obj(data={"ti\x00tle": 1})).encode()
    bad_value = json.dumps(event_obj(data={"title": "\x00"})).encode()
    batch = classify([StreamMessage(1, SUBJECT, bad_key, NOW), StreamMessage(2, SUBJECT, bad_value, NOW),
                      StreamMessage(3, SUBJECT, encode(sample("activity_held")), NOW)], known={})
    assert [s.seq for s in batch.fresh] == [3]
    assert [r.seq for r in batch.rejections] == [1, 2]
    for rejection in batch.rejections:
        for problem in rejection.error.problems:
            assert "\x00" not in problem.path + problem.message


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.binary(max_size=200),
    st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                 max_leaves=20).map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["specversion", "id", "source", "type", "subject", "time", "data", "actor"]),
                    st.text(max_size=30) | st.integers() | st.none(), max_size=7).map(lambda v: json.dumps(v).encode()),
))
def test_decoding_arbitrary_bytes_only_ever_raises_invalid_event(raw: bytes):
    """Whatever arrives, decoding either yields an event that encodes back to UTF-8 bytes or raises
    InvalidEvent: no other exception can reach a worker or an HTTP response."""
    try:
        event = decode_strict(raw)
    except InvalidEvent as error:
        assert error.kind and error.problems
    else:
        encode(event.envelope).decode("utf-8")


def test_rejection_records_become_rows_and_unreadable_ones_are_kept_too():
    """A DOINGOAI_REJECTED record (raw as base64, or as text in older records) becomes a row with
    its raw bytes; a record that cannot be read is kept as `unreadable_record`, never raised."""
    record = {"path": "http", "kind": "bad_json", "problems": [{"path": "", "message": "not JSON"}],
              "publisher": "ha-tinh.so-ngoai-vu", "event_id": None, "raw_b64": base64.b64encode(b"\xff{").decode(),
              "received_at": NOW.isoformat()}
    row = _rejection_row(StreamMessage(7, "doingoai.rejected.ha-tinh.so-ngoai-vu", json.dumps(record).encode(), NOW))
    assert (row["key"], row["kind"], row["raw"], row["publisher"]) == ("rejected:7", "bad_json", b"\xff{",
                                                                        "ha-tinh.so-ngoai-vu")
    legacy = {**record, "raw": "{"}
    del legacy["raw_b64"]
    assert _rejection_row(StreamMessage(8, "s", json.dumps(legacy).encode(), NOW))["raw"] == b"{"
    broken = _rejection_row(StreamMessage(9, "s", b"[1, 2", NOW))
    assert (broken["kind"], broken["raw"]) == ("unreadable_record", b"[1, 2")
    link = {"resubmission": {"key": "rejected:7", "event_id": "e-2"}}
    assert _link(StreamMessage(10, "s", json.dumps(link).encode(), NOW)) == ("rejected:7", "e-2")
    assert _link(StreamMessage(11, "s", json.dumps(record).encode(), NOW)) is None


async def test_a_refusal_escaping_a_projection_is_parked_with_its_own_kind():
    """When a projection raises a refusal of one event (kind, path, message), the runner parks that
    event with the refusal's kind and message rather than a generic projection failure."""
    parked: list[StreamMessage] = []

    async def isolate(_conn: Any, messages: Any) -> None:
        parked.extend(messages)

    no_connection = SimpleNamespace(jetstream=lambda: None)  # parking reads nothing from NATS
    runner = Runner(no_connection, None, stream="S", durable="d", handler=isolate, isolate=isolate)  # type: ignore[arg-type]
    park = runner._park(Refused("impossible_transition", "type", "resolved before it was raised"))
    await park(None, [StreamMessage(5, SUBJECT, b"{}", NOW)])  # type: ignore[arg-type]
    headers = parked[0].headers
    assert headers["x-error-kind"] == "impossible_transition" and headers["x-error-path"] == "type"
    assert headers["x-error"] == "resolved before it was raised"
    await runner._park(ValueError("boom"))(None, [StreamMessage(6, SUBJECT, b"{}", NOW)])  # type: ignore[arg-type]
    assert "x-error-kind" not in parked[1].headers and "boom" in parked[1].headers["x-error"]


def test_an_agency_publishes_only_under_its_own_subjects_and_consumes_only_its_escalations():
    """Its events subject, its own inbox prefix, and its own four named consumers on its own filter."""
    inbox = inbox_prefix("ha-tinh.so-ngoai-vu.1a2b3c4d")
    assert inbox == "_INBOX_ha-tinh_so-ngoai-vu_1a2b3c4d"
    perms = agency_permissions("ha-tinh", "so-ngoai-vu", inbox)
    allow: list[str] = perms["publish"]["allow"]  # type: ignore[index]
    assert [s for s in allow if s.startswith("doingoai.events")] == ["doingoai.events.ha-tinh.so-ngoai-vu.>"]
    assert perms["subscribe"] == {"allow": ["_INBOX_ha-tinh_so-ngoai-vu_1a2b3c4d.>"]}
    names = consumer_names("ha-tinh", "so-ngoai-vu")
    assert names == [f"ha-tinh_so-ngoai-vu_{n}" for n in (1, 2, 3, 4)]
    creates = [s for s in allow if ".CONSUMER." in s and "CREATE" in s]
    assert creates == [f"$JS.API.CONSUMER.CREATE.DOINGOAI_ESCALATIONS.{n}.doingoai.escalations.ha-tinh.so-ngoai-vu"
                       for n in names]
    consumer_subjects = [s for s in allow if s.startswith(("$JS.API.CONSUMER.", "$JS.ACK."))]
    assert all(any(f".{n}." in s + "." for n in names) for s in consumer_subjects)
    assert not any("*" in s for s in consumer_subjects)
    assert not any("DURABLE" in s or s.startswith(("doingoai.rejected", "doingoai.escalations")) for s in allow)
    auditor = auditor_permissions(inbox_prefix("ha-tinh.kiem-toan.99"))
    assert not any(s.startswith(("doingoai.events", "doingoai.escalations", "doingoai.rejected", "$JS.ACK",
                                 "$JS.API.CONSUMER")) for s in auditor["publish"]["allow"])  # type: ignore[index]
    assert auditor["subscribe"]["allow"][0] == "_INBOX_ha-tinh_kiem-toan_99.>"  # type: ignore[index]


def test_no_users_inbox_prefix_covers_another_users_or_the_services():
    """Prefixes are single subject tokens built from the user name; slugs have no underscore."""
    users = ["ha-tinh.so-a.01", "ha-tinh.so-a.02", "ha.tinh-so-a.01", "ha-tinh-so.a.01", "doingoai.services.00"]
    prefixes = {inbox_prefix(u) for u in users} | {SERVICES_INBOX_PREFIX}
    assert len(prefixes) == len(users) + 1 and not any("." in p or "*" in p or ">" in p for p in prefixes)
    assert NatsUser("svc", "x", "service", "", "").inbox_prefix == SERVICES_INBOX_PREFIX


def test_the_nats_authorization_holds_only_bcrypt_hashes_and_no_anonymous_user():
    conf = auth_conf([NatsUser("svc", password_hash("s3cret-service"), "service", "", ""),
                      NatsUser("ht.sngv.1", password_hash("s3cret-agency"), "agency", "ha-tinh", "so-ngoai-vu")])
    assert "s3cret" not in conf and "no_auth_user" not in conf
    users = json.loads("[" + conf.split("users = [", 1)[1].rsplit("]", 1)[0] + "]")
    assert all(bcrypt.checkpw(b"s3cret-agency", u["password"].encode()) for u in users if u["user"] == "ht.sngv.1")
    assert "permissions" not in users[0] and "permissions" in users[1]


@pytest.fixture
def app_client() -> httpx.AsyncClient:
    app = create_app(make_engine("postgresql://nobody:x@127.0.0.1:9/none"), Client())

    async def boom() -> None:
        raise RuntimeError("secret detail of the failure")

    app.add_api_route("/boom", boom)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t")


async def test_an_unexpected_error_answers_500_without_a_stack_trace(app_client: httpx.AsyncClient):
    r = await app_client.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"error": "internal", "message": "internal error; it was logged"}
    assert "secret detail" not in r.text and "Traceback" not in r.text
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_the_dashboard_carries_security_headers(app_client: httpx.AsyncClient):
    r = await app_client.get("/")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


async def test_a_body_over_the_limit_is_refused_before_it_is_read(app_client: httpx.AsyncClient):
    r = await app_client.post("/api/escalations/x/acknowledge", content=b"x" * (1024 * 1024 + 1))
    assert r.status_code == 413 and r.json()["error"] == "too_large"


async def test_openapi_documents_the_event_bodies_and_the_bearer_token(app_client: httpx.AsyncClient):
    doc = (await app_client.get("/openapi.json")).json()
    post = doc["paths"]["/events"]["post"]
    assert {"application/cloudevents+json", "application/cloudevents-batch+json", "application/json"} == set(
        post["requestBody"]["content"])
    assert {"202", "400", "401", "403", "409", "413", "422"} <= set(post["responses"])
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "/api/rejected/{key}/resubmit" in doc["paths"]
