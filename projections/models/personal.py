"""Personal data: the key of each person, sealing (`schemas.personal`), and where each person is named.

`personal_keys` holds one AES-256 key per person of a province, found by a keyed hash of the name
(`schemas.personal.digest`, with the database's own `personal_secret`): the table names nobody.
Erasure (`doingoai personal-data erase`) destroys a key and keeps the row: `erased_at` says when, so
that what was recorded in clear before then reads as erased too, in every replay.

Events posted over HTTP are sealed at the door, so the stream holds only tokens. An event published
straight over NATS, or signed by its agency (whose signature covers the bytes as written), is
stored as its publisher wrote it; the projection seals its personal values before any read model
sees them (`seal_batch`), so the read models, the event index and the audit trail's columns hold
tokens either way. `personal_refs` records, for each person, the events that name them and whether
the stored bytes hold the name in clear.

The keys are not derived from events: they are written in the transaction of the batch that first
needs them (or by the door, committed before the event is published), and a replay copies them
from the live schema (`copy_personal`), the erased ones with them. So does `personal_erased`: what
each value a person's events held in clear was sealed as, kept when their key is destroyed, so that
a replay writes those values as the live projection wrote them (`seal_texts`), and the read models
it rebuilds equal the live ones after an erasure too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, LargeBinary, Table, Text, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.engine.batch import Batch, Stored
from projections.engine.bulk import fetch, insert_rows
from projections.engine.tables import metadata
from projections.models.tables import events
from schemas.codec import Event, decode_obj, to_obj
from schemas.envelope import CloudEvent
from schemas.personal import (
    ERASED,
    PREFIX,
    TOKEN_RE,
    digest,
    is_sealed,
    key_id_of,
    new_key,
    new_key_id,
    open_token,
    people_at,
    personal_paths,
    replaced,
    seal,
    strings_in,
    tokens_in,
    value_digest,
    values_at,
)

personal_keys = Table(
    "personal_keys",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("province", Text, nullable=False),
    Column("person", Text, nullable=False, comment="HMAC-SHA256 of the normalized name (schemas.personal.digest)"),
    Column("key", LargeBinary, comment="AES-256-GCM key; NULL once erased"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("erased_at", DateTime(timezone=True), comment="when `doingoai personal-data erase` destroyed the key"),
    Index("ix_personal_keys_person", "province", "person"),
    Index("uq_personal_keys_live", "province", "person", unique=True, postgresql_where=text("erased_at IS NULL")),
    comment="One key per person of a province, sealing their personal data; not derived from events",
)

personal_secret = Table(
    "personal_secret",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("secret", LargeBinary, nullable=False),
    comment="The HMAC key of personal_keys.person (one row)",
)

personal_refs = Table(
    "personal_refs",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("seq", BigInteger, primary_key=True, index=True, comment="stream sequence of the event naming the person"),
    Column("in_clear", Boolean, nullable=False, comment="the stored bytes hold the name as written (not sealed)"),
    comment="Which events name which person (derived from the stream and the keys)",
)

personal_erased = Table(
    "personal_erased",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("value", Text, primary_key=True,
           comment="HMAC-SHA256 of a value held in clear (schemas.personal.value_digest)"),
    Column("token", Text, nullable=False, comment="what the projection sealed it as, before the key was erased"),
    comment="For an erased key: what the values its events held in clear were sealed as; not derived from events",
)

Key = tuple[str, bytes | None]
"""(key id, key): the key is None once erased."""


async def secret(conn: AsyncConnection) -> bytes:
    """The database's HMAC key of names (made on first use, in `conn`'s transaction). It never
    changes once made, so what an engine's connections read of it committed is kept (`SECRETS`): read
    by a transaction that has written nothing (no transaction id yet), which sees committed rows
    only; one a transaction made or read after writing is not, as it may yet be rolled back."""
    held = SECRETS.get(conn.engine.sync_engine)
    if held is not None:
        return held
    query = select(personal_secret.c.secret, func.pg_current_xact_id_if_assigned().is_(None)).where(
        personal_secret.c.id == 1)
    found = (await conn.execute(query)).first()
    if found is None:
        await conn.execute(insert(personal_secret).values(id=1, secret=os.urandom(32)).on_conflict_do_nothing())
        found = (await conn.execute(query)).first()
        if found is None:
            raise LookupError("personal_secret has no row")
    value, committed = bytes(found[0]), found[1]
    if committed:
        SECRETS[conn.engine.sync_engine] = value
    return value


SECRETS: WeakKeyDictionary[Engine, bytes] = WeakKeyDictionary()
"""The `personal_secret` each engine (one schema) read: gone with the engine."""


@dataclass(frozen=True)
class Wanted:
    """A personal value written in clear, to be sealed."""

    province: str
    text: str
    person: str
    """Whose key seals it: the person's name."""
    recorded_at: datetime | None = None
    """When the stream stored it (None: now, at the door)."""


