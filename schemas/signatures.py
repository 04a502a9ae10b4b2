"""The CloudEvents verifiability extension: DSSE signatures over an event (pure: no I/O).

As cloudevents/spec `cloudevents/extensions/verifiability.md` defines it. The extension attribute
`dssematerial` (type Binary: Base64 in JSON) holds a DSSE v1.0.2 JSON envelope whose payload type is
`PAYLOAD_TYPE` and whose payload is the JSON object `{"core", "ext"?, "signedextattrs"?}`:

    CORE_DIGEST = SHA256( SHA256(id) + SHA256(source) + SHA256(specversion) + SHA256(type)
                          + SHA256(datacontenttype) + SHA256(dataschema) + SHA256(subject)
                          + SHA256(time as RFC 3339 UTC, whole seconds, "Z") + SHA256(data) )
    EXT_DIGEST  = SHA256( SHA256(CANONICAL(ext_1)) + ... )   for the names in signedextattrs, in order

an attribute that is absent (or empty) counting as the empty byte sequence. The signature covers
PAE("DSSEv1", payload type, payload) with the signer's key: Ed25519, or ECDSA P-256 with SHA-256
(the raw 64-byte r||s of the spec's test vectors; DER accepted too).

`data` is hashed as the bytes it was carried as: in JSON structured mode, the JSON text of the
`data` member exactly as it appears in the event (see `schemas.jsontext`); in binary mode the body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PAYLOAD_TYPE = "https://cloudevents.io/verifiability/dsse/v0.1"
ATTRIBUTE = "dssematerial"
CORE_ATTRIBUTES = ("id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject")
"""The string context attributes the core digest covers, in its order (then `time`, then `data`)."""
NOT_SIGNABLE = frozenset({*CORE_ATTRIBUTES, "time", ATTRIBUTE})
"""Names `signedextattrs` must not hold."""
ED25519 = "ed25519"
P256 = "ecdsa-p256-sha256"
EMPTY = hashlib.sha256(b"").digest()

Value = str | bool | int | bytes | datetime
PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey


class BadMaterial(ValueError):
    """The verification material is malformed or breaks a rule of the extension: the event is discarded."""


class Mismatch(ValueError):
    """The signed digests are not the event's: it was changed after it was signed."""


