"""The names people read in place of codes: agencies, plans, countries and partner kinds in Vietnamese,
and the order of Vietnamese names.

- Agencies: `name_vi` of the province's reference data (`schemas/reference/agencies/`).
- Plans: number and title of the plan reference data (`schemas/reference/plans/`), or of the plan as issued.
- Countries: the Vietnamese territory names of the Unicode CLDR (Babel's `Locale('vi').territories`), except
  where Vietnamese state documents write a country otherwise (`COUNTRY_OVERRIDES`).
- Order: the CLDR collation of Vietnamese (ICU): Đ after D, Ủ among the U's, ă â after a, ư after u.

A code with no name (an agency a province's reference data does not list) is shown as it is."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from functools import cache

import icu
from babel import Locale

from schemas.labels import ENUM_LABELS_VI
from schemas.reference import UnknownReference, agencies, plan

FOCUS_SCOPE = "đối ngoại nhân dân"
"""What the system's reports cover unless a plan names a wider scope."""

COUNTRY_OVERRIDES = {
    "TW": "Đài Loan (Trung Quốc)",
    "RU": "Liên bang Nga",
    "AU": "Ô-xtrây-li-a",
    "SG": "Xinh-ga-po",
    "CU": "Cu-ba",
    "CA": "Ca-na-đa",
    "IL": "I-xra-en",
}
"""Where Vietnamese official usage differs from CLDR: Taiwan is named as part of China, and the
transliterations the plans and the Ministry of Foreign Affairs use where CLDR keeps the English form."""

PARTNER_KINDS = dict(ENUM_LABELS_VI["PartnerKind"])
"""The Vietnamese names of the partner kinds (`PartnerKind`)."""


@cache
def _territories() -> Mapping[str, str]:
    return dict(Locale("vi").territories)


def country_name(code: str | None) -> str:
    """'LA' -> 'Lào', 'TW' -> 'Đài Loan (Trung Quốc)'; the code itself when it names no country."""
    if not code:
        return ""
    upper = code.upper()
    return COUNTRY_OVERRIDES.get(upper) or _territories().get(upper) or code


def country_names(codes: Iterable[str | None]) -> dict[str, str]:
    """{code: name} of the given codes."""
    return {c: country_name(c) for c in codes if c}


@cache
def country_codes_named() -> dict[str, str]:
    """{ISO 3166 alpha-2 code: Vietnamese name} of every country and territory CLDR names."""
    return {c: country_name(c) for c in sorted(_territories()) if len(c) == 2 and c.isalpha()}


def partner_kind_name(kind: str | None) -> str:
    return "" if kind is None else PARTNER_KINDS.get(kind, kind)


@cache
def _agencies(province: str) -> dict[str, tuple[str, str]]:
    try:
        found = agencies(province)
    except UnknownReference:
        return {}
    return {a.slug: (a.name_vi, a.short_name or a.name_vi) for a in found}


def agency_names(province: str) -> dict[str, str]:
    """{slug: Vietnamese name} of every agency of a province ({} for a province with no reference data)."""
    return {slug: name for slug, (name, _) in _agencies(province).items()}


def agency_name(province: str, slug: str | None) -> str:
    """'so-noi-vu' -> 'Sở Nội vụ'; the slug itself when the province's reference data does not list it."""
    if not slug:
        return ""
    found = _agencies(province).get(slug)
    return found[0] if found else slug


def agency_short_name(province: str, slug: str) -> str:
    """The short name (e.g. 'Ủy ban MTTQ tỉnh', 'Sở KH&ĐT') where the reference data gives one, else the name."""
    found = _agencies(province).get(slug)
    return found[1] if found else slug


def shorten(text: str, limit: int = 120) -> str:
    """`text` up to `limit` characters, cut after a whole word with '…' when longer."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return f"{cut}…"


def plan_number_label(number: str | None, issued_on: date | None, year: int | None) -> str:
    """How a table names a plan in one cell: '53/KH-UBND', or 'Kế hoạch năm 2020' when its copy has no number."""
    if number:
        return number
    when = issued_on.year if issued_on else year
    return f"Kế hoạch năm {when}" if when else "Kế hoạch"


def plan_name(plan_id: str, number: str | None = None, title: str | None = None, *, limit: int = 120) -> str:
    """A plan as running text names it: 'Kế hoạch số 53/KH-UBND “Hoạt động đối ngoại và hội nhập quốc tế năm
    2021”'. Number and title come from the plan reference data (those given are used for a plan it does not
    hold); a copy with no number is named by its year."""
    year = None
    try:
        ref = plan(plan_id)
    except UnknownReference:
        pass
    else:
        number, title, year = number or ref.number, ref.title, ref.year
    head = f"Kế hoạch số {number}" if number else (f"Kế hoạch năm {year}" if year else "Kế hoạch")
    return f"{head} “{shorten(title, limit)}”" if title else head


def plan_scope(plan_id: str) -> str:
    """What the plan's work is called ('đối ngoại nhân dân'; plan 53/KH-UBND of Hà Tĩnh: 'đối ngoại và hội nhập
    quốc tế'), from the plan reference data."""
    try:
        return plan(plan_id).scope
    except UnknownReference:
        return FOCUS_SCOPE


@cache
def _collator() -> icu.Collator:
    return icu.Collator.createInstance(icu.Locale("vi_VN"))


def vi_key(text: str) -> bytes:
    """Sort key of a Vietnamese name (CLDR collation): 'UBND huyện Đức Thọ' before 'UBND huyện Vũ Quang',
    'Ủy ban MTTQ tỉnh' among the names in U."""
    return bytes(_collator().getSortKey(text))


def vi_sorted(names: Iterable[str]) -> list[str]:
    return sorted(names, key=vi_key)