async def seal_texts(conn: AsyncConnection, wanted: Sequence[Wanted], hmac_key: bytes | None = None) -> list[str]:
    """Each value sealed with its person's key, made if the person has none yet (in `conn`'s
    transaction). A value stored before its person was erased: the token it was sealed as before the
    erasure (`personal_erased`), else ERASED. `hmac_key`: the database's `secret`, if the caller
    holds it."""
    if not wanted:
        return []
    hmac_key = hmac_key or await secret(conn)
    keys = await person_keys(conn, wanted, hmac_key)
    before = await _sealed_before(conn, hmac_key, [w for w, k in zip(wanted, keys, strict=True) if k is None])
    return [before.get(w, ERASED) if k is None else seal(k[1], k[0], w.province, w.text)
            for w, k in zip(wanted, keys, strict=True)]


async def _sealed_before(conn: AsyncConnection, hmac_key: bytes, wanted: Sequence[Wanted]) -> dict[Wanted, str]:
    """For values stored before their person was erased: the token the projection wrote for each
    while the key lived (`personal_erased`), if it wrote one; the key is the one erased first after
    the value was stored."""
    if not wanted:
        return {}
    values = {w: value_digest(hmac_key, w.province, w.text) for w in wanted}
    rows = await conn.execute(
        select(personal_erased.c.value, personal_erased.c.token, personal_keys.c.province, personal_keys.c.person,
               personal_keys.c.erased_at)
        .join(personal_keys, personal_keys.c.key_id == personal_erased.c.key_id)
        .where(personal_erased.c.value.in_(sorted(set(values.values())))))
    found: dict[tuple[str, str, str], list[tuple[datetime, str]]] = {}
    for r in rows:
        found.setdefault((r.province, r.person, r.value), []).append((r.erased_at, r.token))
    out: dict[Wanted, str] = {}
    for w, value in values.items():
        later = sorted(t for t in found.get((w.province, digest(hmac_key, w.province, w.person), value), [])
                       if w.recorded_at is not None and t[0] >= w.recorded_at)
        if later:
            out[w] = later[0][1]
    return out


async def keep_sealed_before(conn: AsyncConnection, province: str, key_ids: Sequence[str]) -> int:
    """Before the keys of a province's people are destroyed: record what the values their events
    held in clear were sealed as (`personal_erased`); how many values."""
    seqs = select(personal_refs.c.seq).where(personal_refs.c.key_id.in_(key_ids), personal_refs.c.in_clear)
    envelopes = list(await conn.scalars(select(events.c.envelope).where(events.c.seq.in_(seqs))))
    if not envelopes:
        return 0
    hmac_key = await secret(conn)
    keys = {k: v for k, v in (await keys_by_id(conn, key_ids)).items() if v[0] == province and v[1] is not None}
    rows = {}
    for token in {m.group(0) for v in strings_in(envelopes) for m in tokens_in(v) if key_id_of(m.group(0)) in keys}:
        province, key = keys[key_id_of(token)]
        value = open_token(key, province, token)
        rows[key_id_of(token), value_digest(hmac_key, province, value)] = token
    if rows:
        await conn.execute(insert(personal_erased).on_conflict_do_nothing(),
                           [{"key_id": k, "value": v, "token": t} for (k, v), t in rows.items()])
    return len(rows)