class BadKey(ValueError):
    """Not a public key this extension's signatures are verified with (Ed25519 or ECDSA P-256)."""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _b64decode(text: Any, what: str) -> bytes:
    """Base64, standard or URL-safe, padded or not (DSSE allows either)."""
    if not isinstance(text, str):
        raise BadMaterial(f"{what} must be a Base64 string")
    clean = text.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(clean + "=" * (-len(clean) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise BadMaterial(f"{what} is not Base64") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what a signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def timestamp(value: datetime | str) -> bytes:
    """A Timestamp's canonical bytes: RFC 3339 in UTC, whole seconds, `Z` (a naive value is UTC)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat().encode() + b"Z"


def canonical(value: Value) -> bytes:
    """An attribute value's bytes by its CloudEvents type (Canonical Value Serialization)."""
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, bytes):
        return value
    return value.encode()


def core_digest(attributes: Mapping[str, str | None], time: datetime | str | None, data: bytes | None) -> bytes:
    """CORE_DIGEST of an event: its string context attributes by name, its `time` and its data bytes."""
    parts = [sha256(value.encode()) if value else EMPTY for value in (attributes.get(n) for n in CORE_ATTRIBUTES)]
    parts.append(sha256(timestamp(time)) if time else EMPTY)
    parts.append(sha256(data) if data else EMPTY)
    return sha256(b"".join(parts))


def ext_digest(values: Sequence[Any]) -> bytes:
    """EXT_DIGEST of the signed extension attributes' values, in `signedextattrs` order (None: absent);
    BadMaterial for a value of no CloudEvents type (an object, an array, a fraction)."""
    for value in values:
        if value is not None and not isinstance(value, str | bool | int | bytes | datetime):
            raise BadMaterial(f"a signed extension attribute holds a {type(value).__name__}, not a CloudEvents value")
    return sha256(b"".join(EMPTY if v is None or v == "" else sha256(canonical(v)) for v in values))


def check_signed_names(names: Any) -> tuple[str, ...]:
    """`signedextattrs` as the extension allows it (BadMaterial if not)."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BadMaterial("signedextattrs must be an array of attribute names")
    if len(set(names)) != len(names):
        raise BadMaterial("signedextattrs names an attribute twice")
    reserved = sorted(set(names) & NOT_SIGNABLE)
    if reserved:
        raise BadMaterial(f"signedextattrs may not name {', '.join(reserved)}")
    return tuple(names)


@dataclass(frozen=True)
class Material:
    """The signed VERIFICATION_MATERIAL: the core digest, and the extension digest with its names."""

    core: bytes
    ext: bytes | None = None
    signedextattrs: tuple[str, ...] | None = None

    def to_json(self) -> bytes:
        body: dict[str, Any] = {"core": _b64(self.core)}
        if self.ext is not None:
            body.update(ext=_b64(self.ext), signedextattrs=list(self.signedextattrs or ()))
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, payload: bytes) -> Material:
        """The payload of an envelope, checked as the verification protocol's step 6 says."""
        try:
            body = json.loads(payload)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise BadMaterial("the signed payload is not a JSON object") from None
        if not isinstance(body, dict):
            raise BadMaterial("the signed payload is not a JSON object")
        core = _b64decode(body.get("core"), "core")
        if len(core) != 32:
            raise BadMaterial("core is not a 32-byte SHA-256 digest")
        if ("ext" in body) != ("signedextattrs" in body):
            raise BadMaterial("ext and signedextattrs must both be present or both absent")
        if "ext" not in body:
            return cls(core)
        ext = _b64decode(body["ext"], "ext")
        if len(ext) != 32:
            raise BadMaterial("ext is not a 32-byte SHA-256 digest")
        return cls(core, ext, check_signed_names(body["signedextattrs"]))


@dataclass(frozen=True)
class Signature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    """A DSSE JSON envelope of this extension's payload type."""

    payload: bytes
    signatures: tuple[Signature, ...]

    def attribute(self) -> str:
        """The `dssematerial` value as JSON carries it: Base64 of the envelope's UTF-8 JSON."""
        body = {"payloadType": PAYLOAD_TYPE, "payload": _b64(self.payload),
                "signatures": [{"keyid": s.keyid, "sig": _b64(s.sig)} for s in self.signatures]}
        return _b64(json.dumps(body, separators=(",", ":")).encode())

    @classmethod
    def parse(cls, value: Any) -> Envelope:
        """The envelope of a `dssematerial` value (Base64 text, or the binary value itself)."""
        raw = value if isinstance(value, bytes) else _b64decode(value, ATTRIBUTE)
        try:
            body = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise BadMaterial(f"{ATTRIBUTE} is not UTF-8") from None
        except (ValueError, RecursionError):
            raise BadMaterial(f"{ATTRIBUTE} is not a DSSE JSON envelope") from None
        if not isinstance(body, dict):
            raise BadMaterial(f"{ATTRIBUTE} is not a DSSE JSON envelope")
        if body.get("payloadType") != PAYLOAD_TYPE:
            raise BadMaterial(f"payloadType must be {PAYLOAD_TYPE}")
        payload = _b64decode(body.get("payload"), "payload")
        signatures = body.get("signatures")
        if not isinstance(signatures, list) or not signatures:
            raise BadMaterial("the envelope holds no signature")
        found = []
        for item in signatures:
            if not isinstance(item, dict):
                raise BadMaterial("a signature must be an object {keyid, sig}")
            keyid = item.get("keyid", "")
            if not isinstance(keyid, str):
                raise BadMaterial("keyid must be a string")
            found.append(Signature(keyid, _b64decode(item.get("sig"), "sig")))
        return cls(payload, tuple(found))

    def material(self) -> Material:
        return Material.from_json(self.payload)


@dataclass(frozen=True)
class PublicKey:
    """A verifying key: its id (hex SHA-256 of its DER SubjectPublicKeyInfo) and algorithm."""

    key_id: str
    algorithm: str
    key: Ed25519PublicKey | ec.EllipticCurvePublicKey

    def verifies(self, signature: bytes, message: bytes) -> bool:
        try:
            if isinstance(self.key, Ed25519PublicKey):
                self.key.verify(signature, message)
            else:
                if len(signature) == 64:  # raw r||s, as the spec's vectors; else DER
                    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                    signature = utils.encode_dss_signature(r, s)
                self.key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True

    def pem(self) -> str:
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        return self.key.public_bytes(serialization.Encoding.PEM, spki).decode()


def public_key(pem: bytes | str) -> PublicKey:
    """A PEM public key (SubjectPublicKeyInfo): Ed25519 or ECDSA P-256; BadKey otherwise."""
    data = pem.encode() if isinstance(pem, str) else pem
    if b"PRIVATE KEY" in data:
        raise BadKey("this is a private key: register the public key only; the private key stays with the agency")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise BadKey(f"not a PEM public key: {exc}") from None
    if isinstance(key, Ed25519PublicKey):
        algorithm = ED25519
    elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        algorithm = P256
    else:
        raise BadKey("only Ed25519 and ECDSA P-256 public keys sign events")
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return PublicKey(hashlib.sha256(der).hexdigest(), algorithm, key)


def public_key_of(private: PrivateKey) -> PublicKey:
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public_key(pem)


def sign_bytes(private: PrivateKey, message: bytes) -> bytes:
    """Ed25519, or ECDSA P-256 with SHA-256 (RFC 6979 deterministic) as raw r||s."""
    if isinstance(private, Ed25519PrivateKey):
        return private.sign(message)
    r, s = utils.decode_dss_signature(private.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def material_of(attributes: Mapping[str, str | None], time: datetime | str | None, data: bytes | None,
                extensions: Mapping[str, Any] | None = None, signedextattrs: Sequence[str] = ()) -> Material:
    """The verification material of an event (the signing protocol's steps 2 to 6)."""
    names = check_signed_names(list(signedextattrs))
    core = core_digest(attributes, time, data)
    if not names:
        return Material(core)
    values = extensions or {}
    return Material(core, ext_digest([values.get(n) for n in names]), names)


def sign(material: Material, private: PrivateKey, keyid: str) -> Envelope:
    payload = material.to_json()
    return Envelope(payload, (Signature(keyid, sign_bytes(private, pae(PAYLOAD_TYPE, payload))),))


def signed_by(envelope: Envelope, keys: Callable[[str], Iterable[PublicKey]]) -> PublicKey | None:
    """The first acceptable key a signature of the envelope verifies with (DSSE verification):
    `keys(keyid)` gives the acceptable keys for a signature's keyid ("" when it names none)."""
    message = pae(PAYLOAD_TYPE, envelope.payload)
    for signature in envelope.signatures:
        for key in keys(signature.keyid):
            if key.verifies(signature.sig, message):
                return key
    return None


def check_core(material: Material, attributes: Mapping[str, str | None], time: datetime | str | None,
               data: bytes | None) -> None:
    if core_digest(attributes, time, data) != material.core:
        raise Mismatch("the event differs from what was signed: a context attribute or its data changed "
                       "after signing")


def check_extensions(material: Material, extensions: Mapping[str, Any], known: Callable[[str, Any], bool]) -> str:
    """"none" (no extension attribute signed), "verified", or "skipped" where the type of a signed
    attribute is not known (`known(name, value)`); Mismatch if they changed after signing, BadMaterial
    if one holds no CloudEvents value."""
    if material.ext is None or material.signedextattrs is None:
        return "none"
    names = material.signedextattrs
    values = [extensions.get(n) for n in names]
    digest = ext_digest(values)  # refuses values of no CloudEvents type, known or not
    if not all(known(n, v) for n, v in zip(names, values, strict=True)):
        return "skipped"
    if digest != material.ext:
        raise Mismatch(f"the signed extension attributes ({', '.join(names)}) changed after signing")
    return "verified"
