"""The audit trail on the real stack: tampering is detected and named, signed heads prove that later
history extends earlier history, replays rebuild the read models, auditors read but never write."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from projections.models.audit import chain_hash
from schemas.codec import encode
from schemas.signed_heads import Signer
from services.audit_keys import load_private_key
from services.store import EVENTS_STREAM
from services.store.publisher import Publisher
from tests.support import System, new_system, sample

pytestmark = pytest.mark.integration
CE = {"content-type": "application/cloudevents+json"}


@pytest.fixture(scope="module")
async def audited(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    """A system of its own (its audit table gets tampered with), signing every 5 sequences, holding
    valid events, a repeat of a stored id and a message that is not an event."""
    system = new_system(tmp_path_factory.mktemp("audit"), DOINGOAI_AUDIT_SIGN_EVERY="5",
                        DOINGOAI_ESCALATIONS="false").start()
    nc = await system.service_nats()
    events = [sample("activity_held" if i % 2 else "delegation_received") for i in range(20)]
    await Publisher(nc, lookup=False).publish_many(events)
    js = nc.jetstream()
    await js.publish("doingoai.events.ha-tinh.so-ngoai-vu.activity_held", encode(events[1]))  # a repeat
    await js.publish("doingoai.events.ha-tinh.so-ngoai-vu.activity_held", b'{"not": "an event"}')
    last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
    await nc.close()
    system.wait_projected(last)
    yield system
    system.stop()


async def db(system: System) -> asyncpg.Connection:
    conn = await asyncpg.connect(system.runtime()["database_url"])
    await conn.execute("SET search_path TO doingoai")
    return conn


@asynccontextmanager
async def tampered(system: System, *statements: str) -> AsyncIterator[asyncpg.Connection]:
    """Run SQL against the audit table, then put the original rows back."""
    conn = await db(system)
    await conn.execute("CREATE TEMP TABLE original AS SELECT * FROM audit_trail")
    try:
        for statement in statements:
            await conn.execute(statement)
        yield conn
    finally:
        async with conn.transaction():
            await conn.execute("DELETE FROM audit_trail")
            await conn.execute("INSERT INTO audit_trail SELECT * FROM original")
        await conn.close()


def verify(system: System, *args: str) -> tuple[int, dict[str, Any], str]:
    done = system.cli("audit", "verify", "--wait", "5", *args)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}, done.stderr


def assert_named(system: System, seq: int) -> None:
    code, report, stderr = verify(system)
    assert code == 1, stderr
    assert report["ok"] is False and report["first_bad_seq"] == seq, report
    assert f"sequence {seq}" in stderr


async def stream_last(system: System) -> int:
    nc = await system.service_nats()
    try:
        return (await nc.jetstream().stream_info(EVENTS_STREAM)).state.last_seq
    finally:
        await nc.close()


async def test_an_untouched_history_verifies_and_covers_every_stream_message(audited: System):
    """Valid, repeated and invalid messages each have a row; verify passes; heads were signed every 5."""
    last = await stream_last(audited)
    code, report, stderr = verify(audited)
    assert code == 0, stderr
    assert report["ok"] and report["verified_through"] == last == report["rows"]
    assert report["signed_heads_checked"] == last // 5
    items = audited.get("/api/audit").json()["items"]
    assert [i["sequence"] for i in items] == list(range(1, last + 1))
    assert {i["status"] for i in items} == {"stored", "duplicate", "rejected"}


async def test_altering_one_byte_of_one_row_is_detected_and_named(audited: System):
    async with tampered(audited, "UPDATE audit_trail SET data = set_byte(data, 20, get_byte(data, 20) # 1) "
                                 "WHERE seq = 7"):
        assert_named(audited, 7)
    async with tampered(audited, "UPDATE audit_trail SET agency = 'so-noi-vu' WHERE seq = 8"):
        assert_named(audited, 8)


async def test_deleting_a_row_is_detected_and_named(audited: System):
    async with tampered(audited, "DELETE FROM audit_trail WHERE seq = 9"):
        assert_named(audited, 9)


async def test_swapping_two_rows_is_detected_and_named(audited: System):
    async with tampered(audited, "UPDATE audit_trail SET seq = -4 WHERE seq = 4",
                        "UPDATE audit_trail SET seq = 4 WHERE seq = 5",
                        "UPDATE audit_trail SET seq = 5 WHERE seq = -4"):
        assert_named(audited, 4)


async def test_inserting_a_forged_row_is_detected_and_named_even_with_a_rehashed_chain(audited: System):
    """A forged row slipped in at 11 with every later row renumbered and re-hashed (the table's own
    chain is flawless), and a forged row appended after the last: both are named."""
    forged = encode(sample("activity_held"))
    async with tampered(audited) as conn:
        rows = [dict(r) for r in await conn.fetch("SELECT * FROM audit_trail ORDER BY seq")]
        fake = {**rows[10], "data": forged, "event_id": json.loads(forged)["id"]}
        rewritten, prev = [], rows[9]["hash"]
        for seq, row in enumerate([fake, *rows[10:]], start=11):
            row = {**row, "seq": seq, "prev_hash": prev}
            row["hash"] = prev = chain_hash(prev, seq, row["nats_subject"], row["data"])
            rewritten.append(row)
        await conn.execute("DELETE FROM audit_trail WHERE seq >= 11")
        await conn.copy_records_to_table("audit_trail", records=[tuple(r.values()) for r in rewritten],
                                         columns=list(rewritten[0]))
        assert_named(audited, 11)
    async with tampered(audited) as conn:
        head = await conn.fetchrow("SELECT * FROM audit_trail ORDER BY seq DESC LIMIT 1")
        seq = head["seq"] + 1
        await conn.execute(
            "INSERT INTO audit_trail (seq, nats_subject, data, recorded_at, prev_hash, hash) "
            "VALUES ($1, $2, $3, now(), $4, $5)",
            seq, head["nats_subject"], b"{}", head["hash"], chain_hash(head["hash"], seq, head["nats_subject"], b"{}"),
        )
        assert_named(audited, seq)


async def test_a_signed_head_from_earlier_verifies_against_the_later_chain(audited: System, tmp_path: Path):
    """export-head now; publish more; `verify --head` proves the new chain extends it. A head whose
    hash the chain does not have (validly signed) fails naming its sequence; a forged signature is refused."""
    done = audited.cli("audit", "export-head", "--out", str(tmp_path / "head.json"))
    assert done.returncode == 0, done.stderr
    head = json.loads((tmp_path / "head.json").read_text())
    assert {"seq", "hash", "signed_at", "signature", "public_key"} <= set(head)
    nc = await audited.service_nats()
    results = await Publisher(nc, lookup=False).publish_many([sample("activity_held") for _ in range(7)])
    await nc.close()
    audited.wait_projected(results[-1].sequence)
    code, report, stderr = verify(audited, "--head", str(tmp_path / "head.json"))
    assert code == 0, stderr
    assert report["verified_through"] > head["seq"]

    key = load_private_key(audited.data_dir / "secrets" / "audit-ed25519.pem", create=False)
    assert Signer(key).public_key == head["public_key"]
    other = Signer(key).sign(head["seq"], hashlib.sha256(b"another history").hexdigest()).as_dict()
    (tmp_path / "other.json").write_text(json.dumps(other))
    code, report, _ = verify(audited, "--head", str(tmp_path / "other.json"))
    assert code == 1 and report["first_bad_seq"] == head["seq"]
    (tmp_path / "forged.json").write_text(json.dumps({**head, "seq": head["seq"] - 1}))
    assert verify(audited, "--head", str(tmp_path / "forged.json"))[0] == 2


async def test_api_audit_filters_a_period_and_exports_csv_and_jsonl_that_recompute(audited: System):
    base = "/api/audit"
    today = datetime.now(UTC).date()
    assert audited.get(base, from_="2000-01-01", to="2000-12-31").json()["count"] == 0
    period = audited.get(base, from_=str(today.replace(day=1)), agency="so-ngoai-vu").json()["items"]
    assert period and all(i["agency"] == "so-ngoai-vu" for i in period)
    csv_text = audited.get(base, format="csv", limit="3").text
    assert csv_text.lstrip("\ufeff").splitlines()[0].startswith("sequence,recorded_at")
    lines = audited.get(base, format="jsonl").text.splitlines()
    rows = [json.loads(line) for line in lines]
    prev = "0" * 64
    for row in rows:
        data = base64.b64decode(row["data_base64"])
        assert row["prev_hash"] == prev
        assert row["hash"] == independent_hash(prev, row["sequence"], row["nats_subject"], data)
        prev = row["hash"]
    newest = audited.get(base, order="desc", limit="1").json()["items"][0]
    assert newest["sequence"] == rows[-1]["sequence"] and newest["hash"] == rows[-1]["hash"]
    assert audited.get(base, from_="yesterday").status_code == 400


def independent_hash(prev: str, seq: int, subject: str, data: bytes) -> str:
    """The README's definition, written again here without the project's code."""
    return hashlib.sha256(bytes.fromhex(prev) + seq.to_bytes(8, "big") + subject.encode() + b"\0" + data).hexdigest()
