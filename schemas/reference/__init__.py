"""Reference data drawn from the seed plans, kept as versioned YAML files in this package.

Every loader returns typed, frozen models (see `schemas.reference.models`) and reads its file once.
Lookups of an unknown key raise `UnknownReference`.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import yaml

from schemas.common import ReportKind
from schemas.reference.models import (
    Agency,
    AgencyKind,
    Calendars,
    DataCutoff,
    Partner,
    Plan,
    PlanTask,
    Province,
    ProvinceDefaults,
    ReportDeadline,
    ReportingDuty,
)

__all__ = [
    "GROUPS",
    "Agency",
    "AgencyKind",
    "Partner",
    "Plan",
    "PlanTask",
    "Province",
    "ProvinceDefaults",
    "ReportDeadline",
    "ReportingDuty",
    "UnknownReference",
    "agencies",
    "agency",
    "data_window",
    "default_deadline",
    "in_group",
    "parse_period",
    "partner",
    "partners",
    "period_kind",
    "plan",
    "plans",
    "province",
    "provinces",
    "reporting_agencies",
    "ubnd_office",
]


class UnknownReference(LookupError):
    """A province, agency, partner, plan or calendar that the reference data does not hold."""


_PERIOD = re.compile(r"^(?P<year>[0-9]{4})(?:-H(?P<half>[12]))?$")


def _load(path: str) -> Any:
    return yaml.safe_load(resources.files(__package__).joinpath(path).read_text(encoding="utf-8"))


@cache
def _provinces() -> tuple[Province, ...]:
    return tuple(Province.model_validate(p) for p in _load("provinces.yaml"))


def provinces() -> list[Province]:
    """Every province served, in file order."""
    return list(_provinces())


def province(slug: str) -> Province:
    for p in _provinces():
        if p.slug == slug:
            return p
    raise UnknownReference(f"unknown province {slug!r}")


@cache
def _agencies(province_slug: str) -> tuple[Agency, ...]:
    province(province_slug)
    rows = list(_load("agencies/common.yaml")) + list(_load(f"agencies/{province_slug}.yaml"))
    found = tuple(Agency.model_validate(a) for a in rows)
    slugs = [a.slug for a in found]
    duplicates = sorted({s for s in slugs if slugs.count(s) > 1})
    if duplicates:
        raise ValueError(f"agencies of {province_slug} listed twice: {duplicates}")
    return found


def agencies(province_slug: str) -> list[Agency]:
    """The agencies of a province: those common to every province, then its own."""
    return list(_agencies(province_slug))


def agency(province_slug: str, slug: str) -> Agency:
    for a in _agencies(province_slug):
        if a.slug == slug:
            return a
    raise UnknownReference(f"unknown agency {slug!r} in {province_slug!r}")


GROUPS: dict[str, frozenset[AgencyKind] | None] = {
    "cac-so-ban-nganh": frozenset({AgencyKind.department, AgencyKind.police, AgencyKind.military,
                                   AgencyKind.office, AgencyKind.focal}),
    "ubnd-cap-huyen": frozenset({AgencyKind.district}),
    "doan-the-chinh-tri-xa-hoi": frozenset({AgencyKind.mass_org, AgencyKind.friendship_org}),
    "co-quan-lien-quan": None,
}
"""The agencies a plan names collectively (kind `group`), by the kinds of their members; None: any
agency of the province ("các cơ quan, đơn vị, địa phương có liên quan")."""


def in_group(province_slug: str, agency_slug: str, group: str) -> bool:
    """Whether `group` is a collective name (e.g. `ubnd-cap-huyen`) that takes in `agency_slug`."""
    if group not in GROUPS:
        return False
    kinds = GROUPS[group]
    if kinds is None:
        return True
    try:
        return agency(province_slug, agency_slug).kind in kinds
    except UnknownReference:
        return False


def ubnd_office(province_slug: str) -> str:
    """The agency that receives SNgV's proposals for the UBND tỉnh of a province (`ubnd_office` in
    provinces.yaml): the top level of its escalations. Raises ValueError if the configured slug is
    not the province's UBND or an office of it."""
    slug = province(province_slug).ubnd_office
    try:
        kind = agency(province_slug, slug).kind
    except UnknownReference:
        kind = None
    if kind not in (AgencyKind.ubnd, AgencyKind.office):
        raise ValueError(f"ubnd_office of {province_slug} is {slug!r}, not the UBND tỉnh or its office")
    return slug


