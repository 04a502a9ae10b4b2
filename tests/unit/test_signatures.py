"""Agencies' signatures on their events (schemas.keyring, schemas.jsontext, schemas.codec), pure: an
event signed with a registered key of its agency verifies as the system stores it; a change to its
data or to a signed attribute after signing, a key of another agency, a revoked, unknown or later
key, and a missing signature where the province requires one are each refused with their reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.codec import decode, encode, encode_keeping_data
from schemas.jsontext import element_member_texts, member_text
from schemas.keyring import BAD_SIGNATURE, AgencyKey, KeyRing, Requirement, SignatureRefusal, Signed
from schemas.signatures import (
    ATTRIBUTE,
    PAYLOAD_TYPE,
    BadKey,
    Envelope,
    Signature,
    material_of,
    pae,
    public_key,
    public_key_of,
    sign,
)
from tests.support import sample

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
AT = T0 + timedelta(days=1)
P, A = "ha-tinh", "so-tu-phap"


def pem(private: Any) -> str:
    return private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def registered(private: Any, province: str = P, agency: str = A, added: datetime = T0,
               revoked: datetime | None = None) -> AgencyKey:
    key = public_key(pem(private))
    return AgencyKey(key.key_id, province, agency, key.algorithm, pem(private), added, revoked)


def signed_bytes(private: Any, keyid: str, *, signedextattrs: tuple[str, ...] = (), agency: str = A,
                 data_text: bytes | None = None, **extensions: Any) -> bytes:
    """An event of `agency` as an agency's system signs and sends it: JSON with `data` written once."""
    event = sample("difficulty_raised", province=P, agency=agency, data={"addressed_to": "so-ngoai-vu"})
    obj = json.loads(encode(event))
    obj.update(extensions)
    data = data_text or json.dumps(obj["data"], ensure_ascii=False).encode()  # with spaces: any text is fine
    attributes = {k: v for k, v in obj.items() if isinstance(v, str)}
    material = material_of(attributes, obj["time"], data, obj, signedextattrs)
    obj[ATTRIBUTE] = sign(material, private, keyid).attribute()
    obj.pop("data")
    return json.dumps(obj, ensure_ascii=False).encode()[:-1] + b', "data": ' + data + b"}"


def check(raw: bytes, ring: KeyRing, at: datetime = AT) -> Signed | SignatureRefusal | None:
    return ring.check(decode(raw).envelope, raw, at)


ED = Ed25519PrivateKey.generate()
EC = ec.generate_private_key(ec.SECP256R1())


def test_a_signed_event_verifies_with_its_agencys_key_and_names_it():
    for private in (ED, EC):
        key = registered(private)
        found = check(signed_bytes(private, key.key_id), KeyRing([key]))
        assert found == Signed(key.key_id, key.algorithm, "none")
        assert found.as_dict()["verified"] is True


def test_the_data_is_hashed_as_the_text_it_was_sent_as_and_stored_so():
    key = registered(ED)
    raw = signed_bytes(ED, key.key_id, data_text=b'{ "topic" : "Th\\u1ee7 t\\u1ee5c", "severity": "medium",'
                                                  b' "addressed_to": "so-ngoai-vu",'
                                                  b' "description": "x"}')
    event = decode(raw)
    assert isinstance(check(raw, KeyRing([key])), Signed)
    stored = encode_keeping_data(event.envelope, member_text(raw, "data") or b"")
    assert decode(stored).envelope.model_dump() == event.envelope.model_dump()
    assert isinstance(check(stored, KeyRing([key])), Signed)
    # the same value written otherwise (as `encode` writes it) is not what was signed
    refused = check(encode(event.envelope), KeyRing([key]))
    assert isinstance(refused, SignatureRefusal) and "changed after signing" in refused.message


def test_data_changed_after_signing_is_refused():
    key = registered(ED)
    raw = signed_bytes(ED, key.key_id).replace(b'"severity": "medium"', b'"severity": "high"')
    refused = check(raw, KeyRing([key]))
    assert isinstance(refused, SignatureRefusal)
    assert refused.kind == BAD_SIGNATURE == "bad_signature" and refused.path == ATTRIBUTE
    assert "không hợp lệ" in refused.message and "changed after signing" in refused.message


def test_a_changed_context_attribute_is_refused_and_a_changed_unsigned_extension_is_not():
    key = registered(ED)
    raw = signed_bytes(ED, key.key_id, actor="Nguyễn Văn An")
    assert isinstance(check(raw.replace("Nguyễn Văn An".encode(), b"someone else"), KeyRing([key])), Signed)
    time = json.loads(raw)["time"].encode()
    moved = raw.replace(b'"time": "' + time, b'"time": "2026-01-06T09:00:00+07:00')
    assert moved != raw and isinstance(check(moved, KeyRing([key])), SignatureRefusal)


def test_a_signed_extension_attribute_is_verified_and_may_not_change():
    key = registered(ED)
    raw = signed_bytes(ED, key.key_id, signedextattrs=("actor", "correlationid"), actor="Nguyễn Văn An",
                       correlationid="c-1")
    assert check(raw, KeyRing([key])) == Signed(key.key_id, key.algorithm, "verified")
    changed = raw.replace("Nguyễn Văn An".encode(), "Trần Thị Bình".encode())
    refused = check(changed, KeyRing([key]))
    assert isinstance(refused, SignatureRefusal) and "actor, correlationid" in refused.message
    # an attribute of a type not known here is not verified, and says so
    other = signed_bytes(ED, key.key_id, signedextattrs=("traceid",), traceid="abc")
    assert check(other, KeyRing([key])) == Signed(key.key_id, key.algorithm, "skipped")


