"""Ký một sự kiện bằng khoá riêng của cơ quan (phần mở rộng *verifiability* của CloudEvents: chữ ký DSSE
trong thuộc tính `dssematerial`) rồi gửi qua HTTP (`POST /events`) và đọc lại khoá đã xác minh nó.
Sign an event with the agency's private key (CloudEvents verifiability extension), post it, read it back.

    pip install cryptography httpx
    python sign_event.py keygen khoa.pem              # khoá Ed25519: khoa.pem (riêng, giữ kín) và khoa.pub.pem
    doingoai keys add --province ha-tinh --agency ubnd-huyen-nghi-xuan --public-key khoa.pub.pem
    python sign_event.py cred.json khoa.pem           # ký, gửi, in một dòng JSON

`cred.json` là những gì `doingoai credentials issue` in ra. Khoá riêng không bao giờ rời hệ thống của cơ
quan: doingoai chỉ giữ khoá công khai. Khoá ECDSA P-256 (`openssl ecparam -name prime256v1 -genkey`) cũng
dùng được. `sign_event()` dùng lại được trong hệ thống của cơ quan, với bất kỳ sự kiện nào.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PAYLOAD_TYPE = "https://cloudevents.io/verifiability/dsse/v0.1"
CORE = ("id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject")


def digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def key_id(private_key: Any) -> str:
    """Mã khoá (keyid): SHA-256 của khoá công khai dạng DER (SubjectPublicKeyInfo), hệ 16 — đúng mã mà
    `doingoai keys add` in ra."""
    der = private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def utc_seconds(text: str) -> str:
    """`time` theo giờ UTC, tới giây, đuôi Z: 2026-05-13T10:49:12.5+01:00 -> 2026-05-13T09:49:12Z."""
    moment = datetime.fromisoformat(text)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical(value: Any) -> bytes:
    if isinstance(value, bool):
        return b"true" if value else b"false"
    return str(value).encode()


def sign_bytes(private_key: Any, message: bytes) -> bytes:
    if isinstance(private_key, Ed25519PrivateKey):
        return private_key.sign(message)
    r, s = utils.decode_dss_signature(private_key.sign(message, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")  # r||s, như bộ vector thử của đặc tả


def sign_event(event: dict[str, Any], private_key: Any, signed_extensions: tuple[str, ...] = ()) -> bytes:
    """Sự kiện (JSON structured mode) kèm `dssematerial`, thành đúng các byte phải gửi: `data` được băm
    đúng như nó được viết trong thân yêu cầu, nên phải gửi nguyên các byte này, không tuần tự hoá lại."""
    data_text = json.dumps(event["data"], ensure_ascii=False, separators=(",", ":")).encode()
    parts = [digest(event[n].encode()) if event.get(n) else digest(b"") for n in CORE]
    parts.append(digest(utc_seconds(event["time"]).encode()) if event.get("time") else digest(b""))
    parts.append(digest(data_text))
    material: dict[str, Any] = {"core": b64(digest(b"".join(parts)))}
    if signed_extensions:  # thuộc tính mở rộng được ký thêm, ví dụ ("actor",)
        values = [digest(canonical(event[n])) if event.get(n) not in (None, "") else digest(b"")
                  for n in signed_extensions]
        material.update(ext=b64(digest(b"".join(values))), signedextattrs=list(signed_extensions))
    payload = json.dumps(material, separators=(",", ":")).encode()
    pae = b"DSSEv1 %d %b %d %b" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload), payload)
    envelope = {"payloadType": PAYLOAD_TYPE, "payload": b64(payload),
                "signatures": [{"keyid": key_id(private_key), "sig": b64(sign_bytes(private_key, pae))}]}
    signed = {**event, "dssematerial": b64(json.dumps(envelope, separators=(",", ":")).encode())}
    return json.dumps(signed, ensure_ascii=False, separators=(",", ":")).encode()


def difficulty(province: str, agency: str) -> dict[str, Any]:
    """Một khó khăn, vướng mắc đơn vị báo Sở Ngoại vụ; `data` theo /schemas/difficulty_raised.v1.json."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"/provinces/{province}/agencies/{agency}",
        "type": "vn.gov.doingoai.difficulty_raised.v1",
        "subject": f"difficulty/{uuid.uuid4()}",
        "time": datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).isoformat(timespec="seconds"),
        "datacontenttype": "application/json",
        "data": {"topic": "Đón đoàn đại biểu nước ngoài dự lễ kết nghĩa", "severity": "low",
                 "description": "Xin hướng dẫn thủ tục mời đoàn của huyện bạn", "addressed_to": "so-ngoai-vu"},
    }


def keygen(path: Path) -> None:
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # khoá riêng: chỉ người tạo đọc được
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public = path.with_name(path.name.removesuffix(".pem") + ".pub.pem")
    public.write_bytes(private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                             serialization.PublicFormat.SubjectPublicKeyInfo))
    print(json.dumps({"private_key": str(path), "public_key": str(public), "key_id": key_id(private_key)}))


def main(creds: dict[str, str], key_path: Path) -> None:
    private_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    event = difficulty(creds["province"], creds["agency"])
    body = sign_event(event, private_key)
    auth = {"authorization": f"Bearer {creds['token']}"}
    with httpx.Client(base_url=creds["http"], headers=auth, timeout=30) as client:
        answer = client.post("/events", content=body, headers={"content-type": "application/cloudevents+json"})
        if answer.status_code != 202:  # 400 bad_signature: chữ ký không hợp lệ, hoặc thiếu chữ ký bắt buộc
            sys.exit(f"{answer.status_code} {answer.text}")
        for _ in range(100):  # chờ sự kiện hiện ra trong dữ liệu đọc
            read = client.get(f"/api/events/{event['id']}", params={"source": event["source"]})
            if read.status_code != 404:
                break
            time.sleep(0.2)
        read.raise_for_status()
    print(json.dumps({**answer.json(), "key_id": key_id(private_key), "signature": read.json()["signature"]}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "keygen":
        keygen(Path(sys.argv[2]))
    elif len(sys.argv) == 3:
        main(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")), Path(sys.argv[2]))
    else:
        sys.exit(f"usage: {sys.argv[0]} keygen <private-key.pem> | {sys.argv[0]} <credentials.json> <private-key.pem>")
