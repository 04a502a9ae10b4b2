"""Agencies' signing keys and the provinces' signature requirements, in PostgreSQL: add, list, revoke,
require, and their export for auditors.

A key is registered for one agency (`doingoai keys add`); it verifies that agency's events recorded from
the moment it is added until it is revoked (`doingoai keys revoke`). Rotation is adding the new key,
then revoking the old one. Nothing is deleted: revoking sets `revoked_at`, and each change of a
requirement is a new row, so every past decision can be made again (replay, `audit verify --signatures`).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.models.signatures import agency_keys, signature_requirements
from schemas.envelope import SOURCE_RE, source_for
from schemas.keyring import AgencyKey, KeyRing, Requirement
from schemas.signatures import public_key
from services.credentials import check_not_reserved


class KeyRefused(ValueError):
    """The key cannot be added or revoked as asked (already registered, unknown, revoked)."""


def check_agency(province: str, agency: str) -> None:
    """ValueError unless both are lowercase slugs of an agency that may sign (not the system)."""
    check_not_reserved(agency)
    if not SOURCE_RE.match(source_for(province, agency)):
        raise ValueError("province and agency must be lowercase slugs, e.g. ha-tinh / so-tu-phap")


async def add_key(engine: AsyncEngine, province: str, agency: str, pem: bytes) -> AgencyKey:
    """Register a public key (PEM; Ed25519 or ECDSA P-256) for the agency: BadKey if it is none,
    KeyRefused if it is registered already (to this agency or another: a key belongs to one)."""
    check_agency(province, agency)
    key = public_key(pem)
    row = AgencyKey(key.key_id, province, agency, key.algorithm, key.pem(), datetime.now(UTC))
    async with engine.begin() as conn:
        held = (await conn.execute(select(agency_keys).where(agency_keys.c.key_id == key.key_id))).mappings().first()
        if held is not None:
            was = AgencyKey.of(dict(held))
            state = "revoked" if was.revoked_at else "registered"
            raise KeyRefused(f"key {key.key_id} is {state} already, for {was.province}/{was.agency}: "
                             "an agency adds a key of its own, new")
        await conn.execute(agency_keys.insert().values(**asdict(row)))
    return row


async def _rows(engine: AsyncEngine, table: Table, order: list[Any], province: str | None,
                agency: str | None) -> list[dict[str, Any]]:
    q = select(table).order_by(*order)
    for column, value in (("province", province), ("agency", agency)):
        if value:
            q = q.where(table.c[column] == value)
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(q)).mappings()]


async def list_keys(engine: AsyncEngine, province: str | None = None, agency: str | None = None) -> list[AgencyKey]:
    c = agency_keys.c
    return [AgencyKey.of(r) for r in await _rows(engine, agency_keys, [c.province, c.agency, c.added_at],
                                                  province, agency)]


async def list_requirements(engine: AsyncEngine, province: str | None = None,
                            agency: str | None = None) -> list[Requirement]:
    """Every change of a requirement, oldest first."""
    c = signature_requirements.c
    return [Requirement.of(r) for r in await _rows(engine, signature_requirements, [c.since, c.id], province, agency)]


async def revoke_key(engine: AsyncEngine, key_id: str) -> AgencyKey:
    """The key no longer verifies events recorded from now on (KeyRefused if unknown or revoked)."""
    async with engine.begin() as conn:
        done = await conn.execute(
            agency_keys.update().where(agency_keys.c.key_id == key_id, agency_keys.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC)).returning(*agency_keys.c))
        row = done.mappings().first()
        if row is None:
            held = await conn.scalar(select(agency_keys.c.revoked_at).where(agency_keys.c.key_id == key_id))
            raise KeyRefused(f"key {key_id} is not registered" if held is None
                             else f"key {key_id} was revoked on {held.isoformat()}")
    return AgencyKey.of(dict(row))


async def require(engine: AsyncEngine, province: str, agency: str, required: bool = True) -> Requirement:
    """From now on the agency's events must be signed (or, `required` False, need not be)."""
    check_agency(province, agency)
    row = Requirement(province, agency, required, datetime.now(UTC))
    async with engine.begin() as conn:
        await conn.execute(signature_requirements.insert().values(**asdict(row)))
    return row


def export(keys: list[AgencyKey], requirements: list[Requirement]) -> dict[str, Any]:
    """What an auditor is given to check signatures without the system (`keys list --format json`)."""
    return {"keys": [k.as_dict() for k in keys], "requirements": [r.as_dict() for r in requirements]}


def keyring_of(exported: Any) -> KeyRing:
    """The keys and requirements of an export (ValueError if it is not one)."""
    try:
        return KeyRing([AgencyKey.of(k) for k in exported["keys"]],
                       [Requirement.of(r) for r in exported.get("requirements", [])])
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not an export of `doingoai keys list --format json`: {exc!r}") from None
