"""The CloudEvents verifiability extension against its published test vectors
(tests/unit/data/cloudevents_verifiability_vectors.json, copied from cloudevents/spec, Apache-2.0).

What the vectors pin down is checked byte for byte: the DSSE pre-authentication encoding and the
P-256 signatures (RFC 6979 signing with the published key reproduces every published signature),
the envelope's JSON and Base64, the binary event of case 5 signed end to end, the time normalisation
of cases 3 and 4, the extension digests of cases 6 and 7, and the refusals of case 8. Three defects
of the published text are pinned too, so that a corrected upstream vector shows up here: cases 1 and
2 carry the earlier draft's payload (the bare 32-byte digest, not the JSON object the text requires);
cases 6a and 6b and the walkthrough's final attribute end their payload's Base64 with `XX09` where the
signed JSON ends `XX0=`; and no serialisation of `{"hello": "world"}` reproduces the core digests of
the JSON cases (the binary case's digest, where the data's bytes are unambiguous, is reproduced).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from schemas.signatures import (
    PAYLOAD_TYPE,
    BadMaterial,
    Envelope,
    Material,
    Mismatch,
    check_core,
    check_extensions,
    core_digest,
    ext_digest,
    material_of,
    pae,
    public_key_of,
    sha256,
    sign,
    sign_bytes,
    signed_by,
    timestamp,
)

pytestmark = pytest.mark.unit
VECTORS = json.loads((Path(__file__).parent / "data" / "cloudevents_verifiability_vectors.json").read_text())
CASES = {c["case"]: c for c in VECTORS["cases"]}
PRIVATE = ec.derive_private_key(int(VECTORS["key"]["d"]), ec.SECP256R1())
PUBLIC = public_key_of(PRIVATE)
DEFECTIVE = ("6a", "6b")
"""Published with `XX09` closing the payload's Base64 (the signed JSON, then a stray `=`)."""


def test_the_published_key_pair_is_the_one_the_numbers_give():
    numbers = PUBLIC.key.public_numbers()  # type: ignore[union-attr]
    assert (str(numbers.x), str(numbers.y)) == (VECTORS["key"]["x"], VECTORS["key"]["y"])
    assert PUBLIC.algorithm == "ecdsa-p256-sha256"


def envelope_json(material: str) -> dict[str, Any]:
    return json.loads(base64.b64decode(material))  # type: ignore[no-any-return]


def signed_payload(material: str) -> bytes:
    """The bytes a published signature covers: the payload, without the stray `=` of the defective ones."""
    payload = base64.b64decode(envelope_json(material)["payload"])
    return payload[:-1] if payload.endswith(b"}=") else payload


@pytest.mark.parametrize("case", sorted(CASES))
def test_rfc6979_signing_with_the_published_key_reproduces_every_published_signature(case: str):
    material = CASES[case]["dssematerial"]
    published = envelope_json(material)["signatures"][0]
    assert base64.b64encode(sign_bytes(PRIVATE, pae(PAYLOAD_TYPE, signed_payload(material)))).decode() == \
        published["sig"]
    assert published["keyid"] == "testkey"


@pytest.mark.parametrize("case", sorted(set(CASES) - set(DEFECTIVE)))
def test_every_published_signature_verifies_over_its_payload(case: str):
    envelope = Envelope.parse(CASES[case]["dssematerial"])
    assert signed_by(envelope, lambda keyid: [PUBLIC] if keyid == "testkey" else []) == PUBLIC
    assert signed_by(envelope, lambda keyid: []) is None  # no acceptable key: not verified


@pytest.mark.parametrize("case", DEFECTIVE)
def test_the_defective_payloads_are_discarded_and_their_corrected_payload_verifies(case: str):
    material = CASES[case]["dssematerial"]
    envelope = Envelope.parse(material)
    assert envelope.payload.endswith(b"]}=")
    with pytest.raises(BadMaterial, match="not a JSON object"):
        envelope.material()
    assert signed_by(envelope, lambda _: [PUBLIC]) is None
    corrected = Envelope(signed_payload(material), envelope.signatures)
    assert signed_by(corrected, lambda _: [PUBLIC]) == PUBLIC
    assert corrected.material().signedextattrs == ("exta",)


def test_case_5_a_binary_event_signed_end_to_end_gives_the_published_material():
    event = CASES["5"]["event"]
    data = base64.b64decode(event["data_base64"])
    material = material_of(event, event.get("time"), data)
    assert sign(material, PRIVATE, "testkey").attribute() == CASES["5"]["dssematerial"]
    published = Envelope.parse(CASES["5"]["dssematerial"])
    check_core(published.material(), event, None, data)
    with pytest.raises(Mismatch):
        check_core(published.material(), event, None, data + b"!")


def test_the_envelope_is_written_as_the_vectors_write_it():
    envelope = Envelope.parse(CASES["3"]["dssematerial"])
    assert envelope.attribute() == CASES["3"]["dssematerial"]
    assert Material.from_json(envelope.payload).to_json() == envelope.payload


