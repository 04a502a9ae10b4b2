"""People on the real stack: accounts made with `doingoai users`, sign-in and sign-out, wrong
passwords, writes of a session with and without its CSRF token, the actor of what a person records,
disabled accounts, and an administrator managing the province's accounts."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import httpx
import pytest

from schemas.codec import encode
from services.store.outgoing import msg_id
from tests.support import System, sample

pytestmark = pytest.mark.integration
CE = {"content-type": "application/cloudevents+json"}
PASSWORD = "mật khẩu thử 2021"


def users(system: System, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    """`doingoai users ...`, the password (if any) on stdin."""
    return system.cli("users", *args, input=password)


def add(system: System, agency: str, role: str = "specialist", name: str = "Nguyễn Văn An",
        title: str = "Chuyên viên", province: str = "ha-tinh") -> str:
    username = f"{role}.{uuid.uuid4().hex[:8]}"
    done = users(system, "add", "--province", province, "--agency", agency, "--username", username, "--name", name,
                 "--title", title, "--role", role, "--password-stdin", password=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["username"] == username and "hash" not in done.stdout
    return username


def sign_in(system: System, username: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=system.http, timeout=30)
    r = client.post("/login", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return client


def test_a_person_signs_in_reads_their_province_and_signs_out(system: System):
    username = add(system, "so-tu-phap", "leader", "Trần Thị Bình", "Giám đốc Sở Tư pháp")
    client = httpx.Client(base_url=system.http, timeout=30)
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()
    me = client.get("/api/me").json()
    assert {k: me[k] for k in ("username", "name", "title", "role", "agency", "province")} == {
        "username": username, "name": "Trần Thị Bình", "title": "Giám đốc Sở Tư pháp", "role": "leader",
        "agency": "so-tu-phap", "province": "ha-tinh"}
    assert len(me["csrf_token"]) >= 32 and me["csrf_token"] == r.json()["csrf_token"]
    assert client.get("/api/tasks", params={"province": "ha-tinh"}).status_code == 200
    assert client.get("/api/tasks", params={"province": "kon-tum"}).status_code == 403  # another province
    assert client.get("/api/rejected", params={"agency": "so-noi-vu"}).status_code == 403  # another agency's
    assert "projections" in client.get("/healthz").json()
    again = client.get("/login", params={"next": "/#bao-cao"})
    assert again.status_code == 303 and again.headers["location"] == "/#bao-cao"  # signed in already

    session = client.cookies["doingoai_session"]
    assert client.post("/logout").status_code == 204
    stale = httpx.get(f"{system.http}/api/me", cookies={"doingoai_session": session})
    assert stale.status_code == 401  # the session ended on the server, not only in the browser
    assert httpx.get(f"{system.http}/api/tasks", params={"province": "ha-tinh"},
                     cookies={"doingoai_session": session}).status_code == 401
    assert "projections" not in httpx.get(f"{system.http}/healthz", cookies={"doingoai_session": session}).json()


def test_wrong_passwords_are_answered_401_then_429_even_for_the_right_one(system: System):
    username = add(system, "so-tu-phap")
    for _ in range(5):
        r = httpx.post(f"{system.http}/login", data={"username": username, "password": "not the password"})
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    for password in ("not the password", PASSWORD):
        r = httpx.post(f"{system.http}/login", data={"username": username, "password": password})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0, r.text
    unknown = httpx.post(f"{system.http}/login", json={"username": "no.such.person", "password": PASSWORD})
    assert unknown.status_code == 401 and unknown.json()["message"] == "wrong username or password"
    assert httpx.post(f"{system.http}/login", json={"username": "x" * 5000, "password": "y"}).status_code == 401
    other = httpx.post(f"{system.http}/login", json={"username": add(system, "so-tu-phap"), "password": PASSWORD})
    assert other.status_code == 200  # JSON works too; another username is not held back
    assert httpx.post(f"{system.http}/login", data={"username": username}).status_code == 400


def test_a_session_writes_with_its_csrf_token_and_the_event_names_the_person(system: System):
    username = add(system, "so-tu-phap", "specialist", "Lê Văn Cường", "Chuyên viên Sở Tư pháp")
    client = sign_in(system, username)
    csrf = client.get("/api/me").json()["csrf_token"]
    event = sample("difficulty_raised", agency="so-tu-phap")
    body = encode(event.model_copy(update={"actor": "Giám đốc Sở (do phiên tự ghi)"}))

    refused = client.post("/events", content=body, headers=CE)
    assert refused.status_code == 403 and refused.json()["error"] == "csrf"
    assert client.post("/events", content=body, headers={**CE, "x-csrf-token": "not-it"}).status_code == 403
    stored = client.post("/events", content=body, headers={**CE, "x-csrf-token": csrf})
    assert stored.status_code == 202, stored.text
    system.wait_projected(stored.json()["sequence"])
    got = client.get(f"/api/events/{event.id}")
    assert got.status_code == 200, got.text
    assert got.json()["event"]["actor"] == f"Lê Văn Cường ({username})"

    foreign = sample("difficulty_raised", agency="so-noi-vu")
    another = client.post("/events", content=encode(foreign), headers={**CE, "x-csrf-token": csrf})
    assert another.status_code == 403 and another.json()["error"] == "source_mismatch"
    partner = sample("partner_registered", agency="so-tu-phap")  # Sở Ngoại vụ's word, not Sở Tư pháp's
    assert client.post("/events", content=encode(partner), headers={**CE, "x-csrf-token": csrf}).status_code == 403


def test_an_auditor_reads_the_province_and_writes_nothing(system: System):
    client = sign_in(system, add(system, "thanh-tra-tinh", "auditor", "Phạm Thu Hà", "Thanh tra viên"))
    assert client.get("/api/audit", params={"province": "ha-tinh", "limit": 1}).status_code == 200
    csrf = client.get("/api/me").json()["csrf_token"]
    event = sample("difficulty_raised", agency="thanh-tra-tinh")
    assert client.post("/events", content=encode(event), headers={**CE, "x-csrf-token": csrf}).status_code == 403


async def test_acknowledging_an_escalation_records_the_person(system: System):
    escalation = uuid.uuid4().hex
    raised = sample("escalation_raised", agency="doingoai", aggregate_id=escalation,
                    data={"target_agency": "so-ngoai-vu", "responsible_agency": "so-tu-phap"})
    nc = await system.service_nats()
    try:
        ack = await nc.jetstream().publish("doingoai.events.ha-tinh.doingoai.escalation_raised", encode(raised),
                                           headers={"Nats-Msg-Id": msg_id(raised.source, raised.id)})
    finally:
        await nc.close()
    system.wait_projected(ack.seq)
    client = sign_in(system, add(system, "so-ngoai-vu", "leader", "Hoàng Minh Đức", "Phó Giám đốc Sở Ngoại vụ"))
    csrf = client.get("/api/me").json()["csrf_token"]
    path = f"/api/escalations/{escalation}/acknowledge"
    assert client.post(path, json={}).status_code == 403  # no CSRF token
    r = client.post(path, json={"by": {"name": "Ai đó khác"}, "action": "Đôn đốc"}, headers={"x-csrf-token": csrf})
    assert r.status_code == 202, r.text
    system.wait_projected(r.json()["sequence"])
    event = client.get(f"/api/events/{r.json()['id']}").json()["event"]
    assert event["data"]["by"] == {"name": "Hoàng Minh Đức", "title": "Phó Giám đốc Sở Ngoại vụ"}
    assert event["actor"].startswith("Hoàng Minh Đức (leader.")


def test_a_disabled_person_cannot_sign_in_and_their_session_ends(system: System):
    username = add(system, "so-tu-phap")
    client = sign_in(system, username)
    done = users(system, "disable", "--username", username)
    assert done.returncode == 0 and json.loads(done.stdout)["disabled"] is True, done.stderr
    deadline = time.monotonic() + 15  # a running service trusts a checked session for up to 10 s
    while client.get("/api/me").status_code != 401:
        assert time.monotonic() < deadline, "the disabled person's session still works"
        time.sleep(0.5)
    r = httpx.post(f"{system.http}/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 403 and r.json()["error"] == "disabled"
    assert users(system, "enable", "--username", username).returncode == 0
    done = users(system, "reset-password", "--username", username, "--password-stdin", password="mật khẩu mới 2022\n")
    assert done.returncode == 0, done.stderr
    sign_in(system, username, "mật khẩu mới 2022")


def test_users_list_shows_no_hashes_and_the_system_identity_has_no_people(system: System):
    add(system, "so-tu-phap")
    for args in (("list",), ("list", "--json"), ("list", "--province", "ha-tinh", "--json")):
        done = users(system, *args)
        assert done.returncode == 0, done.stderr
        assert "so-tu-phap" in done.stdout and "bcrypt" not in done.stdout and "$2b$" not in done.stdout
        assert "hash" not in done.stdout and PASSWORD not in done.stdout
    reserved = users(system, "add", "--province", "ha-tinh", "--agency", "doingoai", "--username", "he.thong",
                     "--name", "Hệ thống", "--title", "Máy", "--role", "admin", "--password-stdin",
                     password=PASSWORD + "\n")
    assert reserved.returncode == 2 and "system's own identity" in reserved.stderr
    short = users(system, "add", "--province", "ha-tinh", "--agency", "so-tu-phap", "--username", "ngan",
                  "--name", "Ngắn", "--title", "CV", "--role", "specialist", "--password-stdin", password="123\n")
    assert short.returncode == 2 and "at least" in short.stderr


def test_a_sign_in_from_another_site_and_a_token_reading_api_me(system: System, agency: dict[str, str]):
    username = add(system, "so-tu-phap")
    r = httpx.post(f"{system.http}/login", data={"username": username, "password": PASSWORD},
                   headers={"origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"] == "csrf"
    r = httpx.post(f"{system.http}/login", data={"username": username, "password": PASSWORD},
                   headers={"sec-fetch-site": "cross-site", "origin": "null"})
    assert r.status_code == 403 and r.json()["error"] == "csrf"
    me = httpx.get(f"{system.http}/api/me", headers={"authorization": f"Bearer {agency['token']}"}).json()
    assert me == {"username": None, "name": None, "title": None, "role": "agency", "agency": "so-ngoai-vu",
                  "province": "ha-tinh", "csrf_token": None, "expires_at": None}
    assert httpx.get(f"{system.http}/api/me").status_code == 401
    page = httpx.get(f"{system.http}/login")
    assert page.status_code == 200 and "Đăng nhập" in page.text and "<script>" not in page.text
    browser = httpx.post(f"{system.http}/login", data={"username": username, "password": "sai", "next": "/#bao-cao"},
                         headers={"accept": "text/html", "sec-fetch-site": "same-origin", "origin": "null"})
    assert browser.status_code == 303 and browser.headers["location"] == "/login?loi=unauthorized&next=%2F%23bao-cao"
    browser = httpx.post(f"{system.http}/login", data={"username": username, "password": PASSWORD,
                                                        "next": "//evil.example/"}, headers={"accept": "text/html"})
    assert browser.status_code == 303 and browser.headers["location"] == "/"  # only a path of this site
    assert "doingoai_session" in browser.cookies


def test_an_administrator_manages_the_accounts_of_the_province(system: System):
    admin = sign_in(system, add(system, "so-ngoai-vu", "admin", "Vũ Thị Lan", "Quản trị hệ thống"))
    csrf = {"x-csrf-token": admin.get("/api/me").json()["csrf_token"]}
    new = {"username": f"moi.{uuid.uuid4().hex[:6]}", "agency": "so-noi-vu", "name": "Đỗ Văn Mới",
           "title": "Chuyên viên", "role": "specialist", "password": PASSWORD}
    assert admin.post("/api/users", json=new).status_code == 403  # no CSRF token
    made = admin.post("/api/users", json=new, headers=csrf)
    assert made.status_code == 201, made.text
    assert admin.post("/api/users", json=new, headers=csrf).status_code == 409
    listed = admin.get("/api/users").json()["items"]
    assert new["username"] in {u["username"] for u in listed} and {u["province"] for u in listed} == {"ha-tinh"}
    assert not any("hash" in key for u in listed for key in u)
    person = sign_in(system, new["username"])
    assert person.get("/api/users").status_code == 403  # a specialist manages no accounts
    assert admin.post(f"/api/users/{new['username']}/disable", headers=csrf).json()["disabled"] is True
    assert person.get("/api/me").status_code == 401  # ended at once on this service
    kon_tum = add(system, "so-ngoai-vu", province="kon-tum")
    assert admin.post(f"/api/users/{kon_tum}/disable", headers=csrf).status_code == 404  # not of its province
    doingoai = admin.post("/api/users", json={**new, "username": "x.y", "agency": "doingoai"}, headers=csrf)
    assert doingoai.status_code == 400
