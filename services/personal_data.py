"""Personal data at the doors and in the answers: sealing what is posted, opening what is read,
erasing a person and exporting what is held about them (docs/personal-data.md).

The HTTP door seals an event's personal values before it is published (`seal_posted`), with keys
committed first, so the stream holds tokens only. Whatever leaves the service — JSON answers
(`services.http.reveal`), CSV, the .docx report, the CLI's exports — has its tokens opened by
`reveal`: the name while the person's key lives, `[đã xóa]` once it is erased.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from projections.models.personal import (
    Wanted,
    in_clear,
    keep_sealed_before,
    keys_by_id,
    opened,
    person_keys,
    personal_keys,
    personal_refs,
    sealed_envelope,
    secret,
)
from projections.models.tables import events, rejected
from schemas.codec import Event, decode_obj, encode, to_obj
from schemas.envelope import CloudEvent
from schemas.personal import PREFIX, TOKEN_RE, digest, normalized, person_of, seal, strings_in
from schemas.signatures import ATTRIBUTE
from services.db.tables import users
from services.store.outgoing import Valid


async def seal_posted(engine: AsyncEngine, decoded: Sequence[tuple[Valid, Event]]) -> list[Valid]:
    """The events to publish, each with its personal values sealed (an event its agency signed is
    stored as signed: the signature covers the bytes as written; the projection seals its copies)."""
    sealed = await _sealed(engine, [event for _, event in decoded])
    return [valid if done is None else Valid.of(done, encode(done))
            for (valid, _), done in zip(decoded, sealed, strict=True)]


async def seal_recorded(engine: AsyncEngine, envelope: CloudEvent) -> CloudEvent:
    """An event the service itself records (an acknowledgement), its personal values sealed."""
    done = (await _sealed(engine, [decode_obj(to_obj(envelope))]))[0]
    return envelope if done is None else done


async def _sealed(engine: AsyncEngine, found: Sequence[Event]) -> list[CloudEvent | None]:
    """Each event's envelope with its personal values in clear sealed (keys committed first), or None:
    nothing to seal."""
    clear = [[] if ATTRIBUTE in event.extensions else in_clear(event) for event in found]
    if not any(clear):
        return [None] * len(found)
    wanted = [Wanted(event.envelope.province, v, p) for event, values in zip(found, clear, strict=True)
              for v, p in values]
    keys = await _KEYS.of(engine, wanted)
    tokens = iter(seal(k[1], k[0], w.province, w.text) for w, k in zip(wanted, keys, strict=True))
    return [sealed_envelope(event, {v: next(tokens) for v, _ in values}) if values else None
            for event, values in zip(found, clear, strict=True)]


class DoorKeys:
    """The keys the door seals with, kept for `ttl_s` after they were read: a person posted about
    again costs no query. A key erased meanwhile may still seal for that long (what is recorded
    then reads as erased too)."""

    def __init__(self, ttl_s: float = 1.0):
        self.ttl_s = ttl_s
        self.held: dict[tuple[int, str, str], tuple[float, tuple[str, bytes]]] = {}
        """(engine, province, normalized name) -> (until, key)"""

    async def of(self, engine: AsyncEngine, wanted: Sequence[Wanted]) -> list[tuple[str, bytes]]:
        now = time.monotonic()
        # held by the person as `digest` reads them (normalized name), so a hit costs no HMAC
        whose = [(id(engine), w.province, normalized(person_of(w.person))) for w in wanted]
        found = [hit[1] if (hit := self.held.get(k)) is not None and hit[0] > now else None for k in whose]
        todo = [n for n, k in enumerate(found) if k is None]
        if todo:
            async with engine.connect() as conn:  # one query; a write only for a person seen first
                keys = await person_keys(conn, [wanted[n] for n in todo])
                await conn.commit()
            if len(self.held) > 10_000:
                self.held = {k: v for k, v in self.held.items() if v[0] > now}
            for n, key in zip(todo, keys, strict=True):
                assert key is not None  # nothing posted now was stored before an erasure
                found[n] = key
                self.held[whose[n]] = (now + self.ttl_s, key)
        return [k for k in found if k is not None]


_KEYS = DoorKeys()


def _texts(obj: Any) -> list[str]:
    return [t for t in strings_in(obj) if PREFIX in t]


def _opened(obj: Any, keys: dict[str, tuple[str, bytes | None]]) -> Any:
    if isinstance(obj, str):
        return opened(obj, keys)
    if isinstance(obj, dict):
        return {k: _opened(v, keys) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_opened(v, keys) for v in obj]
    return obj


def key_ids(texts: Iterable[str]) -> set[str]:
    return {m.group(1) for t in texts for m in TOKEN_RE.finditer(t)}


async def revealed(conn: AsyncConnection, obj: Any) -> Any:
    """`obj` (JSON-like: dicts, lists, strings, other values kept) with every token in its strings opened."""
    ids = key_ids(_texts(obj))
    return _opened(obj, await keys_by_id(conn, ids)) if ids else obj


async def reveal(engine: AsyncEngine, obj: Any) -> Any:
    """`revealed`, on a connection of its own (taken only if `obj` holds a token)."""
    if not key_ids(_texts(obj)):
        return obj
    async with engine.connect() as conn:
        return await revealed(conn, obj)


@dataclass(frozen=True)
class Erased:
    province: str
    keys: list[str]
    events: int
    """Events that named the person."""
    in_clear: int
    """Of them, events whose stored bytes hold the name as written (published over NATS, or signed)."""
    rejected_scrubbed: int

    def as_dict(self) -> dict[str, Any]:
        return {"province": self.province, "keys_erased": self.keys, "events": self.events,
                "stored_in_clear": self.in_clear, "rejected_scrubbed": self.rejected_scrubbed}


async def person_key_ids(engine: AsyncEngine, province: str, name: str) -> list[str]:
    """The ids of the keys (live or erased) of the person of that name in the province."""
    async with engine.connect() as conn:
        return await _person_keys(conn, province, name)


async def _person_keys(conn: Any, province: str, name: str) -> list[str]:
    person = digest(await secret(conn), province, name)
    return list(await conn.scalars(select(personal_keys.c.key_id).where(
        personal_keys.c.province == province, personal_keys.c.person == person)))


async def erase(engine: AsyncEngine, province: str, *, name: str | None = None,
                subject: str | None = None) -> Erased:
    """Destroy the key of a person (`name`), or of every person the payloads of an aggregate's events
    name (`subject`, e.g. `delegation/dl-2025-07`): from now on every copy of their sealed data reads
    `[đã xóa]`, wherever it is. Refused events that quote the name are scrubbed."""
    async with engine.begin() as conn:
        ids = await _person_keys(conn, province, name) if name is not None else await _named_in(conn, province,
                                                                                                  subject or "")
        await keep_sealed_before(conn, province, ids)
        erased = list(await conn.scalars(
            update(personal_keys).where(personal_keys.c.key_id.in_(ids), personal_keys.c.province == province,
                                        personal_keys.c.erased_at.is_(None))
            .values(key=None, erased_at=datetime.now(UTC)).returning(personal_keys.c.key_id)))
        refs = (await conn.execute(select(personal_refs.c.seq, personal_refs.c.in_clear)
                                   .where(personal_refs.c.key_id.in_(ids)))).all()
        scrubbed = await _scrub_rejected(conn, province, name) if name else 0
    return Erased(province, erased, len({r.seq for r in refs}), len({r.seq for r in refs if r.in_clear}), scrubbed)


async def _named_in(conn: AsyncConnection, province: str, subject: str) -> list[str]:
    """The key ids of the people the payloads of the aggregate's events name (not who recorded them)."""
    datas = await conn.scalars(select(events.c.envelope["data"]).where(events.c.province == province,
                                                                       events.c.subject == subject))
    return sorted(key_ids(_texts(list(datas))))


