"""The OpenID Connect sign-in without a provider: its settings checked at start, the claims mapped to
an account, and what the HTTP service says with no provider or an unreachable one."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from services.db import make_engine
from services.embedded.ports import free_port
from services.http.app import create_app
from services.oidc.claims import Unmapped, map_claims
from services.oidc.config import OidcProvider
from services.settings import BadSettings, load

pytestmark = pytest.mark.unit
ISSUER = "https://sso.ha-tinh.example/realms/ha-tinh"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> pytest.MonkeyPatch:
    """A clean environment: no settings file, no DOINGOAI_* from outside."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("DOINGOAI_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("DOINGOAI_DATA_DIR", str(tmp_path))
    return monkeypatch


def provider(env: pytest.MonkeyPatch, **settings: str) -> OidcProvider:
    for key, value in {"ISSUER": ISSUER, "CLIENT_ID": "doingoai", "CLIENT_SECRET": "s3cret", **settings}.items():
        env.setenv(f"DOINGOAI_OIDC_{key}", value)
    found = load().oidc
    assert found is not None
    return found


def test_without_an_issuer_there_is_no_single_sign_on(env: pytest.MonkeyPatch):
    assert load().oidc is None


def test_the_settings_make_a_provider_with_its_callback_at_the_service_address(env: pytest.MonkeyPatch):
    env.setenv("DOINGOAI_HTTP", "127.0.0.1:8443")
    found = provider(env, ROLE_MAP='{"/doingoai/lanh-dao": "leader"}', SCOPES="openid,profile  groups")
    assert found.redirect_uri == "http://127.0.0.1:8443/login/oidc/callback"
    assert found.metadata_url == f"{ISSUER}/.well-known/openid-configuration"
    assert found.role_map == {"/doingoai/lanh-dao": "leader"} and found.scopes == "openid profile groups"
    assert "s3cret" not in repr(found)
    behind_proxy = provider(env, REDIRECT_BASE="https://doingoai.hatinh.gov.vn/")
    assert behind_proxy.redirect_uri == "https://doingoai.hatinh.gov.vn/login/oidc/callback"


@pytest.mark.parametrize(("key", "value", "said"), [
    ("ISSUER", "http://sso.ha-tinh.example", "DOINGOAI_OIDC_ISSUER: 'http://sso.ha-tinh.example' must use https"),
    ("ISSUER", "sso.ha-tinh.example", "DOINGOAI_OIDC_ISSUER: 'sso.ha-tinh.example' is not an https URL"),
    ("SCOPES", "profile email", "DOINGOAI_OIDC_SCOPES: 'profile email': the scopes include openid"),
    ("ROLE_MAP", "{not json", "DOINGOAI_OIDC_ROLE_MAP: a JSON object"),
    ("ROLE_MAP", '{"/g": "boss"}', "DOINGOAI_OIDC_ROLE_MAP: 'boss' is not a role"),
    ("AGENCY_MAP", '{"Sở Tư pháp": "Sở Tư pháp"}', "DOINGOAI_OIDC_AGENCY_MAP: 'Sở Tư pháp' is not a slug"),
    ("PROVINCE", "ha-noi", "DOINGOAI_OIDC_PROVINCE: unknown province 'ha-noi'"),
    ("CLIENT_SECRET", "", "DOINGOAI_OIDC_CLIENT_ID and DOINGOAI_OIDC_CLIENT_SECRET are required"),
])
def test_a_setting_that_cannot_be_used_is_one_line_naming_it(env: pytest.MonkeyPatch, key: str, value: str,
                                                             said: str):
    with pytest.raises(BadSettings) as caught:
        provider(env, **{key: value})
    assert str(caught.value).startswith(said) and "\n" not in str(caught.value)


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "f3a1", "preferred_username": "Nguyen.Van.An", "name": "Nguyễn Văn An", "province": "ha-tinh",
            "agency": "so-tu-phap", "groups": ["/doingoai/chuyen-vien"], **extra}


