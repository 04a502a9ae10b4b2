"""The Ed25519 key that signs audit-chain heads (what is signed: `schemas.signed_heads`).

The private key is a PKCS#8 PEM file, mode 0600: `DOINGOAI_AUDIT_KEY` names it, otherwise it is
`<data dir>/secrets/audit-ed25519.pem`, created on first use. The public key is written beside
it (`.pub.pem`) and travels inside every signed head.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from projections.models.audit import AuditTrail
from schemas.signed_heads import Signer
from services.settings import Settings

log = structlog.get_logger(__name__)


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


def signer_from_settings(settings: Settings, *, create: bool = True) -> Signer:
    """The signer of the key the settings name (created if missing and `create`)."""
    return Signer(load_private_key(key_path(settings), create=create))


def audit_signer(settings: Settings) -> Signer | None:
    """The signer the projections' audit chain uses, or None (logged) if its key cannot be read
    or made: the chain goes on unsigned rather than stop."""
    try:
        return signer_from_settings(settings)
    except (OSError, ValueError) as exc:
        log.error("audit.no_signing_key", error=repr(exc))
        return None


def audit_trail(settings: Settings) -> AuditTrail:
    """The audit chain's projection, signing with the key the settings name."""
    return AuditTrail(audit_signer(settings), settings.audit_sign_every)
