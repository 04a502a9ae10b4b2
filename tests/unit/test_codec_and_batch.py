"""The serialisation seam and the batch classification, without a broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.engine.batch import StreamMessage, classify
from schemas.base import registry
from schemas.codec import InvalidEvent, decode, decode_one_pass, encode, from_binary, to_obj
from schemas.envelope import SOURCE_RE, SUBJECT_RE, TYPE_RE, CloudEvent
from tests.support import sample

pytestmark = pytest.mark.unit
NOW = datetime.now(UTC)  # events are stamped now; an event more than 24 h ahead of its recording is refused


def msg(seq: int, raw: bytes, subject: str = "doingoai.events.ha-tinh.so-ngoai-vu.activity_held") -> StreamMessage:
    return StreamMessage(seq, subject, raw, NOW)


def test_encode_then_decode_gives_back_the_same_event():
    event = sample("delegation_received")
    decoded = decode(encode(event))
    assert decoded.envelope == event
    assert decoded.name == "delegation_received"
    assert decoded.envelope.province == "ha-tinh" and decoded.envelope.agency == "so-ngoai-vu"


@pytest.mark.parametrize(
    ("raw", "kind", "path"),
    [
        (b"{", "bad_json", ""),
        (b"[]", "bad_envelope", ""),
        (b'{"specversion":"1.0"}', "bad_envelope", "id"),
    ],
)
def test_invalid_bytes_name_the_kind_and_the_field(raw: bytes, kind: str, path: str):
    with pytest.raises(InvalidEvent) as caught:
        decode(raw)
    assert caught.value.kind == kind
    assert caught.value.problems[0].path == path


def test_unknown_type_and_wrong_aggregate_are_refused():
    obj = json.loads(encode(sample("activity_held")))
    with pytest.raises(InvalidEvent, match="unknown event type"):
        decode(json.dumps({**obj, "type": "vn.gov.doingoai.nothing_happened.v1"}).encode())
    with pytest.raises(InvalidEvent, match="belongs to activity"):
        decode(json.dumps({**obj, "subject": "report/1"}).encode())


def test_time_without_offset_is_refused():
    obj = json.loads(encode(sample("activity_held")))
    with pytest.raises(InvalidEvent) as caught:
        decode(json.dumps({**obj, "time": "2021-05-20T10:00:00"}).encode())
    assert caught.value.problems[0].path == "time"


def test_binary_mode_headers_become_the_structured_event():
    event = sample("activity_held")
    obj = json.loads(encode(event))
    headers = {f"ce-{k}": str(v) for k, v in obj.items() if k not in ("data", "datacontenttype")}
    headers["content-type"] = "application/json"
    structured = from_binary(headers, json.dumps(obj["data"]).encode())
    assert decode(json.dumps(structured).encode()).envelope.id == event.id


def test_classify_keeps_order_and_separates_duplicates_and_rejections():
    a, b = sample("activity_held"), sample("activity_held")
    other_agency = sample("activity_held", agency="so-noi-vu")
    batch = classify(
        [
            msg(1, encode(a)),
            msg(2, b"not json"),
            msg(3, encode(a)),  # same id again: a duplicate of seq 1
            msg(4, encode(other_agency)),  # published under so-ngoai-vu with another agency's source
            msg(5, encode(b)),
        ],
        known={},
    )
    assert [s.seq for s in batch.fresh] == [1, 5]
    assert [(d.seq, d.original_seq) for d in batch.duplicates] == [(3, 1)]
    assert [(r.seq, r.error.kind) for r in batch.rejections] == [(2, "bad_json"), (4, "source_mismatch")]
    assert batch.last_seq == 5


def test_classify_treats_pairs_already_indexed_as_duplicates():
    a = sample("activity_held")
    batch = classify([msg(10, encode(a))], known={(a.source, a.id): 3})
    assert batch.fresh == []
    assert batch.duplicates[0].original_seq == 3
    assert (batch.duplicates[0].source, batch.duplicates[0].id) == (a.source, a.id)


def test_classify_keys_on_source_and_id_not_on_the_id_alone():
    """Another source's equal id is another event, in the batch and against the index; the same
    (source, id) again is a duplicate of its first copy."""
    a = sample("activity_held")
    b = sample("activity_held", agency="so-noi-vu").model_copy(update={"id": a.id})
    system = sample("activity_held", agency="doingoai").model_copy(update={"id": a.id})
    batch = classify(
        [
            msg(1, encode(a)),
            msg(2, encode(b), "doingoai.events.ha-tinh.so-noi-vu.activity_held"),
            msg(3, encode(b), "doingoai.events.ha-tinh.so-noi-vu.activity_held"),
            msg(4, encode(system), "doingoai.events.ha-tinh.doingoai.activity_held"),
        ],
        known={("/provinces/ha-tinh/agencies/so-tu-phap", a.id): 7},  # a third source's, indexed earlier
    )
    assert [(s.seq, s.event.envelope.source) for s in batch.fresh] == [
        (1, a.source), (2, b.source), (4, system.source)]
    assert [(d.seq, d.source, d.id, d.original_seq) for d in batch.duplicates] == [(3, b.source, a.id, 2)]
    assert not batch.rejections


def test_a_candidate_key_is_the_source_and_id_of_each_valid_event():
    from projections.engine.batch import candidate_keys, decode_messages

    a = sample("activity_held")
    decoded = decode_messages([msg(1, encode(a)), msg(2, b"not json")])
    assert candidate_keys(decoded) == [(a.source, a.id)]


def test_a_duplicate_acknowledgement_counts_only_for_the_same_valid_event_on_its_own_subject():
    """`is_copy_of`: what the publisher checks before it believes a "duplicate" answer."""
    from projections.engine.batch import is_copy_of

    a = sample("activity_held")
    mine = "doingoai.events.ha-tinh.so-ngoai-vu.activity_held"
    assert is_copy_of((a.source, a.id), mine, encode(a))
    other = sample("activity_held", agency="so-noi-vu").model_copy(update={"id": a.id})
    assert not is_copy_of((a.source, a.id), "doingoai.events.ha-tinh.so-noi-vu.activity_held", encode(other))
    assert not is_copy_of((a.source, a.id), "doingoai.events.ha-tinh.so-noi-vu.activity_held", encode(a))  # forged
    assert not is_copy_of((a.source, a.id), mine, encode(a).replace(b'"participants":150', b'"participants":-1'))
    assert not is_copy_of((a.source, a.id), mine, b"not json")


def test_a_batch_prepared_ahead_is_decoded_once_and_a_new_reading_is_decoded_afresh():
    from projections.models.handlers import EventsHandler

    handler = EventsHandler([])
    first = [msg(1, encode(sample("activity_held"))), msg(2, b"not json")]
    second = [msg(3, encode(sample("activity_held")))]
    handler.prepare(first)
    handler.prepare(second)  # read ahead while the first is still being written
    ahead = handler.prepared.get(first[0])  # the first prepared batch, still kept
    assert ahead is not None
    decoded = handler.decoded(first)
    assert decoded[0] is ahead  # the older prepared batch is still served
    assert decoded[1].error is not None and decoded[1].error.kind == "bad_json"
    redelivered = msg(1, first[0].data)  # the same sequence read again: not the prepared object
    again = handler.decoded([redelivered])[0]
    assert again is not ahead and again.message is redelivered and again.event is not None
    assert ahead.event is not None and again.event.id == ahead.event.id


def test_the_last_three_batches_prepared_are_kept_and_a_redelivery_outlives_its_first_reading():
    from projections.models.handlers import EventsHandler

    handler = EventsHandler([])
    raw = encode(sample("activity_held"))
    batches = [[msg(k * 5 + i + 1, raw) for i in range(5)] for k in range(4)]
    for batch in batches:
        handler.prepare(batch)
    assert all(handler.prepared.get(m) is None for m in batches[0])  # the oldest batch is let go
    for batch in batches[1:]:
        assert all(handler.prepared.get(m) is not None for m in batch)
    redelivered = msg(batches[1][0].seq, raw)  # read again before its first reading is let go
    handler.prepare([redelivered])  # batches[1] is let go now
    assert handler.prepared.get(batches[1][0]) is None
    assert handler.prepared.get(redelivered) is not None  # the newer reading of that sequence is kept
    assert set(handler.prepared.found) == {m.seq for b in batches[2:] for m in b} | {redelivered.seq}


def test_batch_keeps_the_json_it_parsed_on_the_way_for_the_audit_trail():
    a, aid = sample("activity_held"), sample("aid_committed")  # aid: a decimal amount, decoded in two steps
    aid_subject = "doingoai.events.ha-tinh.so-ngoai-vu.aid_committed"
    batch = classify([msg(1, encode(a)), msg(2, b"not json"), msg(3, b'{"id": "x"}'), msg(4, encode(aid), aid_subject)],
                     known={})
    assert set(batch.parsed) == {3, 4}  # what parsed strictly on the way, valid event or not (1: one pass)
    assert batch.parsed[4]["id"] == aid.id
    assert [s.raw for s in batch.fresh] == [encode(a), encode(aid)]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id": "a\xed\xa0\x80"}',  # a UTF-16 surrogate encoded as raw bytes: not UTF-8
        b'\xef\xbb\xbf{"id": "a"}',  # a byte-order mark
        '{"id": "a"}'.encode("utf-16"),
    ],
)
def test_strict_parsing_wants_plain_utf8(raw: bytes):
    from projections.engine.batch import parse_strict

    with pytest.raises(InvalidEvent) as refused:
        parse_strict(raw)
    assert refused.value.kind == "bad_json"


@given(
    source=st.from_regex(SOURCE_RE, fullmatch=True),
    ce_type=st.from_regex(TYPE_RE, fullmatch=True),
    subject=st.from_regex(SUBJECT_RE, fullmatch=True),
)
def test_envelope_parts_are_the_groups_of_the_patterns(source: str, ce_type: str, subject: str):
    """province, agency, event name and version, aggregate kind and id are read by position: the
    same as the named groups of the patterns every envelope is validated against."""
    envelope = sample("activity_held").model_copy(update={"source": source, "type": ce_type, "subject": subject})
    src, typ, sub = SOURCE_RE.match(source), TYPE_RE.match(ce_type), SUBJECT_RE.match(subject)
    assert src and typ and sub
    assert (envelope.province, envelope.agency) == (src["province"], src["agency"])
    assert (envelope.event_name, envelope.type_version) == (typ["name"], int(typ["version"]))
    assert (envelope.aggregate_kind, envelope.aggregate_id) == (sub["kind"], sub["id"])


def test_a_batch_gives_the_fresh_events_of_several_names_in_stream_order():
    kinds = ["activity_held", "delegation_received", "report_submitted", "activity_held", "delegation_received"]
    messages = [msg(k + 1, encode(sample(kind)), f"doingoai.events.ha-tinh.so-ngoai-vu.{kind}")
                for k, kind in enumerate(kinds)]
    batch = classify(messages, known={})
    assert not batch.rejections
    assert [s.seq for s in batch.named({"delegation_received", "activity_held"})] == [1, 2, 4, 5]
    assert [s.seq for s in batch.named(["report_submitted"])] == [3]
    assert batch.named({"plan_issued"}) == []
    assert batch.named({"activity_held"}) is not batch.named({"activity_held"})  # a list of the caller's own


@pytest.mark.parametrize("name", ["activity_held", "aid_committed"])
def test_an_index_record_holds_the_events_columns_in_their_order(name: str):
    from projections.engine.bulk import _layout
    from projections.models.event_index import index_record
    from projections.models.tables import events

    event = sample(name)
    raw = encode(event)
    stored = classify([msg(7, raw, f"doingoai.events.ha-tinh.so-ngoai-vu.{name}")], known={}).fresh[0]
    record = dict(zip(_layout(events)[0], index_record(stored), strict=True))
    assert record == {
        "seq": 7, "id": event.id, "type": event.type, "name": name, "version": int(event.type.rsplit(".v", 1)[1]),
        "source": event.source,
        "province": "ha-tinh", "agency": "so-ngoai-vu", "subject": event.subject, "time": event.time,
        "recorded_at": NOW, "correlationid": event.correlationid, "causationid": event.causationid,
        "actor": event.actor, "nats_subject": f"doingoai.events.ha-tinh.so-ngoai-vu.{name}", "envelope": raw,
    }


def standard_encode(envelope: CloudEvent) -> bytes:
    """How an event was encoded before `schemas.fastjson.compact`: context attributes put first by
    hand, then `json.dumps`."""
    obj = envelope.model_dump(mode="json", exclude_none=True)
    first = ("specversion", "id", "source", "type", "subject", "time")
    ordered = {k: obj[k] for k in first if k in obj}
    ordered.update({k: v for k, v in obj.items() if k not in ordered})
    return json.dumps(ordered, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize("name", sorted({n for n, _ in registry()}))
def test_every_type_encodes_to_the_bytes_the_standard_library_writes(name: str) -> None:
    """Stored bytes stay what they were: each type's example, with extension attributes, a signed-in
    session's marks, floats and non-ASCII text in its data, and as the one-pass decoder reads it."""
    event = sample(name)
    marked = event.model_copy(update={"actor": "Nguyễn Văn An (an)", "recordedvia": "session"})
    extended = CloudEvent.model_validate({**to_obj(event), "traceparent": "00-ab", "seq": 3, "ok": True})
    floats = event.model_copy(update={"data": {**event.data, "x": [1e-05, 2.5, 1e16], "tên": "Hà Tĩnh\n\x7f"}})
    for envelope in (event, marked, extended, floats):
        raw = encode(envelope)
        assert raw == standard_encode(envelope)
        assert list(json.loads(raw))[:6] == ["specversion", "id", "source", "type", "subject", "time"]
    fast = decode_one_pass(encode(event))
    if fast is not None:
        assert encode(fast.envelope) == standard_encode(fast.envelope)
