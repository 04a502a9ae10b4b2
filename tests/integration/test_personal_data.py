"""Personal data on the real stack: a delegation whose head is a named person, posted over HTTP, is
stored sealed (the stream holds no name) and read with the name everywhere; one published over NATS
in clear is sealed by the projection; after `doingoai personal-data erase` the names are absent from
`/api/events/{id}`, `/api/activities` (JSON and CSV), `/api/audit?format=jsonl`, the .docx report and
a replay, "[đã xóa]" stands in their place, and `audit verify` still passes; `personal-data export`
lists what is held about a person; an erase by aggregate erases the people its events name; the key
of names is kept in memory only once it is committed."""

from __future__ import annotations

import base64
import io
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import docx
import httpx
import nats
import pytest
from sqlalchemy import select

from projections.models.personal import SECRETS, personal_secret, secret
from schemas.codec import encode
from schemas.envelope import CloudEvent
from schemas.personal import ERASED
from services.db import make_engine
from services.db.migrate import drop_schema, migrate
from tests.integration.test_audit import db
from tests.integration.test_people import CE
from tests.integration.test_recovery import checksums_of
from tests.support import System, nats_options, sample

pytestmark = pytest.mark.integration
P = "ha-tinh"
"""A province the report knows (its plans are reference data)."""
RUN = uuid.uuid4().hex[:6]
HEAD = f"Phạm Thị Lụa {RUN}"
NATS_HEAD = f"Somchai Phomvihane {RUN}"
TITLE = f"Phó Giám đốc Sở {RUN}"
WINDOW = {"kind": "delegation_in", "from_": "2026-11-20", "to": "2026-11-22"}


def delegation(head: str) -> CloudEvent:
    return sample("delegation_received", province=P, agency="so-ngoai-vu", data={
        "head": {"name": head, "title": TITLE}, "arrival_date": "2026-11-20", "departure_date": "2026-11-22",
        "purpose": f"Làm việc {RUN}"})


@pytest.fixture(scope="module")
async def posted(system: System) -> AsyncIterator[dict[str, Any]]:
    """One delegation over HTTP and one over NATS (in clear), projected."""
    creds = system.credentials(P, "so-ngoai-vu")
    by_http, by_nats = delegation(HEAD), delegation(NATS_HEAD)
    r = httpx.post(f"{system.http}/events", content=encode(by_http),
                   headers={**CE, "authorization": f"Bearer {creds['token']}"}, timeout=30)
    assert r.status_code == 202, r.text
    nc = await nats.connect(creds["nats_url"], **nats_options(creds))
    try:
        ack = await nc.jetstream().publish(f"doingoai.events.{P}.so-ngoai-vu.delegation_received", encode(by_nats))
    finally:
        await nc.close()
    system.wait_projected(max(int(r.json()["sequence"]), int(ack.seq)))
    yield {"http": by_http, "nats": by_nats, "seq": {"http": int(r.json()["sequence"]), "nats": int(ack.seq)}}


def audit_lines(system: System) -> list[dict[str, Any]]:
    r = system.get("/api/audit", province=P, format="jsonl", limit=1_000_000)
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines()]


def report_text(system: System) -> str:
    r = system.get("/api/reports/consolidated.docx", province=P, period="2026", timeout=120)
    assert r.status_code == 200, r.text
    doc = docx.Document(io.BytesIO(r.content))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def answers(system: System, posted: dict[str, Any]) -> dict[str, str]:
    """Every answer the names could be in, as text."""
    ids = {k: e.id for k, e in posted.items() if k in ("http", "nats")}
    return {
        "event_http": system.get(f"/api/events/{ids['http']}", province=P).text,
        "event_nats": system.get(f"/api/events/{ids['nats']}", province=P).text,
        "activities": system.get("/api/activities", province=P, **WINDOW).text,
        "activities_csv": system.get("/api/activities", province=P, format="csv", **WINDOW).text,
        "audit_jsonl": "\n".join(json.dumps(line, ensure_ascii=False) for line in audit_lines(system)),
        "report": report_text(system),
    }


async def test_the_stream_holds_the_http_event_sealed_and_the_answers_show_the_name(system: System, posted):
    lines = {line["sequence"]: line for line in audit_lines(system)}
    stored_http = base64.b64decode(lines[posted["seq"]["http"]]["data_base64"]).decode()
    assert HEAD not in stored_http and TITLE not in stored_http and '"name":"pd1.' in stored_http
    stored_nats = base64.b64decode(lines[posted["seq"]["nats"]]["data_base64"]).decode()
    assert NATS_HEAD in stored_nats  # as its publisher wrote it
    conn = await db(system)
    try:  # the read models hold tokens only, whichever path
        rows = [r["detail"] for r in await conn.fetch("SELECT detail::text FROM activities WHERE title = $1",
                                                      f"Làm việc {RUN}")]
        envelopes = [r["e"] for r in await conn.fetch("SELECT envelope::text AS e FROM events WHERE id = ANY($1)",
                                                      [posted["http"].id, posted["nats"].id])]
    finally:
        await conn.close()
    assert len(rows) == 2 and len(envelopes) == 2
    for text in rows + envelopes:
        assert HEAD not in text and NATS_HEAD not in text and "pd1." in text
    seen = answers(system, posted)
    for where in ("event_http", "activities", "activities_csv", "report"):
        assert HEAD in seen[where], where
    for where in ("event_nats", "activities", "activities_csv", "report"):
        assert NATS_HEAD in seen[where], where
    assert "pd1." not in seen["activities"] + seen["activities_csv"] + seen["event_http"]


