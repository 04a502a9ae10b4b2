"""From an OpenID provider's claims to the account a person signs in as (pure: no I/O).

The settings name the claims (`services.oidc.config`). A claim is found by its whole name first (a
namespaced claim such as `https://sso.example.gov.vn/agency`), then as a dotted path
(`realm_access.roles`). A claim may hold a value or a list of values (groups): the first value that
maps to something known counts. A province or agency value goes through its map (values not in the map
are taken as they are) and must be a province the system serves and an agency of it (not a collective
name such as `cac-so-ban-nganh`); a role value goes through the role map, whose first entry the person
has wins, else a value that is itself a role name. Nothing known: `Unmapped`, with a Vietnamese
message for the person.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from schemas.reference import AgencyKind, UnknownReference, agency, province
from services.oidc.config import OidcProvider
from services.people import MAX_NAME, MAX_TITLE, ROLES, USERNAME_RE

ROLE_TITLES = {"specialist": "Chuyên viên", "leader": "Lãnh đạo", "auditor": "Kiểm tra viên",
               "admin": "Quản trị viên"}
"""The title of a person whose provider gives none."""
ASK_ADMIN = "Liên hệ quản trị viên của tỉnh."


class Unmapped(Exception):
    """The claims name no known province, agency or role, or no usable username: the sign-in is
    refused. `field` names which; the message (Vietnamese) is shown to the person."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class MappedPerson:
    """The account the claims describe."""

    subject: str
    province: str
    agency: str
    username: str
    name: str
    title: str
    role: str


def claim(claims: dict[str, Any], name: str) -> Any:
    """The claim `name`: a top-level claim of that name, else the dotted path into nested claims."""
    if name in claims:
        return claims[name]
    found: Any = claims
    for part in name.split("."):
        if not isinstance(found, dict) or part not in found:
            return None
        found = found[part]
    return found


def _values(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [v.strip() for v in items if isinstance(v, str) and v.strip()]


def _shown(name: str, value: Any) -> str:
    values = _values(value)
    return f"claim {name!r}: " + (", ".join(repr(v) for v in values[:5]) if values else "không có")


def _one_line(value: str, most: int) -> str:
    text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in value)
    return " ".join(text.split())[:most]


def _province(provider: OidcProvider, claims: dict[str, Any]) -> str:
    if provider.province is not None:
        return provider.province
    raw = claim(claims, provider.province_claim)
    for value in _values(raw):
        try:
            return province(provider.province_map.get(value, value)).slug
        except UnknownReference:
            continue
    raise Unmapped("province", "Tài khoản một cửa không thuộc tỉnh nào mà hệ thống phục vụ "
                               f"({_shown(provider.province_claim, raw)}). {ASK_ADMIN}")


def _agency(provider: OidcProvider, claims: dict[str, Any], province_slug: str) -> str:
    raw = claim(claims, provider.agency_claim)
    for value in _values(raw):
        try:
            found = agency(province_slug, provider.agency_map.get(value, value))
        except UnknownReference:
            continue
        if found.kind != AgencyKind.group:
            return found.slug
    raise Unmapped("agency", f"Tài khoản một cửa không thuộc cơ quan nào của tỉnh {province(province_slug).name_vi} "
                             f"trong hệ thống ({_shown(provider.agency_claim, raw)}). {ASK_ADMIN}")


def _role(provider: OidcProvider, claims: dict[str, Any]) -> str:
    raw = claim(claims, provider.role_claim)
    values = set(_values(raw))
    for value, role in provider.role_map.items():
        if value in values:
            return role
    for role in ROLES:
        if role in values:
            return role
    raise Unmapped("role", f"Tài khoản một cửa chưa được cấp vai trò trong hệ thống "
                           f"({_shown(provider.role_claim, raw)}). {ASK_ADMIN}")


def map_claims(provider: OidcProvider, claims: dict[str, Any]) -> MappedPerson:
    """The account `claims` (of a validated ID token, and userinfo) describe, or `Unmapped`."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unmapped("sub", "Nhà cung cấp định danh không cho biết mã định danh của tài khoản.")
    raw_username = claim(claims, provider.username_claim)
    username = raw_username.strip().lower() if isinstance(raw_username, str) else ""
    if not USERNAME_RE.match(username):
        raise Unmapped("username", "Tài khoản một cửa không có tên đăng nhập dùng được: chữ thường không dấu, "
                                   f"số, '.', '_' hoặc '-' ({_shown(provider.username_claim, raw_username)}). "
                                   f"{ASK_ADMIN}")
    province_slug = _province(provider, claims)
    agency_slug = _agency(provider, claims, province_slug)
    role = _role(provider, claims)
    name, title = claim(claims, provider.name_claim), claim(claims, provider.title_claim)
    name = (_one_line(name, MAX_NAME) if isinstance(name, str) else "") or username
    title = (_one_line(title, MAX_TITLE) if isinstance(title, str) else "") or ROLE_TITLES[role]
    return MappedPerson(subject, province_slug, agency_slug, username, name, title, role)