async def person_keys(conn: AsyncConnection, wanted: Sequence[Wanted],
                      hmac_key: bytes | None = None) -> list[tuple[str, bytes] | None]:
    """The key (id, key) that seals each value, made if its person has none yet (in `conn`'s
    transaction); None for a value stored before its person was erased."""
    if not wanted:
        return []
    hmac_key = hmac_key or await secret(conn)
    digests = [digest(hmac_key, w.province, w.person) for w in wanted]
    pairs = sorted({(w.province, d) for w, d in zip(wanted, digests, strict=True)})
    live, erased = await _keys_of(conn, pairs)

    def was_erased(w: Wanted, person: str) -> bool:
        gone = erased.get((w.province, person))
        return gone is not None and w.recorded_at is not None and w.recorded_at <= gone

    missing = {(w.province, d) for w, d in zip(wanted, digests, strict=True)
               if not was_erased(w, d) and (w.province, d) not in live}
    if missing:
        await conn.execute(
            insert(personal_keys).on_conflict_do_nothing(
                index_elements=["province", "person"], index_where=text("erased_at IS NULL")),
            [{"key_id": new_key_id(), "province": p, "person": d, "key": new_key()} for p, d in sorted(missing)])
        live, erased = await _keys_of(conn, pairs)
    return [None if was_erased(w, d) else live[w.province, d] for w, d in zip(wanted, digests, strict=True)]


async def _keys_of(
    conn: AsyncConnection, pairs: Iterable[tuple[str, str]]
) -> tuple[dict[tuple[str, str], tuple[str, bytes]], dict[tuple[str, str], datetime]]:
    """The live key of each (province, person), and when each was last erased."""
    pairs = list(pairs)
    rows = await fetch(conn, _KEYS_OF, [p for p, _ in pairs], [d for _, d in pairs])
    live: dict[tuple[str, str], tuple[str, bytes]] = {}
    erased: dict[tuple[str, str], datetime] = {}
    for province, person, key_id, key, erased_at in rows:
        if erased_at is None:
            live[province, person] = (key_id, bytes(key))
        else:
            erased[province, person] = max(erased_at, erased.get((province, person), erased_at))
    return live, erased


_KEYS_OF = ("SELECT province, person, key_id, key, erased_at FROM personal_keys"
            " WHERE (province, person) IN (SELECT * FROM unnest($1::text[], $2::text[]))")
"""Every key, live or erased, of the (province, person) pairs given as two arrays: one prepared statement
whatever their number."""


async def keys_by_id(conn: AsyncConnection, key_ids: Iterable[str]) -> dict[str, tuple[str, bytes | None]]:
    """(province, key or None once erased) of each key id known."""
    ids = sorted(set(key_ids))
    if not ids:
        return {}
    rows = await conn.execute(select(personal_keys.c.key_id, personal_keys.c.province, personal_keys.c.key)
                              .where(personal_keys.c.key_id.in_(ids)))
    return {r.key_id: (r.province, None if r.key is None else bytes(r.key)) for r in rows}


async def all_keys(conn: AsyncConnection) -> dict[str, tuple[str, bytes | None]]:
    """(province, key or None once erased) of every key, by id (a province's people: thousands)."""
    rows = await conn.execute(select(personal_keys.c.key_id, personal_keys.c.province, personal_keys.c.key))
    return {r.key_id: (r.province, None if r.key is None else bytes(r.key)) for r in rows}


def opened(text: str, keys: Mapping[str, tuple[str, bytes | None]]) -> str:
    """`text` with each token in it replaced by what it seals (ERASED for an erased or unknown key)."""
    def one(match: re.Match[str]) -> str:
        province, key = keys.get(match.group(1), ("", None))
        return open_token(key, province, match.group(0))
    return text if PREFIX not in text else TOKEN_RE.sub(one, text)


