"""Signed heads of the audit chain: what is signed, how, and how a signed head is checked.

A signed head says "the audit chain of stream DOINGOAI_EVENTS had hash H at sequence S". What is
signed, with Ed25519, is the canonical JSON of {"chain", "hash", "seq", "signed_at", "stream"}:
keys sorted, no whitespace, UTF-8 (all values are ASCII strings or integers, so this is also
RFC 8785 JCS). The signer's public key travels inside every signed head. Where the private key is
kept is the services' concern (`services.audit_keys`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from schemas.streams import EVENTS_STREAM

CHAIN = "doingoai-audit-v1"
STREAM = EVENTS_STREAM


class BadSignedHead(ValueError):
    """A signed head file is malformed or its signature does not verify."""


@dataclass(frozen=True)
class SignedHead:
    seq: int
    hash: str
    signed_at: str
    signature: str
    public_key: str
    stream: str = STREAM
    chain: str = CHAIN

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def head_message(seq: int, hash_hex: str, signed_at: str, stream: str = STREAM, chain: str = CHAIN) -> bytes:
    """The canonical bytes an Ed25519 signature covers."""
    body = {"chain": chain, "hash": hash_hex, "seq": seq, "signed_at": signed_at, "stream": stream}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def public_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


class Signer:
    """Signs chain heads with one private key."""

    def __init__(self, key: Ed25519PrivateKey):
        self.key = key
        self.public_key = public_hex(key.public_key())

    def public_pem(self) -> str:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def sign(self, seq: int, hash_hex: str, signed_at: datetime | None = None) -> SignedHead:
        when = (signed_at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
        signature = self.key.sign(head_message(seq, hash_hex, when)).hex()
        return SignedHead(seq, hash_hex, when, signature, self.public_key)


def check_signed_head(obj: Any) -> SignedHead:
    """A signed head from its JSON object, after checking its signature; BadSignedHead if not valid."""
    if not isinstance(obj, dict):
        raise BadSignedHead("a signed head is a JSON object")
    try:
        head = SignedHead(
            seq=int(obj["seq"]), hash=str(obj["hash"]), signed_at=str(obj["signed_at"]),
            signature=str(obj["signature"]), public_key=str(obj["public_key"]),
            stream=str(obj.get("stream", STREAM)), chain=str(obj.get("chain", CHAIN)),
        )
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(head.public_key))
        signature = bytes.fromhex(head.signature)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadSignedHead(f"malformed signed head: {exc}") from None
    if head.chain != CHAIN or head.stream != STREAM:
        raise BadSignedHead(f"signed head of {head.chain}/{head.stream}, not {CHAIN}/{STREAM}")
    try:
        public.verify(signature, head_message(head.seq, head.hash, head.signed_at, head.stream, head.chain))
    except InvalidSignature:
        raise BadSignedHead(f"the signature of the head at sequence {head.seq} does not verify") from None
    return head