def reporting_agencies(province_slug: str) -> list[Agency]:
    """Agencies that send 6-month and annual reports to the UBND through SNgV."""
    return [a for a in _agencies(province_slug) if a.reports_periodically]


@cache
def _partners() -> tuple[Partner, ...]:
    return tuple(Partner.model_validate(p) for p in _load("partners.yaml"))


def partners(province_slug: str | None = None) -> list[Partner]:
    """Foreign partners, all or those of one province."""
    return [p for p in _partners() if province_slug is None or province_slug in p.provinces]


def partner(slug: str) -> Partner:
    for p in _partners():
        if p.slug == slug:
            return p
    raise UnknownReference(f"unknown partner {slug!r}")


@cache
def _plans() -> tuple[Plan, ...]:
    folder = resources.files(__package__).joinpath("plans")
    names = sorted(f.name for f in folder.iterdir() if f.name.endswith(".yaml"))
    return tuple(Plan.model_validate(_load(f"plans/{name}")) for name in names)


def plans(province_slug: str | None = None) -> list[Plan]:
    """Plans with their tasks, all or those of one province, oldest first."""
    found = [p for p in _plans() if province_slug is None or p.province == province_slug]
    return sorted(found, key=lambda p: (p.year, p.issued_on or date(p.year, 1, 1), p.slug))


def plan(slug: str) -> Plan:
    for p in _plans():
        if p.slug == slug:
            return p
    raise UnknownReference(f"unknown plan {slug!r}")


@cache
def _calendars() -> Calendars:
    return Calendars.model_validate(_load("calendars.yaml"))


def default_deadline(province_slug: str, report_kind: ReportKind) -> ReportDeadline | None:
    """The deadline a province configures for periodic reports of a kind its plans set without a date
    (configuration, not a plan's word), or None where it configures none."""
    found = next((d for d in _calendars().defaults if d.province == province_slug), None)
    return None if found is None else found.deadline(report_kind)


def parse_period(period: str) -> tuple[ReportKind, int, int | None]:
    """'2021-H1' -> (semiannual, 2021, 1); '2021' -> (annual, 2021, None); ValueError if malformed."""
    found = _PERIOD.match(period)
    if found is None:
        raise ValueError(f"period must look like 2021 or 2021-H1, got {period!r}")
    half = None if found["half"] is None else int(found["half"])
    return (ReportKind.annual if half is None else ReportKind.semiannual), int(found["year"]), half


def period_kind(period: str) -> tuple[ReportKind, int]:
    """'2021-H1' -> (semiannual, 2021); '2021' -> (annual, 2021); ValueError if malformed."""
    kind, year, _ = parse_period(period)
    return kind, year


def data_window(period: str) -> tuple[date, date]:
    """First and last day of data a periodic report covers (Decree 09/2019/NĐ-CP, Art. 12).

    `2021-H1` -> 15/12/2020 .. 14/06/2021; `2021` -> 15/12/2020 .. 14/12/2021. A second half has
    no periodic report of its own, so `2021-H2` raises ValueError.
    """
    kind, year, half = parse_period(period)
    if half == 2:
        raise ValueError("Decree 09/2019 defines no report for the second half; use the annual period")
    cutoff: DataCutoff | None = next((c for c in _calendars().data_cutoffs if c.report_kind == kind), None)
    if cutoff is None:  # pragma: no cover - calendars.yaml covers both kinds
        raise UnknownReference(f"no data cut-off for {kind}")
    return cutoff.window(year)
