"""`doingoai audit verify --signatures`: every signed event verified again from the stream's bytes and
the agencies' registered public keys, without trusting what the projection recorded of it.

Each message of DOINGOAI_EVENTS is checked as the projection checks it (`schemas.keyring.KeyRing.check`,
by the moment it was recorded): a signed event that verifies counts as verified, and is listed when
the key that signed it was revoked since (its signature held when it was recorded; whether to trust
what a key signed before its revocation is the auditor's call). A message the system stored although
its signature does not verify, or although its agency had to sign and did not, is a finding: the
command fails and names its sequence and event id. Messages the system refused for their signature
are counted, as they should be. The keys come from the system, or from an export (`keys list --format
json`) the auditor holds.
"""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.engine.batch import StreamMessage, decode_message
from projections.engine.stream_reader import read_batches
from projections.models.tables import events
from schemas.keyring import KeyRing, SignatureRefusal, Signed
from schemas.signatures import ATTRIBUTE
from services.store import EVENTS_STREAM, EVENTS_SUBJECTS

_MARK = f'"{ATTRIBUTE}"'.encode()


@dataclass
class SignatureAudit:
    """What the signatures of the stream came to."""

    signed: int = 0
    verified: int = 0
    refused: int = 0
    """Messages whose signature does not hold and which the system refused (as it must)."""
    revoked_since: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "signed": self.signed, "verified": self.verified, "refused": self.refused,
                "signed_by_keys_revoked_since": self.revoked_since, "findings": self.findings}

    def add(self, message: StreamMessage, stored: bool, ring: KeyRing) -> None:
        """One message of the stream; `stored`: the system took it (it is in the event index)."""
        decoded = decode_message(message)
        if decoded.event is None:
            return  # not an event: refused for that, whatever its signature
        envelope = decoded.event.envelope
        found = ring.check(envelope, message.data, message.recorded_at)
        if found is None:
            return
        where = {"sequence": message.seq, "event_id": envelope.id, "agency": f"{envelope.province}/{envelope.agency}"}
        if isinstance(found, SignatureRefusal):
            self.signed += 1 if (envelope.model_extra or {}).get(ATTRIBUTE) else 0
            if stored:
                self.findings.append({**where, "problem": f"stored although {found.message}"})
            else:
                self.refused += 1
            return
        assert isinstance(found, Signed)
        self.signed += 1
        if not stored:
            return  # a repeat of a stored event, or refused for another reason
        self.verified += 1
        key = ring.key(found.key_id)
        if key is not None and key.revoked_at is not None:
            self.revoked_since.append({**where, "key_id": found.key_id, "revoked_at": key.revoked_at.isoformat(),
                                       "problem": "signed by a key revoked since"})


async def _stored(engine: AsyncEngine, seqs: list[int]) -> set[int]:
    if not seqs:
        return set()
    async with engine.connect() as conn:
        return set((await conn.execute(select(events.c.seq).where(events.c.seq.in_(seqs)))).scalars())


async def verify_signatures(nc: Client, engine: AsyncEngine, ring: KeyRing, last_seq: int) -> SignatureAudit:
    """Check the signature of every event of DOINGOAI_EVENTS up to `last_seq`."""
    audit = SignatureAudit()
    batches = read_batches(nc, EVENTS_STREAM, EVENTS_SUBJECTS, from_seq=1, last_seq=last_seq)
    async with aclosing(batches):
        async for batch in batches:
            # only a signed message, or any where a requirement may apply, needs decoding
            todo = batch if ring.requirements else [m for m in batch if _MARK in m.data]
            stored = await _stored(engine, [m.seq for m in todo])
            for message in todo:
                audit.add(message, message.seq in stored, ring)
    return audit
