"""Agencies' signatures on the stream: the first check of the authority step (`projections.models.authority`).

Each fresh event of a batch is checked with `schemas.keyring.KeyRing.check` as recorded (its JetStream
timestamp), against the keys registered for its province and the province's requirements: a bad
signature, or a missing one where the province requires it, leaves the batch as a rejection of kind
`bad_signature` before any rule or projection sees it. The verifying key of every signed event that
is stored is written to `event_signatures` in the batch's transaction.

`agency_keys` and `signature_requirements` are not derived from events (like `credentials`): a replay
copies them from the live schema (`copy_keys`) and so decides as the live projection did.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Identity, Table, Text, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.engine.batch import Batch, Stored
from projections.engine.bulk import insert_rows
from projections.engine.tables import metadata
from schemas.keyring import AgencyKey, KeyRing, Requirement, SignatureRefusal, Signed, is_signed

agency_keys = Table(
    "agency_keys",
    metadata,
    Column("key_id", Text, primary_key=True, comment="hex SHA-256 of the key's DER SubjectPublicKeyInfo"),
    Column("province", Text, nullable=False, index=True),
    Column("agency", Text, nullable=False),
    Column("algorithm", Text, nullable=False, comment="ed25519 or ecdsa-p256-sha256"),
    Column("public_key", Text, nullable=False, comment="PEM (SubjectPublicKeyInfo)"),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    comment="Agencies' public keys that verify their signed events (doingoai keys); not derived from events",
)

signature_requirements = Table(
    "signature_requirements",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("province", Text, nullable=False, index=True),
    Column("agency", Text, nullable=False),
    Column("required", Boolean, nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    comment="From `since` on, the agency's events must be signed (or need not be): a history, never rewritten",
)

event_signatures = Table(
    "event_signatures",
    metadata,
    Column("seq", BigInteger, primary_key=True, comment="stream sequence of the stored event"),
    Column("event_id", Text, nullable=False),
    Column("key_id", Text, nullable=False),
    Column("algorithm", Text, nullable=False),
    Column("extensions", Text, nullable=False, comment="signed extension attributes: none, verified or skipped"),
    comment="The key that verified each stored signed event (derived from the stream and agency_keys)",
)


_KEYRING = text(
    "SELECT (SELECT coalesce(json_agg(k), '[]') FROM agency_keys k WHERE k.province = ANY(:provinces)),"
    " (SELECT coalesce(json_agg(r), '[]') FROM signature_requirements r WHERE r.province = ANY(:provinces))"
)
"""The keys and requirements of some provinces, in one round trip."""


async def read_keyring(conn: AsyncConnection, provinces: Sequence[str]) -> KeyRing:
    """The keys registered in `provinces` and their requirements."""
    if not provinces:
        return KeyRing()
    keys, required = (await conn.execute(_KEYRING, {"provinces": list(provinces)})).one()
    return KeyRing([AgencyKey.of(k) for k in _rows(keys)], [Requirement.of(r) for r in _rows(required)])


def _rows(found: Any) -> list[dict[str, Any]]:
    return json.loads(found) if isinstance(found, str | bytes) else list(found)


async def read(conn: AsyncConnection, batch: Batch) -> KeyRing:
    return await read_keyring(conn, sorted({s.event.envelope.province for s in batch.fresh}))


def check(stored: Stored, ring: KeyRing) -> Signed | SignatureRefusal | None:
    """The signature of a fresh event, as recorded."""
    if not ring.keys and not ring.requirements and not is_signed(stored.event.envelope):
        return None  # the common case: nothing to read
    return ring.check(stored.event.envelope, stored.raw, stored.recorded_at)


def row(stored: Stored, signed: Signed) -> dict[str, Any]:
    return {"seq": stored.seq, "event_id": stored.event.id, "key_id": signed.key_id,
            "algorithm": signed.algorithm, "extensions": signed.extensions}


async def write(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await insert_rows(conn, event_signatures, rows, conflict=("seq",))


async def copy_keys(source: AsyncConnection, target: AsyncConnection) -> int:
    """Copy the registered keys and requirements from `source` (the live schema) into `target`'s empty
    tables (a replay's); the keys copied."""
    count = 0
    for table in (agency_keys, signature_requirements):
        rows = [dict(r) for r in (await source.execute(select(table))).mappings()]
        if rows:
            await target.execute(table.insert(), rows)
        count += len(rows) if table is agency_keys else 0
    return count
