"""Agencies' signatures at the door of HTTP ingest (`services.http.ingest`).

A signed event's `data` was hashed as the text it came as, so the door keeps that text: the event is
stored with its `data` written exactly as received (`schemas.codec.encode_keeping_data`), in
structured, binary (the body, without surrounding whitespace) and batched mode alike. Before it is
stored, what will be stored is checked with the keys registered for the publisher's province
(`schemas.keyring`): a bad signature, or a missing one where the province requires it, is refused
`400 bad_signature` and kept as every refusal is; the projection checks every event again, by the
moment it was recorded. The service signs nothing for an agency: an event recorded in a signed-in
session is marked `recordedvia: "session"` and carries only what the agency's own system signed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.models.signatures import event_signatures, read_keyring
from schemas.codec import Event, InvalidEvent, Problem, decode, encode, encode_keeping_data
from schemas.envelope import CloudEvent
from schemas.jsontext import element_member_texts, member_text, strip
from schemas.keyring import KeyRing, SignatureRefusal
from schemas.signatures import ATTRIBUTE
from services.db import engine_key
from services.store.outgoing import Valid

RECORDED_VIA = "recordedvia"
"""The extension attribute that marks an event recorded in a signed-in session (value `session`)."""


def _signed(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj.get(ATTRIBUTE))


def data_text(obj: Any, body: bytes) -> bytes | None:
    """The text of a signed structured-mode event's `data`, as received (None if unsigned)."""
    return member_text(body, "data") if _signed(obj) else None


def binary_data_text(obj: Any, body: bytes) -> bytes | None:
    """The text of a signed binary-mode event's `data`: the body, without surrounding whitespace."""
    return strip(body) if _signed(obj) else None


def batch_data_texts(objs: Sequence[Any], body: bytes) -> list[bytes | None]:
    """The text of each signed event's `data` in a batch, as received (None for unsigned ones)."""
    if not any(_signed(obj) for obj in objs):
        return [None] * len(objs)
    texts = element_member_texts(body, "data") or [None] * len(objs)
    return [text if _signed(obj) else None for obj, text in zip(objs, texts, strict=True)]


def session_marks(actor: str) -> dict[str, str]:
    """What the door sets on an event recorded in a signed-in session."""
    return {"actor": actor, RECORDED_VIA: "session"}


def stored_bytes(envelope: CloudEvent, data: bytes | None) -> bytes:
    """The bytes the event is stored as: with its `data` as received if it was signed."""
    return encode(envelope) if data is None else encode_keeping_data(envelope, data)


KEYRING_TTL_S = 1.0
"""How long the door reuses a province's keys and requirements to let an event in (a refusal is always
decided on a fresh read; the projection decides every event again by the moment it was recorded)."""
_rings: dict[tuple[str, str], tuple[float, KeyRing]] = {}


async def _keyring(engine: AsyncEngine, province: str, *, fresh: bool) -> KeyRing:
    key = (engine_key(engine), province)
    cached = _rings.get(key)
    if not fresh and cached is not None and cached[0] > time.monotonic():
        return cached[1]
    async with engine.connect() as conn:
        ring = await read_keyring(conn, [province])
    if len(_rings) > 1000:
        _rings.clear()
    _rings[key] = (time.monotonic() + KEYRING_TTL_S, ring)
    return ring


async def signature_refusals(engine: AsyncEngine, province: str,
                             decoded: Sequence[tuple[Valid, Event]]) -> list[InvalidEvent | None]:
    """For each event about to be stored, its refusal by the signature check, or None."""
    if not decoded:
        return []
    now = datetime.now(UTC)
    for fresh in (False, True):
        ring = await _keyring(engine, province, fresh=fresh)
        found = [ring.check(event.envelope, valid.raw, now) for valid, event in decoded]
        if not any(isinstance(f, SignatureRefusal) for f in found):
            break
    return [InvalidEvent(f.kind, [Problem(f.path, f.message)]) if isinstance(f, SignatureRefusal) else None
            for f in found]


async def refusal_of(engine: AsyncEngine, envelope: CloudEvent) -> InvalidEvent | None:
    """The signature check of an event the service builds for the publisher (it signs nothing): refused
    where the publisher's province requires its events to be signed."""
    raw = encode(envelope)
    return (await signature_refusals(engine, envelope.province, [(Valid.of(envelope, raw), decode(raw))]))[0]


def signature_view(key_id: str | None, algorithm: str | None, extensions: str | None = None) -> dict[str, Any] | None:
    """How a read shows a stored event's signature: the key that verified it (None: unsigned)."""
    if key_id is None:
        return None
    found: dict[str, Any] = {"key_id": key_id, "algorithm": algorithm, "verified": True}
    if extensions is not None:
        found["extensions"] = extensions
    return found


async def signature_of(engine: AsyncEngine, seq: int) -> dict[str, Any] | None:
    """The signature of the event stored at `seq`, as the projection verified it (None: unsigned)."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(event_signatures).where(event_signatures.c.seq == seq))).first()
    return None if row is None else signature_view(row.key_id, row.algorithm, row.extensions)
