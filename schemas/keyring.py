"""Agencies' registered signing keys, the provinces' signature requirements, and the one check of an
event's signature against them (pure: the keys come in as values).

An agency signs its events with the CloudEvents verifiability extension (`schemas.signatures`) and a
key registered for it (`doingoai keys add`). A key counts for the events recorded from the moment it
is added until the moment it is revoked, and only for its own agency's events; a province may require
an agency's events to be signed from a given moment on (`doingoai keys require`). Decided by the
moment the event was recorded, the check gives the same answer at the door, in the projection, in a
replay and in `doingoai audit verify --signatures`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from schemas.envelope import CloudEvent
from schemas.jsontext import member_text
from schemas.signatures import (
    ATTRIBUTE,
    CORE_ATTRIBUTES,
    BadMaterial,
    Envelope,
    Mismatch,
    PublicKey,
    check_core,
    check_extensions,
    public_key,
    signed_by,
)

BAD_SIGNATURE = "bad_signature"
"""The rejection kind of every signature refusal (HTTP 400 at the door)."""
STRING_EXTENSIONS = frozenset({"correlationid", "causationid", "actor", "recordedvia"})
"""Extension attributes whose CloudEvents type is known here (String): the ones this system defines."""
REQUIRED = "chữ ký bắt buộc (signature required)"
INVALID = "chữ ký không hợp lệ (invalid signature)"


def _moment(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


@dataclass(frozen=True)
class AgencyKey:
    """A registered public key of one agency: its id (hex SHA-256 of its DER SubjectPublicKeyInfo)."""

    key_id: str
    province: str
    agency: str
    algorithm: str
    public_key: str
    """PEM (SubjectPublicKeyInfo)."""
    added_at: datetime
    revoked_at: datetime | None = None

    def counts_at(self, at: datetime) -> bool:
        return self.added_at <= at and (self.revoked_at is None or at < self.revoked_at)

    def verifier(self) -> PublicKey:
        return _parsed(self.public_key)

    def as_dict(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "province": self.province, "agency": self.agency,
                "algorithm": self.algorithm, "public_key": self.public_key, "added_at": self.added_at.isoformat(),
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None}

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> AgencyKey:
        return cls(str(row["key_id"]), str(row["province"]), str(row["agency"]), str(row["algorithm"]),
                   str(row["public_key"]), _when(row["added_at"]), _when(row["revoked_at"]) if row.get("revoked_at")
                   else None)


@dataclass(frozen=True)
class Requirement:
    """From `since` on, the agency's events must be signed (`required`) or need not be."""

    province: str
    agency: str
    required: bool
    since: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"province": self.province, "agency": self.agency, "required": self.required,
                "since": self.since.isoformat()}

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Requirement:
        return cls(str(row["province"]), str(row["agency"]), bool(row["required"]), _when(row["since"]))


