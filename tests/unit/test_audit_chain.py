"""The audit chain, its verification and signed heads, as pure functions (no servers)."""

from __future__ import annotations

import hashlib
import itertools
import json
import stat
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.engine.batch import StreamMessage
from projections.models.audit import (
    GENESIS,
    audit_row,
    chain_hash,
    chain_rows,
    describe,
    described_members,
    payload_json,
)
from projections.models.audit_verify import ChainCheck, compare
from schemas.codec import encode
from schemas.signed_heads import BadSignedHead, Signer, check_signed_head, head_message
from services.audit_keys import load_private_key
from services.natsauth import auditor_permissions
from tests.support import sample

pytestmark = pytest.mark.unit
T0 = datetime(2021, 5, 20, tzinfo=UTC)
SUBJECT = "doingoai.events.ha-tinh.so-ngoai-vu.activity_held"


def messages(n: int) -> list[StreamMessage]:
    out = [StreamMessage(i, SUBJECT, encode(sample("activity_held")), T0 + timedelta(seconds=i)) for i in range(1, n)]
    return [*out, StreamMessage(n, "doingoai.events.ha-tinh.so-ngoai-vu.junk", b"not json", T0)]


def rows_of(msgs: list[StreamMessage]) -> list[dict[str, Any]]:
    return chain_rows(msgs, 0, GENESIS)


async def each(items: Iterable[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


async def first_bad(msgs: list[StreamMessage], rows: list[dict[str, Any]], heads: dict[int, str] | None = None):
    check = ChainCheck(heads=heads or {})
    finding = await compare(each(msgs), each(rows), check)
    return finding.seq if finding else None


def test_chain_hash_is_sha256_of_prev_seq_subject_nul_data():
    """The documented byte layout, computed independently, gives the same hash (and a fixed vector)."""
    prev = hashlib.sha256(b"x").hexdigest()
    expected = hashlib.sha256(bytes.fromhex(prev) + (7).to_bytes(8, "big") + SUBJECT.encode() + b"\x00" + b"{}")
    assert chain_hash(prev, 7, SUBJECT, b"{}") == expected.hexdigest()
    assert chain_hash(GENESIS, 1, SUBJECT, b"{}") == "7666d35ca755f5d26d5eb319429ba90080a726517221b26c8c9c61e12a76af62"


def test_rows_link_each_hash_to_the_previous_and_skip_what_is_already_chained():
    msgs = messages(5)
    rows = rows_of(msgs)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(rows))
    again = chain_rows(msgs, 3, rows[2]["hash"])
    assert again == rows[3:]


def test_describe_reads_who_what_when_from_any_payload():
    """Who/what/when come from the subject and payload; junk payloads give empty columns, not errors."""
    event = sample("activity_held")
    got = describe(SUBJECT, encode(event))
    assert (got["province"], got["agency"], got["event_id"]) == ("ha-tinh", "so-ngoai-vu", event.id)
    assert got["event_type"] == event.type and got["aggregate"] == event.subject
    assert got["occurred_at"] == event.time
    junk = describe("doingoai.events.gia-lai.so-ngoai-vu.x", b"\xff\x00")
    assert junk["province"] == "gia-lai" and junk["event_id"] is None and junk["occurred_at"] is None
    odd = describe(SUBJECT, b'{"id": "a\\u0000b\\ud800", "time": "yesterday", "actor": 5}')
    assert odd["event_id"] == "a\ufffdb?" and odd["occurred_at"] is None and odd["actor"] is None
    for far in ("9999-12-31T20:00:00-05:00", "0001-01-01T00:00:00+01:00"):  # no moment in UTC: no column value
        assert describe(SUBJECT, b'{"time": "%s"}' % far.encode())["occurred_at"] is None


_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from(["\x00", "\ud800", "é", "\n"]), max_size=12)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_MEMBERS = st.dictionaries(
    st.sampled_from(["actor", "id", "type", "subject", "time", "data", "x"]) | _TEXT,
    _VALUES | st.sampled_from(["2021-05-20T08:00:00+07:00", "2021-05-20T08:00:00", "đối ngoại"]),
    max_size=7,
)


