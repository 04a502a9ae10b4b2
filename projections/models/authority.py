"""The authority rules applied to the stream: each fresh event of a batch, in stream order, is
decided against its aggregate as it stands in its province (`schemas.authority.decide`); what the
rules refuse leaves the batch as a rejection of kind `not_authorized`, before any projection sees
it. The state the rules read (who opened each aggregate, to whom it is addressed) is the table
`aggregates`, written in the batch's transaction like every read model. Before the rules, each event's
signature is checked (`projections.models.signatures`): a bad one leaves the batch as `bad_signature`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from projections.engine.batch import Batch, Stored
from projections.engine.bulk import insert_rows, select_rows
from projections.models import signatures
from projections.models.tables import aggregates
from schemas.authority import Aggregate, Refusal, decide, opened
from schemas.keyring import KeyRing, SignatureRefusal

Key = tuple[str, str]
"""(province, subject)."""
KEY = ("province", "subject")


def key_of(s: Stored) -> Key:
    env = s.event.envelope
    return env.province, env.subject


Row = dict[str, Any]


@dataclass
class AuthorityChanges:
    rows: dict[Key, Row] = field(default_factory=dict)
    """The rows of the aggregates the batch opened or re-addressed, by key."""
    refused: list[tuple[Stored, Refusal | SignatureRefusal]] = field(default_factory=list)
    signed: list[Row] = field(default_factory=list)
    """The verifying key of each signed event the batch stores (`projections.models.signatures`)."""


def _aggregate(row: Row) -> Aggregate:
    return Aggregate(row["province"], row["subject"], row["owner"], frozenset(row["parties"]))


class Authority:
    """read / after / changes / write, as a projection (`projections.models.base.Projection`); the
    refusals `changes` finds are taken out of the batch by the handler."""

    name = "authority"

    async def read(self, conn: AsyncConnection, batch: Batch) -> tuple[dict[Key, Row], KeyRing]:
        return (await select_rows(conn, aggregates, KEY, {key_of(s) for s in batch.fresh}),
                await signatures.read(conn, batch))

    def after(self, found: tuple[dict[Key, Row], KeyRing], before: AuthorityChanges) -> tuple[dict[Key, Row], KeyRing]:
        return {**found[0], **before.rows}, found[1]

    def changes(self, batch: Batch, found: tuple[dict[Key, Row], KeyRing]) -> AuthorityChanges:
        current, ring = dict(found[0]), found[1]
        out = AuthorityChanges()
        for s in batch.fresh:
            signed = signatures.check(s, ring)
            if isinstance(signed, SignatureRefusal):
                out.refused.append((s, signed))
                continue
            env = s.event.envelope
            key = (env.province, env.subject)
            row = current.get(key)
            aggregate = _aggregate(row) if row is not None else None
            name = s.event.name
            refusal = decide(env.province, env.agency, name, env.subject, s.event.data, aggregate)
            if refusal is not None:
                out.refused.append((s, refusal))
                continue
            if signed is not None:
                out.signed.append(signatures.row(s, signed))
            new = opened(env.province, env.agency, name, env.subject, s.event.data, aggregate)
            if new != aggregate:
                current[key] = out.rows[key] = {
                    "province": new.province, "subject": new.subject, "owner": new.owner,
                    "parties": sorted(new.parties), "first_seq": row["first_seq"] if row is not None else s.seq,
                }
        return out

    async def write(self, conn: AsyncConnection, changes: AuthorityChanges) -> None:
        await insert_rows(conn, aggregates, list(changes.rows.values()), conflict=KEY, update=True)
        await signatures.write(conn, changes.signed)
