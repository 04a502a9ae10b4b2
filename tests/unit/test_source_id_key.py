"""(source, id) is the idempotency key in the publisher's pure parts: the message id and a chunk's
bookkeeping of the events sent together."""

from __future__ import annotations

import pytest

from schemas.codec import encode
from services.http.lookup import _source_of
from services.store import msg_id
from services.store.outgoing import Chunk, PublishResult, validate
from tests.support import sample

pytestmark = pytest.mark.unit


def test_the_message_id_is_the_source_a_space_and_the_id():
    assert msg_id("/provinces/ha-tinh/agencies/so-ngoai-vu", "e-1") == "/provinces/ha-tinh/agencies/so-ngoai-vu e-1"
    a = validate(sample("activity_held"))
    b = validate(sample("activity_held", agency="so-noi-vu").model_copy(update={"id": a.id}))
    assert a.msg_id == f"{a.source} {a.id}" and a.msg_id != b.msg_id
    assert (a.key, b.key) == ((a.source, a.id), (b.source, a.id))
    source, _, event_id = a.msg_id.partition(" ")  # read back: a source holds no space
    assert (source, event_id) == a.key


def test_a_chunk_keeps_both_sources_equal_ids_and_answers_a_repeated_pair_with_its_first_copy():
    a = validate(encode(sample("activity_held")))
    b = validate(encode(sample("activity_held", agency="so-noi-vu").model_copy(update={"id": a.id})))
    c = validate(encode(sample("activity_held")))
    indexed = validate(encode(sample("activity_held", agency="doingoai").model_copy(update={"id": c.id})))
    chunk = Chunk([a, b, a, c, indexed], earlier={indexed.key: 3})
    assert chunk.fresh == [a, b, c]
    chunk.stored = {v.key: PublishResult(v.id, seq, False) for v, seq in zip(chunk.fresh, (10, 11, 12), strict=True)}
    assert [(r.sequence, r.duplicate) for r in chunk.results()] == [
        (10, False), (11, False), (10, True), (12, False), (3, True)]


def test_the_lookup_reads_the_publishing_source_off_an_events_subject():
    assert _source_of("doingoai.events.ha-tinh.so-noi-vu.activity_held") == "/provinces/ha-tinh/agencies/so-noi-vu"
    assert _source_of("doingoai.escalations.ha-tinh.so-noi-vu") is None
    assert _source_of("doingoai.events.ha-tinh") is None