async def _scrub_rejected(conn: Any, province: str, name: str) -> int:
    """Refused events are kept as they came (the first 4 KiB): those of the province that quote the
    name lose their raw bytes."""
    rows = (await conn.execute(select(rejected.c.key, rejected.c.raw).where(
        rejected.c.publisher.like(f"{province}.%"), rejected.c.raw != b""))).all()
    wanted = normalized(name)
    hit = [r.key for r in rows if wanted in normalized(_text(r.raw))]
    if hit:
        await conn.execute(update(rejected).where(rejected.c.key.in_(hit)).values(raw=b""))
    return len(hit)


def _text(raw: Any) -> str:
    return bytes(raw).decode("utf-8", "replace") if isinstance(raw, bytes | memoryview) else str(raw)


async def export(engine: AsyncEngine, province: str, name: str) -> dict[str, Any]:
    """Everything held about a person of a province, for an access request: their keys, every stored
    event that names them (opened), and their account, if any."""
    async with engine.connect() as conn:
        ids = await _person_keys(conn, province, name)
        keys = (await conn.execute(select(personal_keys.c.key_id, personal_keys.c.created_at,
                                          personal_keys.c.erased_at).where(personal_keys.c.key_id.in_(ids)))).all()
        seqs = sorted(set(await conn.scalars(select(personal_refs.c.seq).where(personal_refs.c.key_id.in_(ids)))))
        rows = (await conn.execute(select(events.c.seq, events.c.recorded_at, events.c.envelope)
                                   .where(events.c.seq.in_(seqs)).order_by(events.c.seq))).mappings().all()
        wanted = normalized(name)
        accounts = [
            {k: r[k] for k in ("username", "name", "title", "province", "agency", "role", "created_at")}
            for r in (await conn.execute(select(users).where(users.c.province == province))).mappings()
            if normalized(r["name"] or "") == wanted
        ]
    found = [{"sequence": r["seq"], "recorded_at": r["recorded_at"], "event": r["envelope"]} for r in rows]
    out = {"province": province, "name": name,
           "keys": [{"key_id": k.key_id, "created_at": k.created_at, "erased_at": k.erased_at} for k in keys],
           "events": found, "accounts": accounts}
    return json.loads(json.dumps(await reveal(engine, out), default=_iso, ensure_ascii=False))


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)