def test_cases_3_and_4_are_one_moment_and_one_material():
    assert CASES["3"]["dssematerial"] == CASES["4"]["dssematerial"]
    zulu, offset = CASES["3"]["event"], CASES["4"]["event"]
    data = b'{"hello":"world"}'
    assert core_digest(zulu, zulu["time"], data) == core_digest(offset, offset["time"], data)
    assert timestamp("2026-05-13T10:49:12.123456+01:00") == b"2026-05-13T09:49:12Z"  # the spec's example
    assert timestamp("2020-06-18T17:24:53.999") == b"2020-06-18T17:24:53Z"  # no offset: UTC, truncated


def test_cases_1_and_2_carry_the_earlier_drafts_bare_digest_which_the_text_discards():
    for case in ("1", "2"):
        envelope = Envelope.parse(CASES[case]["dssematerial"])
        assert len(envelope.payload) == 32
        with pytest.raises(BadMaterial):
            envelope.material()
    # an empty subject counts as an absent one
    assert core_digest(CASES["2"]["event"], None, b"x") == core_digest(CASES["1"]["event"], None, b"x")


def test_the_extension_digests_of_cases_6_and_7_and_the_walkthrough():
    seven = Envelope.parse(CASES["7"]["dssematerial"]).material()
    assert seven.signedextattrs == ("exta", "extb")
    assert ext_digest(["value1", "value2"]) == seven.ext
    one = Material.from_json(signed_payload(CASES["6a"]["dssematerial"]))
    walkthrough = VECTORS["walkthrough"]["payload"]
    assert base64.b64encode(ext_digest(["value1"])).decode() == walkthrough["ext"] == base64.b64encode(
        one.ext or b"").decode()
    assert check_extensions(seven, CASES["7"]["event"], lambda *_: True) == "verified"
    changed = {**CASES["7"]["event"], "extb": "value3"}
    with pytest.raises(Mismatch, match="exta, extb"):
        check_extensions(seven, changed, lambda *_: True)
    assert check_extensions(seven, changed, lambda name, _: name != "extb") == "skipped"
    # 6b: an extension attribute that is not signed may change
    six = Material.from_json(signed_payload(CASES["6b"]["dssematerial"]))
    assert check_extensions(six, {**CASES["6b"]["event"], "extb": "other"}, lambda *_: True) == "verified"


def test_the_walkthroughs_printed_envelope_verifies_and_its_final_attribute_has_the_same_defect():
    walkthrough = VECTORS["walkthrough"]
    printed = json.dumps(walkthrough["payload"], separators=(",", ":")).encode()
    envelope = Envelope.parse(walkthrough["dssematerial"])
    assert envelope.payload == printed + b"="
    assert signed_by(Envelope(printed, envelope.signatures), lambda _: [PUBLIC]) == PUBLIC


def digest_b64() -> str:
    return base64.b64encode(sha256(b"x")).decode()


@pytest.mark.parametrize(("case", "message"), [
    ("8a", "twice"), ("8b", "may not name id"), ("8c", "may not name dssematerial"),
    ("8d", "both be present"), ("8e", "both be present"),
])
def test_case_8_payloads_that_break_the_rules_are_discarded(case: str, message: str):
    payload = {k: (digest_b64() if v == "<32>" else v) for k, v in VECTORS["invalid_payloads"][case].items()}
    with pytest.raises(BadMaterial, match=message):
        Material.from_json(json.dumps(payload).encode())


def test_case_8f_an_extension_value_of_no_cloudevents_type_is_discarded_at_signing_and_verification():
    with pytest.raises(BadMaterial):
        material_of({"id": "1"}, None, b"", {"exta": {"nested": 1}}, ["exta"])
    material = Material(sha256(b""), ext_digest(["v"]), ("exta",))
    with pytest.raises(BadMaterial):
        check_extensions(material, {"exta": ["v"]}, lambda *_: True)
    with pytest.raises(BadMaterial):
        check_extensions(material, {"exta": 1.5}, lambda *_: True)


@pytest.mark.parametrize("bad", [
    "not base64!", base64.b64encode(b"\xff\xfe").decode(), base64.b64encode(b"[1]").decode(),
    base64.b64encode(b'{"payloadType":"other","payload":"e30=","signatures":[{"sig":"AA=="}]}').decode(),
    base64.b64encode(b'{"payloadType":"' + PAYLOAD_TYPE.encode() + b'","payload":"e30=","signatures":[]}').decode(),
])
def test_material_that_is_not_a_dsse_envelope_of_the_extension_is_discarded(bad: str):
    with pytest.raises(BadMaterial):
        Envelope.parse(bad)


def test_a_core_digest_that_is_not_32_bytes_is_discarded():
    with pytest.raises(BadMaterial, match="32-byte"):
        Material.from_json(json.dumps({"core": base64.b64encode(b"short").decode()}).encode())