def sealed_envelope(event: Event, sealed: Mapping[str, str]) -> CloudEvent:
    """`event`'s envelope with each personal value in clear written as its sealed form in `sealed` (by value)."""
    env = event.envelope
    paths = personal_paths(event.event_type.model)
    actor = {} if env.actor is None else {"actor": sealed.get(env.actor, env.actor)}
    if isinstance(env.data, dict):  # decoded in two steps: a plain copy will do
        return env.model_copy(update={"data": replaced(env.data, paths, lambda s: sealed.get(s, s)), **actor})
    obj = to_obj(env)  # validated in one pass: its data is the typed payload
    return CloudEvent.model_validate({**obj, "data": replaced(obj["data"], paths, lambda s: sealed.get(s, s)),
                                      **actor})


def sealed_event(event: Event, sealed: Mapping[str, str]) -> Event:
    """`sealed_envelope`, decoded again (the read models read its typed payload)."""
    return decode_obj(to_obj(sealed_envelope(event, sealed)))._replace(original_version=event.original_version)


def in_clear(event: Event) -> list[tuple[str, str]]:
    """(value, person) of each personal value of an event written in clear (not sealed)."""
    found = [(v, p) for v, p in people_at(event.envelope.data, personal_paths(event.event_type.model))
             if not is_sealed(v)]
    actor = event.envelope.actor
    if actor is not None and not is_sealed(actor):
        found.append((actor, actor))
    return found


def sealed_ids(event: Event) -> set[str]:
    """The key ids of the tokens an event holds."""
    values = list(values_at(event.envelope.data, personal_paths(event.event_type.model)))
    if event.envelope.actor is not None:
        values.append(event.envelope.actor)
    return {key_id_of(m.group(0)) for v in values for m in tokens_in(v)}


async def seal_batch(conn: AsyncConnection, batch: Batch) -> list[dict[str, Any]]:
    """Seal the personal values the batch's fresh events hold in clear (their read models then see
    tokens only, and `batch.sealed` says what each value became); the `personal_refs` rows of the batch."""
    clear = {s.seq: in_clear(s.event) for s in batch.fresh}
    wanted = [Wanted(s.event.envelope.province, v, p, s.recorded_at) for s in batch.fresh for v, p in clear[s.seq]]
    tokens = iter(await seal_texts(conn, wanted))
    refs: dict[tuple[str, int], bool] = {}
    replacements: dict[int, Stored] = {}
    for s in batch.fresh:
        for key_id in sealed_ids(s.event):
            refs.setdefault((key_id, s.seq), False)
        if not clear[s.seq]:
            continue
        pairs = [(v, p, next(tokens)) for v, p in clear[s.seq]]
        batch.sealed.update({(s.seq, v, p): t for v, p, t in pairs})
        sealed = {v: t for v, _, t in pairs}
        for token in sealed.values():
            if token != ERASED:
                refs[key_id_of(token), s.seq] = True
        replacements[s.seq] = s._replace(event=sealed_event(s.event, sealed), sealed=True)
    if replacements:
        batch.replace(replacements)
    return [{"key_id": k, "seq": seq, "in_clear": c} for (k, seq), c in refs.items()]


async def write_refs(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await insert_rows(conn, personal_refs, rows)


async def copy_personal(source: AsyncConnection, target: AsyncConnection) -> int:
    """Copy the keys (erased ones too, with what they sealed in clear before) and the secret from
    `source` (the live schema) into `target`'s empty tables (a replay's); the keys copied."""
    copied = {}
    for table in (personal_secret, personal_keys, personal_erased):
        rows = [dict(r) for r in (await source.execute(select(table))).mappings()]
        if rows:
            await target.execute(table.insert(), rows)
        copied[table.name] = len(rows)
    return copied[personal_keys.name]