def _when(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return moment


@lru_cache(maxsize=4096)
def _parsed(pem: str) -> PublicKey:
    return public_key(pem)


@dataclass(frozen=True)
class Signed:
    """An event whose signature verified: by which key, and whether signed extension attributes were
    verified ("verified"), not signed ("none"), or of a type not known here ("skipped")."""

    key_id: str
    algorithm: str
    extensions: str = "none"

    def as_dict(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "algorithm": self.algorithm, "verified": True, "extensions": self.extensions}


@dataclass(frozen=True)
class SignatureRefusal:
    """Why an event's signature is refused (kind `bad_signature`)."""

    message: str
    path: str = ATTRIBUTE
    kind: str = BAD_SIGNATURE


def attributes_of(envelope: CloudEvent) -> dict[str, str | None]:
    """The string context attributes the core digest covers, as the event carries them (`specversion`
    is always 1.0: the envelope refuses any other, and stores it where it was left out)."""
    return {name: getattr(envelope, name) for name in CORE_ATTRIBUTES}


def extensions_of(envelope: CloudEvent) -> dict[str, Any]:
    declared = {n: getattr(envelope, n) for n in ("correlationid", "causationid", "actor")}
    return {**{n: v for n, v in declared.items() if v is not None}, **(envelope.model_extra or {})}


def _known(name: str, value: Any) -> bool:
    """Whether the CloudEvents type of a signed extension attribute is known: this system's String
    attributes, and JSON booleans and integers (absent: its value counts as empty whatever its type)."""
    return value is None or name in STRING_EXTENSIONS or isinstance(value, bool | int)


def is_signed(envelope: CloudEvent) -> bool:
    return bool((envelope.model_extra or {}).get(ATTRIBUTE))


class KeyRing:
    """The registered keys and the requirements, as one check reads them."""

    def __init__(self, keys: Iterable[AgencyKey] = (), requirements: Iterable[Requirement] = ()):
        self.keys = {k.key_id: k for k in keys}
        self.requirements: dict[tuple[str, str], list[Requirement]] = {}
        for r in sorted(requirements, key=lambda r: r.since):
            self.requirements.setdefault((r.province, r.agency), []).append(r)

    def key(self, key_id: str) -> AgencyKey | None:
        return self.keys.get(key_id)

    def required_since(self, province: str, agency: str, at: datetime) -> datetime | None:
        """Since when the agency's events must be signed, if they must be at `at`."""
        current = [r for r in self.requirements.get((province, agency), ()) if r.since <= at]
        return current[-1].since if current and current[-1].required else None

    def _acceptable(self, keyid: str, province: str, agency: str, at: datetime) -> list[PublicKey]:
        candidates = [self.keys[keyid]] if keyid in self.keys else [] if keyid else list(self.keys.values())
        return [k.verifier() for k in candidates
                if k.province == province and k.agency == agency and k.counts_at(at)]

    def _why_not(self, envelope: Envelope, province: str, agency: str, at: datetime) -> str:
        who = f"{province}/{agency}"
        for signature in envelope.signatures:
            kid = signature.keyid
            key = self.keys.get(kid)
            if not kid:
                continue
            if key is None:
                return f"{INVALID}: signed with key {kid}, which is not registered"
            if (key.province, key.agency) != (province, agency):
                return f"{INVALID}: signed with key {kid} of {key.province}/{key.agency}, not of {who}"
            if key.revoked_at is not None and key.revoked_at <= at:
                return f"{INVALID}: signed with key {kid} of {who}, revoked on {_moment(key.revoked_at)}"
            if at < key.added_at:
                return f"{INVALID}: signed with key {kid}, registered only on {_moment(key.added_at)}"
            return f"{INVALID}: the signature by key {kid} does not verify"
        return f"{INVALID}: no registered key of {who} verifies the signature"

    def check(self, event: CloudEvent, raw: bytes, at: datetime) -> Signed | SignatureRefusal | None:
        """The event's signature checked as recorded at `at`: Signed, a refusal, or None (unsigned and
        not required). `raw` is the event's JSON as stored: its `data` member's text is what was signed."""
        value = (event.model_extra or {}).get(ATTRIBUTE)
        province, agency = event.province, event.agency
        if value is None or value == "":
            since = self.required_since(province, agency, at)
            if since is None:
                return None
            return SignatureRefusal(f"{REQUIRED}: {province}/{agency} signs its events (CloudEvents verifiability "
                                    f"extension, attribute {ATTRIBUTE}) since {_moment(since)}")
        try:
            envelope = Envelope.parse(value)
            material = envelope.material()
        except BadMaterial as exc:
            return SignatureRefusal(f"{INVALID}: {exc}")
        key = signed_by(envelope, lambda kid: self._acceptable(kid, province, agency, at))
        if key is None:
            return SignatureRefusal(self._why_not(envelope, province, agency, at))
        try:
            check_core(material, attributes_of(event), event.time, member_text(raw, "data"))
            extensions = check_extensions(material, extensions_of(event), _known)
        except (Mismatch, BadMaterial) as exc:
            return SignatureRefusal(f"{INVALID}: {exc}")
        return Signed(key.key_id, key.algorithm, extensions)
