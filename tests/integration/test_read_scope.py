"""Every read needs a credential and stays in its scope (CONTRACT §3), on the real stack: without a
credential 401, with another province's 403, with its own 200; an agency reads its own rejections,
difficulties and escalations, not another agency's; another host name is refused."""

from __future__ import annotations

import httpx
import pytest

from schemas.codec import encode
from tests.support import System, sample

pytestmark = pytest.mark.integration
CE = {"content-type": "application/cloudevents+json"}
READS = [
    ("/api/activities", {}),
    ("/api/dashboard", {"period": "2021-H1"}),
    ("/api/tasks", {}),
    ("/api/plans", {}),
    ("/api/reports/compliance", {"period": "2021-H1"}),
    ("/api/reports", {}),
    ("/api/partners", {}),
    ("/api/information", {}),
    ("/api/difficulties", {}),
    ("/api/escalations", {}),
    ("/api/rejected", {}),
    ("/api/audit", {"limit": "5"}),
    ("/api/provinces", {}),
    ("/api/names", {}),
    ("/api/reports/consolidated.docx", {"period": "2021-H1"}),
]


def bearer(creds: dict[str, str]) -> dict[str, str]:
    return {"authorization": f"Bearer {creds['token']}"}


@pytest.mark.parametrize(("path", "params"), READS)
def test_a_read_needs_a_credential_of_its_own_province(system: System, path: str, params: dict[str, str]):
    url = f"{system.http}{path}"
    assert httpx.get(url, params={**params, "province": "ha-tinh"}).status_code == 401
    assert httpx.get(url, params={**params, "province": "ha-tinh"},
                     headers={"authorization": "Bearer dgo_not-a-token"}).status_code == 401
    own = httpx.get(url, params={**params, "province": "ha-tinh"}, headers=system.reader("ha-tinh"), timeout=60)
    assert own.status_code == 200, own.text
    if path != "/api/provinces":
        other = httpx.get(url, params={**params, "province": "ha-tinh"}, headers=system.reader("kon-tum"))
        assert other.status_code == 403, other.text
        assert other.json()["error"] == "forbidden"


def test_an_agency_reads_its_own_rejections_and_difficulties_not_another_agencys(system: System):
    noi_vu = system.credentials("ha-tinh", "so-noi-vu")
    tu_phap = system.credentials("ha-tinh", "so-tu-phap")
    bad = httpx.post(f"{system.http}/events", content=b'{"specversion": "1.0", "id": "x"}',
                     headers={**CE, **bearer(noi_vu)})
    assert bad.status_code == 422
    raised = sample("difficulty_raised", agency="so-noi-vu")
    r = httpx.post(f"{system.http}/events", content=encode(raised), headers={**CE, **bearer(noi_vu)})
    assert r.status_code == 202, r.text
    system.wait_projected(r.json()["sequence"])

    def rows(creds: dict[str, str], path: str, **params: str) -> list[dict]:
        got = httpx.get(f"{system.http}{path}", params=params, headers=bearer(creds))
        assert got.status_code == 200, got.text
        return got.json()["items"]

    mine = rows(noi_vu, "/api/rejected")
    assert mine and {row["publisher"] for row in mine} == {"ha-tinh.so-noi-vu"}
    assert all(row["publisher"] == "ha-tinh.so-tu-phap" for row in rows(tu_phap, "/api/rejected"))
    key = mine[0]["key"]
    assert httpx.get(f"{system.http}/api/rejected/{key}", headers=bearer(noi_vu)).status_code == 200
    assert httpx.get(f"{system.http}/api/rejected/{key}", headers=bearer(tu_phap)).status_code == 403
    assert httpx.get(f"{system.http}/api/rejected", params={"agency": "so-noi-vu"},
                     headers=bearer(tu_phap)).status_code == 403
    subject_id = raised.subject.split("/")[1]
    assert subject_id in {d["difficulty_id"] for d in rows(noi_vu, "/api/difficulties")}
    assert subject_id not in {d["difficulty_id"] for d in rows(tu_phap, "/api/difficulties")}
    # Sở Ngoại vụ reads the whole province; an agency's audit read is refused
    assert subject_id in {d["difficulty_id"] for d in rows(system.credentials("ha-tinh", "so-ngoai-vu"),
                                                            "/api/difficulties")}
    assert httpx.get(f"{system.http}/api/audit", headers=bearer(noi_vu)).status_code == 403


def test_health_details_metrics_and_docs_are_not_for_anyone(system: System):
    public = httpx.get(f"{system.http}/healthz").json()
    assert public == {"status": "ok"}
    assert "projections" in httpx.get(f"{system.http}/healthz", headers=system.reader()).json()
    assert httpx.get(f"{system.http}/metrics").status_code == 401
    assert httpx.get(f"{system.http}/metrics", headers=system.reader()).status_code == 200
    assert httpx.get(f"{system.http}/docs").status_code == 404
    assert httpx.get(f"{system.http}/openapi.json").status_code == 200  # the contract itself is public


def test_a_request_naming_another_host_is_refused(system: System):
    r = httpx.get(f"{system.http}/healthz", headers={"host": "attacker.example"})
    assert r.status_code == 400
    assert httpx.get(f"{system.http}/healthz", headers={"host": f"localhost:{system.http_port}"}).status_code == 200
