"""Sign-in through a province's single sign-on, on the real stack with a real OpenID provider
(tests/oidc/provider.js: panva's oidc-provider, its login and consent forms submitted over HTTP):
the redirect with state, nonce and PKCE, the callback's validation, the claims mapped to an account,
the session cookie as with a password, writes naming the person, and the refusals."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest

from schemas.codec import encode
from tests.support import OIDC_CLIENT_ID, System, sample

pytestmark = pytest.mark.integration
CE = {"content-type": "application/cloudevents+json"}


class Form(HTMLParser):
    """The first form of a page: its action and its inputs' values."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = found.get("action") or ""
        elif tag == "input" and found.get("name"):
            self.fields[str(found["name"])] = found.get("value") or ""


def to_callback(system: System, login: str, client: httpx.Client | None = None) -> tuple[httpx.Client, str]:
    """Begin the sign-in at the system, sign in at the provider as `login` and consent: the browser (the
    client, with its cookies) and the callback URL the provider sends it to, not yet visited."""
    client = client or httpx.Client(timeout=30)
    response = client.get(f"{system.http}/login/oidc")
    assert response.status_code == 302, response.text
    assert "doingoai_oidc" in client.cookies  # the state cookie of this browser
    authorize = dict(parse_qsl(urlsplit(response.headers["location"]).query))
    assert authorize["client_id"] == OIDC_CLIENT_ID and authorize["code_challenge_method"] == "S256"
    assert authorize["code_challenge"] and authorize["state"] and authorize["nonce"]
    for _ in range(12):
        if response.is_redirect:
            target = urljoin(str(response.url), response.headers["location"])
            if target.startswith(f"{system.http}/login/oidc/callback"):
                return client, target
            response = client.get(target)
            continue
        assert response.status_code == 200, response.text
        form = Form()
        form.feed(response.text)
        assert form.action is not None, response.text
        fields = form.fields | ({"login": login, "password": "bất kỳ"} if form.fields.get("prompt") == "login" else {})
        response = client.post(urljoin(str(response.url), form.action), data=fields)
    raise AssertionError("the provider did not send the browser back")


def sign_in(system: System, login: str) -> tuple[httpx.Client, httpx.Response]:
    client, callback = to_callback(system, login)
    return client, client.get(callback)


def account(system: System, username: str) -> dict[str, Any] | None:
    done = system.cli("users", "list", "--province", "ha-tinh", "--json")
    assert done.returncode == 0, done.stderr
    return next((u for u in json.loads(done.stdout) if u["username"] == username), None)


def test_the_sign_in_page_offers_the_provider(oidc_system: System):
    options = httpx.get(f"{oidc_system.http}/api/login-options").json()
    assert options == {"password": True, "oidc": {"label": "Đăng nhập bằng tài khoản một cửa/SSO",
                                                  "url": "/login/oidc"}}
    page = httpx.get(f"{oidc_system.http}/login")
    assert 'id="sso-link"' in page.text and 'href="/login/oidc"' in page.text


def test_a_person_of_the_provider_signs_in_and_writes_as_the_agency_of_the_claims(oidc_system: System):
    client, r = sign_in(oidc_system, "nguyen.van.an")
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"]
    assert "doingoai_session=" in cookie and "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    me = client.get(f"{oidc_system.http}/api/me").json()
    assert {k: me[k] for k in ("username", "name", "title", "role", "agency", "province")} == {
        "username": "nguyen.van.an", "name": "Nguyễn Văn An", "title": "Phó Giám đốc Sở Tư pháp",
        "role": "leader", "agency": "so-tu-phap", "province": "ha-tinh"}  # "Sở Tư pháp" and the group, mapped

    event, events = sample("difficulty_raised", agency="so-tu-phap"), f"{oidc_system.http}/events"
    assert client.post(events, content=encode(event), headers=CE).status_code == 403  # no CSRF token
    stored = client.post(events, content=encode(event), headers={**CE, "x-csrf-token": me["csrf_token"]})
    assert stored.status_code == 202, stored.text
    oidc_system.wait_projected(stored.json()["sequence"])
    got = client.get(f"{oidc_system.http}/api/events/{event.id}")
    assert got.status_code == 200 and got.json()["event"]["actor"] == "Nguyễn Văn An (nguyen.van.an)"

    linked = account(oidc_system, "nguyen.van.an")
    assert linked is not None and linked["oidc_issuer"] == oidc_system.env_extra["DOINGOAI_OIDC_ISSUER"]
    no_password = httpx.post(f"{oidc_system.http}/login", json={"username": "nguyen.van.an", "password": "bất kỳ mật"})
    assert no_password.status_code == 401  # a linked account has no password to sign in with