@st.composite
def _payloads(draw: st.DrawFn) -> bytes:
    """JSON objects as agencies may send them (NaN, huge numbers, escapes, raw surrogates),
    other JSON values, and bytes cut or spliced anywhere."""
    value = draw(_MEMBERS | _VALUES)
    raw = json.dumps(value, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    cut = draw(st.integers(0, len(raw)))
    return draw(st.sampled_from([raw, raw[:cut], raw[:cut] + draw(st.binary(max_size=4)) + raw[cut:],
                                 b"\xef\xbb\xbf" + raw, raw + b" \n"]))


@settings(max_examples=400, deadline=None)
@given(_payloads())
def test_describing_from_the_members_alone_reads_what_parsing_everything_reads(raw):
    """`describe` reads its members without building the rest of the payload: the same columns
    as from the whole payload parsed, whatever the bytes."""
    assert describe(SUBJECT, raw, described_members(raw)) == describe(SUBJECT, raw, payload_json(raw))
    assert describe(SUBJECT, raw) == describe(SUBJECT, raw, payload_json(raw))


def test_describing_a_payload_builds_only_the_members_it_reads():
    raw = encode(sample("activity_held"))
    members = described_members(raw)
    assert set(members) == {"id", "type", "subject", "time"} and members["id"] == json.loads(raw)["id"]


async def test_an_untouched_trail_matches_the_stream():
    msgs = messages(6)
    assert await first_bad(msgs, rows_of(msgs)) is None


async def test_one_altered_byte_is_named():
    msgs = messages(6)
    rows = rows_of(msgs)
    data = bytearray(rows[2]["data"])
    data[10] ^= 1
    rows[2] = {**rows[2], "data": bytes(data)}
    assert await first_bad(msgs, rows) == 3


async def test_a_deleted_row_is_named():
    msgs = messages(6)
    rows = rows_of(msgs)
    del rows[3]
    assert await first_bad(msgs, rows) == 4


async def test_two_swapped_rows_are_named_at_the_first():
    msgs = messages(6)
    rows = rows_of(msgs)
    rows[1], rows[2] = {**rows[2], "seq": 2}, {**rows[1], "seq": 3}
    assert await first_bad(msgs, rows) == 2


async def test_a_forged_row_with_a_recomputed_chain_is_named():
    """Insert a row and re-hash everything after it: the table's own chain is perfect, the stream is not."""
    msgs = messages(6)
    forged = [*msgs[:2], StreamMessage(3, SUBJECT, encode(sample("activity_held")), T0)]
    forged += [m._replace(seq=m.seq + 1) for m in msgs[2:]]
    assert await first_bad(msgs, rows_of(forged)) == 3
    appended = rows_of([*msgs, StreamMessage(7, SUBJECT, b"{}", T0)])
    assert await first_bad(msgs, appended) == 7


async def test_a_changed_timestamp_or_described_column_is_named():
    msgs = messages(6)
    rows = rows_of(msgs)
    rows[4] = {**rows[4], "recorded_at": rows[4]["recorded_at"] + timedelta(days=1)}
    assert await first_bad(msgs, rows) == 5
    rows = rows_of(msgs)
    rows[1] = {**rows[1], "agency": "so-noi-vu"}
    assert await first_bad(msgs, rows) == 2


async def test_a_signed_head_must_match_the_chain_at_its_sequence():
    msgs = messages(6)
    rows = rows_of(msgs)
    assert await first_bad(msgs, rows, {4: rows[3]["hash"]}) is None
    assert await first_bad(msgs, rows, {4: rows[2]["hash"]}) == 4


def test_audit_row_keeps_the_stored_bytes_unchanged():
    msg = StreamMessage(9, SUBJECT, b'{ "spaced" : true }', T0)
    assert audit_row(msg, GENESIS)["data"] == b'{ "spaced" : true }'


def test_signed_head_verifies_and_any_change_is_refused(tmp_path):
    signer = Signer(load_private_key(tmp_path / "k.pem"))
    head = signer.sign(42, "ab" * 32).as_dict()
    assert check_signed_head(head).seq == 42
    for change in ({"seq": 43}, {"hash": "cd" * 32}, {"signed_at": "2020-01-01T00:00:00+00:00"}):
        with pytest.raises(BadSignedHead):
            check_signed_head({**head, **change})
    other = Signer(load_private_key(tmp_path / "other.pem"))
    with pytest.raises(BadSignedHead):
        check_signed_head({**head, "public_key": other.public_key})


def test_the_signed_message_is_canonical_json():
    body = head_message(5, "ab", "2021-01-01T00:00:00+00:00")
    assert body == b'{"chain":"doingoai-audit-v1","hash":"ab","seq":5,"signed_at":"2021-01-01T00:00:00+00:00",' \
                   b'"stream":"DOINGOAI_EVENTS"}'
    assert json.loads(body)["seq"] == 5


def test_the_private_key_is_created_mode_0600_and_its_public_key_exported(tmp_path):
    path = tmp_path / "secrets" / "audit-ed25519.pem"
    key = load_private_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (tmp_path / "secrets" / "audit-ed25519.pub.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert Signer(load_private_key(path)).public_key == Signer(key).public_key
    path.chmod(0o644)
    load_private_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileNotFoundError):
        load_private_key(tmp_path / "missing.pem", create=False)


def test_auditor_may_read_streams_but_not_publish_ack_pull_or_delete():
    perms = auditor_permissions("_INBOX_ha-tinh_kiem-toan_0a1b2c3d")
    allow = perms["publish"]["allow"]  # type: ignore[index]
    deny = perms["publish"]["deny"]  # type: ignore[index]
    assert not any(s.startswith(("doingoai.events", "doingoai.escalations", "doingoai.rejected")) for s in allow)
    assert not any(s.startswith(("$JS.ACK", "$JS.API.CONSUMER.MSG.NEXT", "$JS.API.CONSUMER.DELETE")) for s in allow)
    assert {"doingoai.events.>", "$JS.ACK.>"} <= set(deny)
    assert not any(s.startswith("$JS.API.CONSUMER.") for s in allow)  # a create names its consumer in the body
    assert not any(s.startswith("$JS.API.CONSUMER.CREATE.DOINGOAI_EVENTS.") for s in allow)
    assert "_INBOX.>" not in perms["subscribe"]["allow"]  # type: ignore[index]  (its own inbox prefix only)
