"""Agencies' signatures (CloudEvents verifiability extension) on the real stack: an event signed with
the agency's registered key is stored over HTTP (structured, binary and batched mode) and over NATS
and read back with its verifying key; tampered data, another agency's key and a revoked key are
refused `bad_signature` on both paths and kept as rejections; an agency the province requires to sign
has its unsigned events refused until the requirement is lifted; a session's event is marked as
such; `audit verify --signatures` passes, lists what a key revoked since had signed, and fails naming
the event when the auditor's keys say its key was revoked before it was recorded; a replay decides as
the live projection did; the signing examples of docs/examples (Python, Node.js) are accepted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.codec import encode
from schemas.envelope import CloudEvent
from schemas.signatures import material_of, public_key_of, sign
from services.http.signed import KEYRING_TTL_S
from tests.integration.test_audit_replay import checksums
from tests.integration.test_people import CE, PASSWORD, add
from tests.support import System, nats_options, sample

pytestmark = pytest.mark.integration
P = f"tinh-{uuid.uuid4().hex[:6]}"
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


class Agency:
    """An agency of P with its credentials, a key pair registered through `doingoai keys add`, and its
    NATS connection."""

    def __init__(self, system: System, tmp: Path, agency: str, private: Any = None):
        self.system, self.agency = system, agency
        self.creds = system.credentials(P, agency)
        self.private = private or Ed25519PrivateKey.generate()
        self.key_id = public_key_of(self.private).key_id
        self.nc: Any = None
        pem = tmp / f"{agency}.pub.pem"
        pem.write_bytes(self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                               serialization.PublicFormat.SubjectPublicKeyInfo))
        done = system.cli("keys", "add", "--province", P, "--agency", agency, "--public-key", str(pem))
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["key_id"] == self.key_id

    def event(self, **data: Any) -> CloudEvent:
        return sample("difficulty_raised", province=P, agency=self.agency,
                      data={"addressed_to": "so-ngoai-vu", **data})

    def signed(self, event: CloudEvent, private: Any = None, key_id: str | None = None) -> bytes:
        """The event signed as an agency's system signs it (its `data` as `encode` writes it)."""
        obj = json.loads(encode(event))
        data = json.dumps(obj["data"], ensure_ascii=False, separators=(",", ":")).encode()
        material = material_of(obj, obj["time"], data)
        value = sign(material, private or self.private, key_id or self.key_id).attribute()
        return encode(event.model_copy(update={"dssematerial": value}))

    def post(self, body: bytes, content_type: str = CE["content-type"], **headers: str) -> httpx.Response:
        return httpx.post(f"{self.system.http}/events", content=body, timeout=30, headers={
            "content-type": content_type, "authorization": f"Bearer {self.creds['token']}", **headers})

    async def publish(self, body: bytes) -> int:
        if self.nc is None:
            self.nc = await nats.connect(self.creds["nats_url"], **nats_options(self.creds))
        ack = await self.nc.jetstream().publish(f"doingoai.events.{P}.{self.agency}.difficulty_raised", body)
        return int(ack.seq)


@pytest.fixture(scope="module")
async def agencies(system: System, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Agency]]:
    tmp = tmp_path_factory.mktemp("keys")
    found = {"T": Agency(system, tmp, "so-tu-phap"), "N": Agency(system, tmp, "so-noi-vu"),
             "Y": Agency(system, tmp, "so-y-te", ec.generate_private_key(ec.SECP256R1())),
             "X": Agency(system, tmp, "so-xay-dung")}
    yield found
    for a in found.values():
        if a.nc is not None:
            await a.nc.close()


