"""The settings of the OpenID Connect sign-in (`DOINGOAI_OIDC_*`, or the same keys in the settings
file), checked once at start with the other settings: a value that cannot be used is one line naming
it, and `doingoai` exits with code 2.

With `DOINGOAI_OIDC_ISSUER` unset there is no single sign-on and the sign-in page shows only the
password form. The claim mapping says which claim gives the province (or one fixed province), the
agency, the role, the username, the name and the title, with maps from the provider's values (group
names, the agency's name as the identity server writes it) to ours.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode

from schemas.reference import UnknownReference, province

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
"""Hosts an issuer or the service may be reached at over plain http (a test, a machine's own proxy)."""
DEFAULT_LABEL = "Đăng nhập bằng tài khoản một cửa/SSO"
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CALLBACK_PATH = "/login/oidc/callback"

Map = Annotated[dict[str, str], NoDecode]
"""A JSON object in the environment or the settings file, e.g. `{"/doingoai/lanh-dao": "leader"}`."""


def _url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"{value!r} is not an https URL (e.g. https://sso.example.gov.vn/realms/ha-tinh)")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise ValueError(f"{value!r} must use https (plain http only on this machine's own address)")
    return value.strip().rstrip("/")


@dataclass(frozen=True)
class OidcProvider:
    """One OpenID provider, as the settings describe it (built by `OidcSettings.oidc_provider`)."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    scopes: str
    label: str
    province: str | None
    province_claim: str
    province_map: dict[str, str]
    agency_claim: str
    agency_map: dict[str, str]
    role_claim: str
    role_map: dict[str, str]
    username_claim: str
    name_claim: str
    title_claim: str
    userinfo: bool

    @property
    def metadata_url(self) -> str:
        """Where the provider's metadata is discovered (OpenID Connect Discovery 1.0)."""
        return f"{self.issuer}/.well-known/openid-configuration"


class OidcSettings(BaseSettings):
    """The `DOINGOAI_OIDC_*` keys; `services.settings.Settings` has them."""

    oidc_issuer: str | None = Field(None, description="The OpenID provider's issuer URL; unset: no single sign-on")
    oidc_client_id: str | None = Field(None, description="This service's client id at the provider")
    oidc_client_secret: SecretStr | None = Field(None, description="This service's client secret at the provider")
    oidc_redirect_base: str | None = Field(None, description=(
        "The address people reach this service at (default: DOINGOAI_HTTP); the provider sends them back "
        f"to <it>{CALLBACK_PATH}, which must be registered with the provider"))
    oidc_scopes: str = Field("openid profile", description="Scopes asked for, space-separated (openid among them)")
    oidc_label: str = Field(DEFAULT_LABEL, description="The sign-in button's text")
    oidc_province: str | None = Field(None, description=(
        "The one province every account of this provider belongs to (a province's own identity server); "
        "unset: the province comes from DOINGOAI_OIDC_PROVINCE_CLAIM"))
    oidc_province_claim: str = Field("province", description="The claim giving the province")
    oidc_province_map: Map = Field(default_factory=dict, description="Province claim value -> province slug")
    oidc_agency_claim: str = Field("agency", description="The claim giving the agency")
    oidc_agency_map: Map = Field(default_factory=dict, description="Agency claim value -> agency slug")
    oidc_role_claim: str = Field("groups", description="The claim giving the role (a value or a list, e.g. groups)")
    oidc_role_map: Map = Field(default_factory=dict, description=(
        "Role claim value -> specialist, leader, auditor or admin; the first entry the person has wins"))
    oidc_username_claim: str = Field("preferred_username", description="The claim giving the username")
    oidc_name_claim: str = Field("name", description="The claim giving the full name")
    oidc_title_claim: str = Field("title", description="The claim giving the position (default: the role's name)")
    oidc_userinfo: bool = Field(True, description="Also read the provider's userinfo endpoint for claims")

    @field_validator("oidc_issuer", "oidc_redirect_base")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else _url(value)

    @field_validator("oidc_scopes")
    @classmethod
    def _scopes(cls, value: str) -> str:
        scopes = [s for s in re.split(r"[\s,]+", value) if s]
        if "openid" not in scopes:
            raise ValueError(f"{value!r}: the scopes include openid")
        return " ".join(scopes)

    @field_validator("oidc_province")
    @classmethod
    def _province(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return province(value.strip()).slug
        except UnknownReference as exc:
            raise ValueError(str(exc)) from None

    @field_validator("oidc_label", "oidc_province_claim", "oidc_agency_claim", "oidc_role_claim",
                     "oidc_username_claim", "oidc_name_claim", "oidc_title_claim")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("oidc_province_map", "oidc_agency_map", "oidc_role_map", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except ValueError:
                raise ValueError('a JSON object, e.g. {"/doingoai/lanh-dao": "leader"}') from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ValueError('a JSON object of strings, e.g. {"/doingoai/lanh-dao": "leader"}')
        return value

    @field_validator("oidc_province_map", "oidc_agency_map")
    @classmethod
    def _slugs(cls, value: dict[str, str]) -> dict[str, str]:
        for target in value.values():
            if not SLUG.match(target):
                raise ValueError(f"{target!r} is not a slug (e.g. ha-tinh, so-ngoai-vu)")
        return value

    @field_validator("oidc_role_map")
    @classmethod
    def _roles(cls, value: dict[str, str]) -> dict[str, str]:
        from services.people import ROLES

        for target in value.values():
            if target not in ROLES:
                raise ValueError(f"{target!r} is not a role ({', '.join(ROLES)})")
        return value

    @model_validator(mode="after")
    def _complete(self) -> OidcSettings:
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret
                                     and self.oidc_client_secret.get_secret_value()):
            raise ValueError("DOINGOAI_OIDC_CLIENT_ID and DOINGOAI_OIDC_CLIENT_SECRET are required with "
                             "DOINGOAI_OIDC_ISSUER")
        return self

    def oidc_provider(self, service_address: str) -> OidcProvider | None:
        """The configured provider (None without `oidc_issuer`); `service_address` is where people reach
        this service when `oidc_redirect_base` does not say."""
        if not self.oidc_issuer or not self.oidc_client_id or self.oidc_client_secret is None:
            return None
        base = self.oidc_redirect_base or service_address.rstrip("/")
        return OidcProvider(
            issuer=self.oidc_issuer, client_id=self.oidc_client_id,
            client_secret=self.oidc_client_secret.get_secret_value(), redirect_uri=base + CALLBACK_PATH,
            scopes=self.oidc_scopes, label=self.oidc_label, province=self.oidc_province,
            province_claim=self.oidc_province_claim, province_map=dict(self.oidc_province_map),
            agency_claim=self.oidc_agency_claim, agency_map=dict(self.oidc_agency_map),
            role_claim=self.oidc_role_claim, role_map=dict(self.oidc_role_map),
            username_claim=self.oidc_username_claim, name_claim=self.oidc_name_claim,
            title_claim=self.oidc_title_claim, userinfo=self.oidc_userinfo)
