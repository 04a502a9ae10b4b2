"""Forms and attachments on the real stack: the forms an agency is offered follow the authority rules; a
person uploads a PDF through a session, submits a report naming it, and the stored event names the person
and the file's hash; the file is read by its agency and SNgV and by no other agency, nor by another agency's
NATS user; an event naming a file not stored as it says is refused; a file altered in the store makes
`audit verify` fail naming it."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import uuid

import docx
import httpx
import nats
import pytest

from schemas.codec import encode
from services.attachments import BUCKET
from tests.integration.test_people import CE, add, sign_in
from tests.support import System, nats_options, sample

pytestmark = pytest.mark.integration
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n") + "Báo cáo 6 tháng đầu năm 2021".encode()


def _docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("Tờ trình đề xuất UBND tỉnh")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _forms(system: System, headers: dict[str, str]) -> dict[str, dict]:
    r = httpx.get(f"{system.http}/api/forms", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return {f["name"]: f for f in r.json()["forms"]}


def _bearer(system: System, agency: str) -> dict[str, str]:
    return {"authorization": f"Bearer {system.credentials('ha-tinh', agency)['token']}"}


def test_the_forms_follow_the_authority_rules_with_vietnamese_labels(system: System):
    sngv = _forms(system, _bearer(system, "so-ngoai-vu"))
    district = _forms(system, _bearer(system, "ubnd-huyen-nghi-xuan"))
    ubnd = _forms(system, _bearer(system, "ubnd-tinh"))
    steps = {"difficulty_acknowledged", "guidance_issued", "difficulty_escalated", "report_accepted", "report_returned"}
    assert steps <= set(sngv) and "decision_issued" not in sngv
    assert {"difficulty_raised", "report_submitted", "activity_held", "delegation_received", "information_shared",
            "information_acknowledged", "agreement_signed", "aid_committed", "conference_held"} <= set(district)
    assert not (steps | {"decision_issued", "partner_registered"}) & set(district)
    assert "decision_issued" in ubnd and not steps & set(ubnd)
    assert "escalation_acknowledged" not in sngv  # acknowledged with its own button

    raised = district["difficulty_raised"]
    assert raised["type"] == "vn.gov.doingoai.difficulty_raised.v1" and raised["opens"] and raised["group"]
    props = raised["schema"]["properties"]
    assert props["topic"]["title"] == "Chủ đề" and props["addressed_to"]["x-reference"] == "agency"
    assert raised["schema"]["$defs"]["Severity"]["x-labels-vi"]["high"] == "Cao"
    assert sngv["difficulty_acknowledged"]["itself"] == "handler"
    assert sngv["report_returned"]["owner_field"] == "returned_to"
    auditor = httpx.get(f"{system.http}/api/forms", headers=system.reader(), timeout=30)
    assert auditor.status_code == 200 and auditor.json()["forms"] == []  # an auditor writes nothing


def test_sngv_is_offered_the_difficulties_of_its_province_to_act_on(system: System):
    event = sample("difficulty_raised", agency="ubnd-huyen-nghi-xuan", data={"topic": "Thủ tục đón đoàn vào cấp huyện"})
    r = httpx.post(f"{system.http}/events", content=encode(event),
                   headers={**CE, **_bearer(system, "ubnd-huyen-nghi-xuan")}, timeout=30)
    assert r.status_code == 202, r.text
    system.wait_projected(r.json()["sequence"])
    found = httpx.get(f"{system.http}/api/forms/difficulty_acknowledged/subjects",
                      headers=_bearer(system, "so-ngoai-vu"), timeout=30).json()
    assert found["new"] is False  # a step on a difficulty that exists
    mine = [i for i in found["items"] if i["subject"] == event.subject]
    assert mine and mine[0]["label"] == "Thủ tục đón đoàn vào cấp huyện" and mine[0]["owner"] == "ubnd-huyen-nghi-xuan"
    other = httpx.get(f"{system.http}/api/forms/difficulty_acknowledged/subjects",
                      headers=_bearer(system, "so-tu-phap"), timeout=30)
    assert other.status_code == 404  # not a form of Sở Tư pháp


def test_a_report_with_its_file_through_a_session_is_read_by_its_agency_and_sngv_only(system: System):
    username = add(system, "so-tu-phap", "specialist", "Lê Thị Hoa", "Chuyên viên Sở Tư pháp")
    client = sign_in(system, username)
    csrf = client.get("/api/me").json()["csrf_token"]
    files = {"file": ("Báo cáo 6 tháng.pdf", PDF, "application/pdf")}
    assert client.post("/api/attachments", files=files).status_code == 403  # a session writes with its CSRF token
    up = client.post("/api/attachments", files=files, headers={"x-csrf-token": csrf})
    assert up.status_code == 201, up.text
    ref = up.json()
    sha = hashlib.sha256(PDF).hexdigest()
    assert ref == {"name": "Báo cáo 6 tháng.pdf", "media_type": "application/pdf", "size": len(PDF), "sha256": sha,
                   "object": f"ha-tinh/so-tu-phap/{sha}"}

    report = sample("report_submitted", agency="so-tu-phap", data={"attachments": [ref], "title": "Báo cáo có tệp"})
    stored = client.post("/events", content=encode(report), headers={**CE, "x-csrf-token": csrf})
    assert stored.status_code == 202, stored.text
    system.wait_projected(stored.json()["sequence"])
    event = system.get(f"/api/events/{report.id}").json()["event"]
    assert event["actor"] == f"Lê Thị Hoa ({username})"
    assert event["data"]["attachments"][0]["sha256"] == sha

    mine = client.get(f"/api/attachments/{sha}")
    assert mine.status_code == 200 and mine.content == PDF and mine.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''B%C3%A1o" in mine.headers["content-disposition"]
    sngv = httpx.get(f"{system.http}/api/attachments/{sha}", params={"event": report.id},
                     headers=_bearer(system, "so-ngoai-vu"), timeout=30)
    assert sngv.status_code == 200 and sngv.content == PDF
    other = httpx.get(f"{system.http}/api/attachments/{sha}", headers=_bearer(system, "so-noi-vu"), timeout=30)
    assert other.status_code == 404, other.text
    assert httpx.get(f"{system.http}/api/attachments/{sha}", timeout=30).status_code == 401
    assert httpx.get(f"{system.http}/api/attachments/{sha}", headers=system.reader("kon-tum"),
                     timeout=30).status_code == 404  # another province's auditor reads no event naming it


def test_an_event_naming_a_file_not_stored_as_it_says_is_refused(system: System):
    headers = _bearer(system, "so-tu-phap")
    up = httpx.post(f"{system.http}/api/attachments", headers=headers, timeout=60,
                    files={"file": ("to-trinh.docx", _docx(), "application/octet-stream")})
    assert up.status_code == 201, up.text
    ref = up.json()
    assert ref["media_type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    cases = {
        "data.attachments.0.sha256": {**ref, "sha256": "0" * 64, "object": f"ha-tinh/so-tu-phap/{'0' * 64}"},
        "data.attachments.0.size": {**ref, "size": ref["size"] + 1},
        "data.attachments.0.object": {**ref, "object": ref["object"].replace("so-tu-phap", "so-noi-vu")},
    }
    for path, bad in cases.items():
        event = sample("difficulty_raised", agency="so-tu-phap", data={"attachments": [bad]})
        r = httpx.post(f"{system.http}/events", content=encode(event), headers={**CE, **headers}, timeout=30)
        assert r.status_code == 422 and r.json()["error"] == "bad_attachment", r.text
        assert r.json()["problems"][0]["path"] == path, r.text
    report = sample("report_submitted", agency="so-tu-phap")
    wrong = report.model_copy(update={"data": {**report.data, "report_kind": "annual", "period": "2021-H1"}})
    r = httpx.post(f"{system.http}/events", content=encode(wrong), headers={**CE, **headers}, timeout=30)
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "data.period"  # told at its field


def test_an_upload_that_is_no_pdf_or_docx_or_too_large_is_refused_with_a_clear_error(system: System):
    headers = _bearer(system, "so-tu-phap")
    text = httpx.post(f"{system.http}/api/attachments", headers=headers, timeout=30,
                      files={"file": ("bao-cao.pdf", "chỉ là văn bản thường".encode(), "application/pdf")})
    assert text.status_code == 415 and text.json()["error"] == "unsupported_media_type"
    assert "PDF" in text.json()["problems"][0]["message"]
    zipped = httpx.post(f"{system.http}/api/attachments", headers=headers, timeout=30,
                        files={"file": ("x.docx", b"PK\x03\x04" + b"\0" * 200, "application/zip")})
    assert zipped.status_code == 415
    big = httpx.post(f"{system.http}/api/attachments", headers=headers, timeout=120,
                     files={"file": ("lon.pdf", b"%PDF-1.4\n" + b"0" * (20 * 1024 * 1024 + 1), "application/pdf")})
    assert big.status_code == 413 and big.json()["error"] == "too_large" and big.json()["max_bytes"] == 20 * 1024**2
    empty = httpx.post(f"{system.http}/api/attachments", headers=headers, timeout=30, data={"x": "1"})
    assert empty.status_code == 400 and empty.json()["problems"][0]["path"] == "file"


async def test_an_agency_nats_user_cannot_read_the_attachments_store(system: System):
    creds = system.credentials("ha-tinh", "so-noi-vu")
    nc = await nats.connect(creds["nats_url"].split(","), **nats_options(creds))
    try:
        with pytest.raises((nats.errors.Error, asyncio.TimeoutError)):
            await nc.jetstream(timeout=2).object_store(BUCKET)
        with pytest.raises((nats.errors.Error, asyncio.TimeoutError)):
            await nc.request(f"$JS.API.DIRECT.GET.OBJ_{BUCKET}", json.dumps(
                {"last_by_subj": f"$O.{BUCKET}.M.>"}).encode(), timeout=2)
    finally:
        await nc.close()


async def test_a_file_altered_in_the_store_makes_audit_verify_fail_naming_it(system: System):
    headers = _bearer(system, "so-tu-phap")
    content = PDF + uuid.uuid4().hex.encode()
    ref = httpx.post(f"{system.http}/api/attachments", headers=headers, timeout=30,
                     files={"file": ("bc.pdf", content, "application/pdf")}).json()
    report = sample("report_submitted", agency="so-tu-phap", data={"attachments": [ref]})
    r = httpx.post(f"{system.http}/events", content=encode(report), headers={**CE, **headers}, timeout=30)
    assert r.status_code == 202, r.text
    system.wait_projected(r.json()["sequence"])
    nc = await system.service_nats()
    store = await nc.jetstream().object_store(BUCKET)
    try:
        await store.put(ref["object"], content.replace(b"2021", b"2022"))
        done = await asyncio.to_thread(system.cli, "audit", "verify", "--wait", "30")
        assert done.returncode == 1, done.stdout + done.stderr
        assert ref["object"] in done.stderr and "altered" in done.stderr
        assert ref["object"] in json.loads(done.stdout)["attachment_problems"][0]
        got = httpx.get(f"{system.http}/api/attachments/{ref['sha256']}", headers=headers, timeout=30)
        assert got.status_code == 503 and got.json()["error"] == "attachment_unavailable"
    finally:
        await store.put(ref["object"], content)
        await nc.close()
    again = await asyncio.to_thread(system.cli, "audit", "verify", "--wait", "30")
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["attachments_checked"] >= 1