def stored(system: System, event_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (found := system.get(f"/api/events/{event_id}", province=P)).status_code == 404:
        assert time.monotonic() < deadline, f"event {event_id} never stored"
        time.sleep(0.2)
    assert found.status_code == 200, found.text
    return found.json()  # type: ignore[no-any-return]


def rejection(system: System, event_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not (rows := system.get("/api/rejected", province=P, event_id=event_id).json()["items"]):
        assert time.monotonic() < deadline, f"no rejection of {event_id}"
        time.sleep(0.2)
    return rows[0]  # type: ignore[no-any-return]


def refused(r: httpx.Response, message: str) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "bad_signature" and body["problems"][0]["path"] == "dssematerial", body
    assert message in body["problems"][0]["message"], body


async def test_a_signed_event_is_stored_on_both_paths_and_read_with_its_key(system: System,
                                                                             agencies: dict[str, Agency]):
    t, y = agencies["T"], agencies["Y"]
    over_http, over_nats, in_batch = t.event(), y.event(), t.event()
    assert t.post(t.signed(over_http)).status_code == 202
    seq = await y.publish(y.signed(over_nats))  # ECDSA P-256
    batch = b"[" + t.signed(in_batch) + b", " + encode(t.event()) + b"]"
    assert t.post(batch, "application/cloudevents-batch+json").status_code == 202
    # binary mode: the body is the data; ce-dssematerial carries the signature
    binary = t.event()
    obj = json.loads(encode(binary))
    body = '{ "topic": "Thủ tục", "severity": "low", "description": "Xin hướng dẫn",  "addressed_to": "so-ngoai-vu" }'
    body_bytes = body.encode()
    obj.update(datacontenttype="application/json", data=None)
    value = sign(material_of(obj, obj["time"], body_bytes), t.private, t.key_id).attribute()
    headers = {f"ce-{k}": v for k, v in obj.items() if isinstance(v, str)}
    assert t.post(body_bytes, "application/json", **headers, **{"ce-dssematerial": value}).status_code == 202
    for event, agency in ((over_http, t), (over_nats, y), (in_batch, t), (binary, t)):
        read = stored(system, event.id)
        assert read["signature"] == {"key_id": agency.key_id, "algorithm": public_key_of(agency.private).algorithm,
                                     "verified": True, "extensions": "none"}, read
        assert read["event"]["dssematerial"]
    assert stored(system, over_nats.id)["sequence"] == seq
    trail = system.get("/api/audit", province=P, event_id=over_http.id).json()["items"]
    assert trail[0]["signature"]["key_id"] == t.key_id and trail[0]["status"] == "stored"


async def test_data_changed_after_signing_is_refused_on_both_paths_and_kept(system: System,
                                                                            agencies: dict[str, Agency]):
    t = agencies["T"]
    http_event, nats_event = t.event(severity="low"), t.event(severity="low")
    tampered = t.signed(http_event).replace(b'"severity":"low"', b'"severity":"high"')
    refused(t.post(tampered), "changed after signing")
    kept = rejection(system, http_event.id)
    assert kept["kind"] == "bad_signature" and kept["path"] == "http"
    await t.publish(t.signed(nats_event).replace(b'"severity":"low"', b'"severity":"high"'))
    kept = rejection(system, nats_event.id)
    assert kept["kind"] == "bad_signature" and kept["path"] == "nats"
    assert "không hợp lệ" in kept["problems"][0]["message"]
    assert system.get(f"/api/events/{nats_event.id}", province=P).status_code == 404


async def test_another_agencys_key_is_refused(system: System, agencies: dict[str, Agency]):
    t, n = agencies["T"], agencies["N"]
    refused(t.post(t.signed(t.event(), n.private, n.key_id)), f"of {P}/so-noi-vu, not of {P}/so-tu-phap")
    event = t.event()
    await t.publish(t.signed(event, n.private, n.key_id))
    assert rejection(system, event.id)["kind"] == "bad_signature"


async def test_an_agency_required_to_sign_has_its_unsigned_events_refused(system: System,
                                                                          agencies: dict[str, Agency]):
    n = agencies["N"]
    done = system.cli("keys", "require", "--province", P, "--agency", n.agency)
    assert done.returncode == 0 and json.loads(done.stdout)["required"] is True, done.stderr
    time.sleep(KEYRING_TTL_S)  # the door lets events in on the keys it read up to this long ago
    refused(n.post(encode(n.event())), "chữ ký bắt buộc")
    unsigned = n.event()
    await n.publish(encode(unsigned))
    assert "chữ ký bắt buộc" in rejection(system, unsigned.id)["problems"][0]["message"]
    assert n.post(n.signed(n.event())).status_code == 202
    # a person of the agency records events in the dashboard: the service signs nothing for them
    async with httpx.AsyncClient(base_url=system.http, timeout=30) as client:
        assert (await client.post("/login", data={"username": add(system, n.agency, province=P),
                                                  "password": PASSWORD})).status_code == 200
        csrf = {"x-csrf-token": (await client.get("/api/me")).json()["csrf_token"], **CE}
        refused(await client.post("/events", content=encode(n.event()), headers=csrf), "chữ ký bắt buộc")
        assert system.cli("keys", "require", "--province", P, "--agency", n.agency, "--off").returncode == 0
        by_person = n.event()
        assert (await client.post("/events", content=encode(by_person), headers=csrf)).status_code == 202
    event = stored(system, by_person.id)["event"]
    assert event["recordedvia"] == "session" and event["actor"].startswith("Nguyễn Văn An")
    listed = json.loads(system.cli("keys", "list", "--province", P, "--format", "json").stdout)
    assert [r["required"] for r in listed["requirements"] if r["agency"] == n.agency] == [True, False]


async def test_a_revoked_key_is_refused_and_audit_verify_reports_what_it_signed(
        system: System, agencies: dict[str, Agency], tmp_path: Path):
    x = agencies["X"]
    before = x.event()
    assert x.post(x.signed(before)).status_code == 202
    signed_seq = stored(system, before.id)["sequence"]
    done = system.cli("keys", "revoke", x.key_id)
    assert done.returncode == 0 and json.loads(done.stdout)["revoked_at"], done.stderr
    assert system.cli("keys", "revoke", x.key_id).returncode == 1  # revoked already
    refused(x.post(x.signed(x.event())), "revoked on")
    late = x.event()
    await x.publish(x.signed(late))
    assert "revoked on" in rejection(system, late.id)["problems"][0]["message"]

    verified = system.cli("audit", "verify", "--signatures")
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)["signatures"]
    assert report["ok"] and report["verified"] >= 4 and report["refused"] >= 4
    revoked = [r for r in report["signed_by_keys_revoked_since"] if r["event_id"] == before.id]
    assert revoked and revoked[0]["sequence"] == signed_seq and revoked[0]["key_id"] == x.key_id
    assert f"sequence {signed_seq} (event {before.id}) is signed by a key revoked since" in verified.stderr

    # the auditor learns the key was compromised a day earlier: what it signed since then fails
    exported = json.loads(system.cli("keys", "list", "--format", "json").stdout)
    for key in exported["keys"]:
        if key["key_id"] == x.key_id:
            key["added_at"] = "2000-01-01T00:00:00+00:00"
            key["revoked_at"] = "2001-01-01T00:00:00+00:00"
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(exported))
    failed = system.cli("audit", "verify", "--signatures", "--keys", str(keys))
    assert failed.returncode == 1, failed.stdout
    assert f"FAILED at sequence {signed_seq} (event {before.id}): stored although" in failed.stderr
    assert "revoked on 2001-01-01" in failed.stderr


