"""The Ed25519 key that signs audit-chain heads, and signed heads themselves.

The private key is a PKCS#8 PEM file, mode 0600: `DOINGOAI_AUDIT_KEY` names it, otherwise it is
`<data dir>/secrets/audit-ed25519.pem`, created on first use. The public key is written beside
it (`.pub.pem`) and travels inside every signed head.

A signed head says "the audit chain of stream DOINGOAI_EVENTS had hash H at sequence S". What is
signed is the canonical JSON of {"chain", "hash", "seq", "signed_at", "stream"}: keys sorted, no
whitespace, UTF-8 (all values are ASCII strings or integers, so this is also RFC 8785 JCS).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.settings import Settings

log = structlog.get_logger(__name__)
CHAIN = "doingoai-audit-v1"
STREAM = "DOINGOAI_EVENTS"


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


def key_path(settings: Settings) -> Path:
    return settings.audit_key or settings.data_dir / "secrets" / "audit-ed25519.pem"


def _create(path: Path) -> None:
    """Write a new key atomically; a key that appeared meanwhile (another process) wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
        log.info("audit.key_created", path=str(path))
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def load_private_key(path: Path, *, create: bool = True) -> Ed25519PrivateKey:
    """The signing key at `path` (created if missing and `create`); its public key is exported beside it."""
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"no audit signing key at {path}")
        _create(path)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        try:
            path.chmod(0o600)
            log.warning("audit.key_mode_fixed", path=str(path), was=oct(mode))
        except OSError:
            log.warning("audit.key_mode_open", path=str(path), mode=oct(mode))
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    public = public_key_path(path)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    if not public.exists() or public.read_bytes() != pem:
        try:
            public.write_bytes(pem)
        except OSError:
            log.warning("audit.public_key_not_written", path=str(public))
    return key


def public_key_path(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".pem") + ".pub.pem")


def public_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


class Signer:
    """Signs chain heads with one private key."""

    def __init__(self, key: Ed25519PrivateKey):
        self.key = key
        self.public_key = public_hex(key.public_key())

    @classmethod
    def from_settings(cls, settings: Settings, *, create: bool = True) -> Signer:
        return cls(load_private_key(key_path(settings), create=create))

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