@pytest.mark.parametrize(("ring", "message"), [
    (lambda k: KeyRing([]), "which is not registered"),
    (lambda k: KeyRing([registered(ED, agency="so-noi-vu")]), "of ha-tinh/so-noi-vu, not of ha-tinh/so-tu-phap"),
    (lambda k: KeyRing([registered(ED, province="kon-tum")]), "of kon-tum/so-tu-phap, not of ha-tinh/so-tu-phap"),
    (lambda k: KeyRing([registered(ED, revoked=AT - timedelta(hours=1))]), "revoked on 2026-01-06T07:00:00+00:00"),
    (lambda k: KeyRing([registered(ED, added=AT + timedelta(seconds=1))]), "registered only on"),
])
def test_a_key_that_does_not_count_for_the_event_is_refused_with_its_reason(ring: Any, message: str):
    key = registered(ED)
    refused = check(signed_bytes(ED, key.key_id), ring(key))
    assert isinstance(refused, SignatureRefusal) and message in refused.message, refused


def test_a_key_revoked_after_the_event_was_recorded_still_verifies_it():
    key = registered(ED, revoked=AT + timedelta(seconds=1))
    assert isinstance(check(signed_bytes(ED, key.key_id), KeyRing([key])), Signed)


def test_a_signature_by_another_key_than_the_keyid_names_does_not_verify():
    key, other = registered(ED), registered(EC)
    refused = check(signed_bytes(Ed25519PrivateKey.generate(), key.key_id), KeyRing([key, other]))
    assert isinstance(refused, SignatureRefusal) and f"the signature by key {key.key_id} does not verify" in \
        refused.message


def test_a_signature_without_keyid_is_tried_with_the_agencys_keys():
    key, other = registered(EC), registered(ED, agency="so-noi-vu")
    assert isinstance(check(signed_bytes(EC, ""), KeyRing([other, key])), Signed)
    refused = check(signed_bytes(ED, ""), KeyRing([other, key]))
    assert isinstance(refused, SignatureRefusal) and "no registered key of ha-tinh/so-tu-phap" in refused.message


def test_an_ecdsa_signature_in_der_verifies_too():
    key = registered(EC)
    raw = signed_bytes(EC, key.key_id)
    value = json.loads(raw)[ATTRIBUTE]
    envelope = Envelope.parse(value)
    der = EC.sign(pae(PAYLOAD_TYPE, envelope.payload), ec.ECDSA(hashes.SHA256()))
    in_der = Envelope(envelope.payload, (Signature(key.key_id, der),)).attribute()
    assert isinstance(check(raw.replace(value.encode(), in_der.encode()), KeyRing([key])), Signed)


def test_an_unsigned_event_is_refused_only_while_the_province_requires_signatures():
    raw = encode(sample("difficulty_raised", province=P, agency=A))
    history = [Requirement(P, A, True, T0), Requirement(P, A, False, AT + timedelta(days=1))]
    assert check(raw, KeyRing()) is None
    assert check(raw, KeyRing([], history), at=T0 - timedelta(seconds=1)) is None
    refused = check(raw, KeyRing([], history))
    assert isinstance(refused, SignatureRefusal) and refused.message.startswith("chữ ký bắt buộc")
    assert "ha-tinh/so-tu-phap signs its events" in refused.message
    assert check(raw, KeyRing([], history), at=AT + timedelta(days=2)) is None
    assert check(raw, KeyRing([], [Requirement(P, "so-noi-vu", True, T0)])) is None


def test_material_that_is_not_an_envelope_is_refused():
    obj = json.loads(encode(sample("difficulty_raised", province=P, agency=A)))
    refused = check(json.dumps({**obj, ATTRIBUTE: "bm90IGpzb24="}).encode(), KeyRing())
    assert isinstance(refused, SignatureRefusal) and "not a DSSE JSON envelope" in refused.message


def test_only_ed25519_and_p256_public_keys_are_registered():
    assert public_key(pem(ED)).algorithm == "ed25519"
    assert public_key_of(EC).key_id == public_key(pem(EC)).key_id
    assert len(public_key(pem(EC)).key_id) == 64
    with pytest.raises(BadKey, match="Ed25519 and ECDSA P-256"):
        public_key(pem(ec.generate_private_key(ec.SECP384R1())))
    with pytest.raises(BadKey, match="Ed25519 and ECDSA P-256"):
        public_key(pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    private = ED.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    with pytest.raises(BadKey, match="private key"):
        public_key(private)
    with pytest.raises(BadKey, match="not a PEM public key"):
        public_key("hello")


def test_member_text_is_the_exact_text_of_the_last_member_of_that_name():
    raw = '{"data": 1, "x": [1, {"data": 2}], "data" :\n {"a": "\\u00e9 é", "b": [ 1 ,2 ]} \n}'.encode()
    assert member_text(raw, "data") == '{"a": "\\u00e9 é", "b": [ 1 ,2 ]}'.encode()
    assert member_text(raw, "missing") is None
    assert member_text(b"[1]", "data") is None
    assert member_text(b'{"data": tru', "data") is None
    assert member_text(b"\xff", "data") is None


def test_element_member_texts_reads_each_event_of_a_batch():
    raw = b' [ {"data": {"a":1}}, {"id": "x"}, 3, {"data" : "s"} ] '
    assert element_member_texts(raw, "data") == [b'{"a":1}', None, None, b'"s"']
    assert element_member_texts(b"[]", "data") == []
    assert element_member_texts(b'{"data": 1}', "data") is None
    assert element_member_texts(b'[{"data": 1} {"data": 2}]', "data") is None