async def test_a_replay_checks_signatures_as_the_live_projection_did(system: System, agencies: dict[str, Agency]):
    t = agencies["T"]
    last = t.post(t.signed(t.event())).json()["sequence"]
    system.wait_projected(last)
    url = system.runtime()["database_url"]
    done = system.cli("replay")
    assert done.returncode == 0, done.stderr
    replayed = json.loads(done.stdout)["checksums"]
    live = await checksums(url, "doingoai")
    assert replayed["event_signatures"] == live["event_signatures"] != ""
    assert replayed["rejected"] == live["rejected"] and replayed["events"] == live["events"]


def run(*args: str) -> dict[str, Any]:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_signing_examples_sign_events_the_system_verifies(system: System, tmp_path: Path):
    agency = "ubnd-huyen-nghi-xuan"
    creds = tmp_path / "cred.json"
    creds.write_text(json.dumps(system.credentials(P, agency)))
    made = run(sys.executable, str(EXAMPLES / "sign_event.py"), "keygen", str(tmp_path / "khoa.pem"))
    assert system.cli("keys", "add", "--province", P, "--agency", agency, "--public-key",
                      made["public_key"]).returncode == 0
    out = run(sys.executable, str(EXAMPLES / "sign_event.py"), str(creds), made["private_key"])
    assert out["key_id"] == made["key_id"] and out["signature"]["key_id"] == made["key_id"]
    assert out["signature"]["verified"] is True and out["sequence"] > 0
    node = shutil.which("node")
    if node is None:
        pytest.skip("no Node.js here: the JavaScript example is not run")
    ecdsa = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "p256.pem"
    pem.write_bytes(ecdsa.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    public = tmp_path / "p256.pub.pem"
    public.write_bytes(ecdsa.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo))
    assert system.cli("keys", "add", "--province", P, "--agency", agency, "--public-key", str(public)).returncode == 0
    for key in (made["private_key"], str(pem)):
        out = run(node, str(EXAMPLES / "sign_event.mjs"), str(creds), key)
        assert out["signature"]["key_id"] == out["key_id"] and out["signature"]["verified"] is True


def test_keys_add_refuses_what_is_not_a_public_key_of_an_agency(system: System, tmp_path: Path):
    private = tmp_path / "private.pem"
    private.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    done = system.cli("keys", "add", "--province", P, "--agency", "so-tu-phap", "--public-key", str(private))
    assert done.returncode == 2 and "private key" in done.stderr and "Traceback" not in done.stderr
    done = system.cli("keys", "add", "--province", P, "--agency", "doingoai", "--public-key", str(private))
    assert done.returncode == 2 and "system" in done.stderr
    assert system.cli("keys", "revoke", "0" * 64).returncode == 1