def test_claims_that_name_no_agency_are_refused_and_open_no_session(oidc_system: System):
    client, r = sign_in(oidc_system, "tran.van.khach")  # "Công ty Du lịch Hồng Lĩnh" is no agency of Hà Tĩnh
    assert r.status_code == 403, r.text
    assert r.json()["error"] == "oidc_unmapped" and r.json()["field"] == "agency"
    assert "không thuộc cơ quan nào của tỉnh Hà Tĩnh" in r.json()["message"]
    assert "doingoai_session" not in client.cookies
    assert client.get(f"{oidc_system.http}/api/me").status_code == 401
    assert account(oidc_system, "tran.van.khach") is None  # no account was made

    browser, callback = to_callback(oidc_system, "tran.van.khach")
    page = browser.get(callback, headers={"accept": "text/html"})  # a browser goes back to the sign-in page
    assert page.status_code == 303 and page.headers["location"] == "/login?loi=oidc_agency"


def test_a_tampered_or_foreign_state_is_refused(oidc_system: System):
    client, callback = to_callback(oidc_system, "le.thi.hoa")
    parts = urlsplit(callback)
    query = dict(parse_qsl(parts.query))
    tampered = urlunsplit(parts._replace(query=urlencode({**query, "state": query["state"][:-2] + "xy"})))
    r = client.get(tampered)
    assert r.status_code == 400 and r.json()["error"] == "oidc_state", r.text
    assert "doingoai_session" not in client.cookies

    other_browser = httpx.get(callback, timeout=30)  # the right state, but not the browser that began
    assert other_browser.status_code == 400 and other_browser.json()["error"] == "oidc_state"
    assert "doingoai_session" not in other_browser.cookies

    genuine = client.get(callback)  # the browser that began, untouched: signed in
    assert genuine.status_code == 200, genuine.text
    assert genuine.json()["agency"] == "so-ngoai-vu" and genuine.json()["role"] == "specialist"
    assert client.get(callback).status_code == 400  # a state is used once


def test_a_disabled_account_of_the_provider_signs_in_no_more(oidc_system: System):
    client, r = sign_in(oidc_system, "le.thi.hoa")
    assert r.status_code == 200, r.text
    assert oidc_system.cli("users", "disable", "--username", "le.thi.hoa").returncode == 0
    try:
        again, refused = sign_in(oidc_system, "le.thi.hoa")
        assert refused.status_code == 403 and refused.json()["error"] == "disabled", refused.text
        assert "doingoai_session" not in again.cookies
        assert client.get(f"{oidc_system.http}/api/me").status_code == 401  # its session ended too
    finally:
        oidc_system.cli("users", "enable", "--username", "le.thi.hoa")


def test_the_provider_does_not_take_over_an_account_with_a_password(oidc_system: System):
    password = "mật khẩu riêng 2021"
    made = oidc_system.cli("users", "add", "--province", "ha-tinh", "--agency", "so-noi-vu", "--username",
                           "pham.van.trung", "--name", "Phạm Văn Trung", "--title", "Chuyên viên", "--role",
                           "specialist", "--password-stdin", input=password + "\n")
    assert made.returncode == 0, made.stderr
    _, r = sign_in(oidc_system, "pham.van.trung")  # the provider's account of the same username
    assert r.status_code == 409 and r.json()["error"] == "username_taken", r.text
    kept = account(oidc_system, "pham.van.trung")
    assert kept is not None and kept["oidc_issuer"] is None and kept["agency"] == "so-noi-vu"
    own = httpx.post(f"{oidc_system.http}/login", json={"username": "pham.van.trung", "password": password})
    assert own.status_code == 200 and own.json()["agency"] == "so-noi-vu"