def test_the_claims_map_to_an_account(env: pytest.MonkeyPatch):
    found = map_claims(provider(env, ROLE_MAP='{"/doingoai/lanh-dao": "leader", "/doingoai/chuyen-vien": '
                                              '"specialist"}'), claims(groups=["/doingoai/chuyen-vien",
                                                                               "/doingoai/lanh-dao"]))
    assert (found.subject, found.username, found.province, found.agency) == ("f3a1", "nguyen.van.an", "ha-tinh",
                                                                           "so-tu-phap")
    assert found.role == "leader"  # the map's first entry the person has
    assert found.title == "Lãnh đạo"  # no title claim: the role's name
    assert found.name == "Nguyễn Văn An"


def test_nested_and_namespaced_claims_a_fixed_province_and_maps(env: pytest.MonkeyPatch):
    keycloak = provider(env, PROVINCE="ha-tinh", AGENCY_CLAIM="https://hatinh.gov.vn/don-vi",
                        AGENCY_MAP=json.dumps({"Sở Ngoại vụ": "so-ngoai-vu"}), ROLE_CLAIM="realm_access.roles",
                        TITLE_CLAIM="chuc_vu")
    found = map_claims(keycloak, claims(province="kon-tum", **{
        "https://hatinh.gov.vn/don-vi": ["Phòng Hợp tác", "Sở Ngoại vụ"], "chuc_vu": "Trưởng\nphòng",
        "realm_access": {"roles": ["offline_access", "auditor"]}}))
    assert (found.province, found.agency, found.role) == ("ha-tinh", "so-ngoai-vu", "auditor")
    assert found.title == "Trưởng phòng"  # on one line


@pytest.mark.parametrize(("extra", "field", "said"), [
    ({"province": "ha-noi"}, "province", "không thuộc tỉnh nào"),
    ({"agency": "Công ty ABC"}, "agency", "không thuộc cơ quan nào của tỉnh Hà Tĩnh"),
    ({"agency": "cac-so-ban-nganh"}, "agency", "cơ quan"),  # a collective name is no one's agency
    ({"agency": "doingoai"}, "agency", "cơ quan"),  # the system's own name
    ({"groups": ["/nhan-vien"]}, "role", "chưa được cấp vai trò"),
    ({"groups": None}, "role", "vai trò"),
    ({"preferred_username": "an@hatinh.gov.vn"}, "username", "tên đăng nhập"),
    ({"sub": ""}, "sub", "mã định danh"),
])
def test_claims_that_map_to_nothing_known_are_refused_in_vietnamese(env: pytest.MonkeyPatch, extra: dict[str, Any],
                                                                   field: str, said: str):
    with pytest.raises(Unmapped) as caught:
        map_claims(provider(env), claims(**extra))
    assert caught.value.field == field and said in str(caught.value)


def app_client(sso: OidcProvider | None) -> httpx.AsyncClient:
    app = create_app(make_engine("postgresql://nobody:x@127.0.0.1:9/none"), Client(), sso=sso)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t")


async def test_without_a_provider_the_page_shows_no_button_and_the_route_is_404():
    client = app_client(None)
    assert (await client.get("/api/login-options")).json() == {"password": True, "oidc": None}
    r = await client.get("/login/oidc")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert (await client.get("/login/oidc/callback", params={"code": "x", "state": "y"})).status_code == 404


async def test_an_unreachable_provider_is_503_not_500(env: pytest.MonkeyPatch):
    client = app_client(provider(env, ISSUER=f"http://127.0.0.1:{free_port()}"))
    assert (await client.get("/api/login-options")).json()["oidc"]["url"] == "/login/oidc"
    r = await client.get("/login/oidc")
    assert r.status_code == 503 and r.json()["error"] == "oidc_unavailable", r.text
    page = await client.get("/login/oidc", headers={"accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/login?loi=oidc_unavailable"
    assert (await client.get("/api/me")).status_code == 401  # the state cookie is no session