async def test_export_lists_what_is_held_about_a_person(system: System, posted):
    done = system.cli("personal-data", "export", "--province", P, "--name", f"  {HEAD.upper()} ")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert len(found["keys"]) == 1 and found["keys"][0]["erased_at"] is None
    assert [e["event"]["id"] for e in found["events"]] == [posted["http"].id]
    assert found["events"][0]["event"]["data"]["head"] == {"name": HEAD, "title": TITLE}


async def test_after_erasure_the_names_are_gone_everywhere_and_the_chain_verifies(system: System, posted):
    for name, in_clear in ((HEAD, 0), (NATS_HEAD, 1)):
        done = system.cli("personal-data", "erase", "--province", P, "--name", name)
        assert done.returncode == 0, done.stderr
        erased = json.loads(done.stdout)
        assert len(erased["keys_erased"]) == 1 and erased["events"] == 1 and erased["stored_in_clear"] == in_clear
    seen = answers(system, posted)
    for where, text in seen.items():
        assert HEAD not in text and NATS_HEAD not in text and TITLE not in text, where
    assert ERASED in seen["event_http"] and ERASED in seen["event_nats"] and ERASED in seen["report"]
    assert json.loads(seen["event_http"])["event"]["data"]["head"] == {"name": ERASED, "title": ERASED}
    withheld = [line for line in audit_lines(system) if line["sequence"] == posted["seq"]["nats"]]
    assert withheld[0]["data_base64"] is None and withheld[0]["data_withheld"] == "personal_data_erased"
    verify = system.cli("audit", "verify")
    assert verify.returncode == 0, verify.stderr + verify.stdout
    again = system.cli("personal-data", "export", "--province", P, "--name", HEAD)
    assert json.loads(again.stdout)["events"][0]["event"]["data"]["head"]["name"] == ERASED


async def test_a_replay_does_not_bring_an_erased_name_back(system: System, posted):
    if not system.cli("personal-data", "export", "--province", P, "--name", NATS_HEAD).stdout.count("erased_at\": \"2"):
        await test_after_erasure_the_names_are_gone_everywhere_and_the_chain_verifies(system, posted)
    schema = f"pd_{RUN}"
    done = system.cli("replay", "--schema", schema)
    assert done.returncode == 0, done.stderr
    conn: asyncpg.Connection = await db(system)
    try:
        texts = [r["t"] for r in await conn.fetch(
            f"SELECT envelope::text AS t FROM {schema}.events WHERE id = ANY($1) UNION ALL "
            f"SELECT detail::text FROM {schema}.activities WHERE title = $2",
            [posted["http"].id, posted["nats"].id], f"Làm việc {RUN}")]
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()
    assert len(texts) == 4
    assert not any(HEAD in t or NATS_HEAD in t for t in texts), texts
    # the name stored in clear is written as the live projection sealed it before the erasure: the
    # rebuilt read models equal the live ones, table by table
    assert json.loads(done.stdout)["checksums"] == await checksums_of(system, "doingoai")


async def test_erase_by_aggregate_erases_the_people_its_events_name(system: System):
    creds = system.credentials(P, "so-ngoai-vu")
    head = f"Trần Văn Bình {RUN}"
    event = delegation(head)
    r = httpx.post(f"{system.http}/events", content=encode(event),
                   headers={**CE, "authorization": f"Bearer {creds['token']}"}, timeout=30)
    assert r.status_code == 202, r.text
    system.wait_projected(int(r.json()["sequence"]))
    assert head in system.get(f"/api/events/{event.id}", province=P).text
    done = system.cli("personal-data", "erase", "--province", P, "--subject", event.subject)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["events"] == 1
    assert head not in system.get(f"/api/events/{event.id}", province=P).text
    refused = system.cli("personal-data", "erase", "--province", P)
    assert refused.returncode == 2 and "give --name or --subject" in refused.stderr


async def test_the_key_of_names_is_kept_only_once_read_committed(system: System):
    """`secret` keeps what an engine read of the key once it is committed: one a transaction made and
    read again before rolling back is not kept, and the key a later transaction makes is the one used."""
    url, schema = system.runtime()["database_url"], f"t_secret_{uuid.uuid4().hex[:8]}"
    await migrate(url, schema)
    engine = make_engine(url, schema, pool_size=1)
    try:
        async with engine.connect() as conn:
            made = await secret(conn)
            assert await secret(conn) == made  # read again in the transaction that made it
            await conn.rollback()
        assert engine.sync_engine not in SECRETS
        async with engine.begin() as conn:
            kept = await secret(conn)
        assert kept != made and engine.sync_engine not in SECRETS
        async with engine.connect() as conn:
            assert await secret(conn) == kept
            stored = await conn.scalar(select(personal_secret.c.secret))
        assert SECRETS[engine.sync_engine] == kept == bytes(stored)
    finally:
        await engine.dispose()
        await drop_schema(url, schema)
