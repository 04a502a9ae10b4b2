"""The reports owed, as the escalation service sees them (pure).

A report is owed where the compliance view says it is (`services.queries.compliance`): under the
periodic duties of the plans recorded in a province — each 6-month and annual period of the years
they are in force, up to today's year — and under each request, by the agencies it names. Only a
duty with a deadline can be missed: a duty whose plan names no date (and the province configures
none) gives no cause. A report returned and not sent again is not there."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from schemas.escalation_policy import TriggerKind
from schemas.reference import UnknownReference, agencies, plans
from schemas.reference.duties import periodic_duties
from services.escalations.causes import Owed, Parked
from services.queries.compliance import NONE, REQUEST, Request, Sent, compliance_rows


@dataclass
class Owing:
    owed: list[Owed] = field(default_factory=list)
    parked: list[Parked] = field(default_factory=list)


def periods_owed(province: str, recorded: Collection[str], today: date) -> list[str]:
    """The periodic periods (`Y-H1`, `Y`) from the first year of the recorded plans to today's year."""
    first = min((p.year for p in plans(province) if p.slug in recorded), default=None)
    if first is None:
        return []
    return [period for year in range(first, today.year + 1) for period in (f"{year}-H1", str(year))]


def names_of(province: str) -> dict[str, str]:
    try:
        return {a.slug: a.name_vi for a in agencies(province)}
    except UnknownReference:
        return {}


def owed_in(province: str, period: str, recorded: Collection[str], requests: Sequence[Request],
            sent: Sequence[Sent], today: date) -> list[Owed]:
    """The reports owed in one province for one period, each with whether it is there."""
    duties = [d for d in periodic_duties(province, period, recorded) if d.deadline is not None]
    if not duties and not requests:
        return []
    rows = compliance_rows(duties, requests, sent, names_of(province), period, today)
    return [Owed(province, r.agency, r.agency_name, period, r.deadline, r.submitted_on is not None, r.request_id,
                 r.basis if r.duty == REQUEST else None)
            for r in rows if r.duty != NONE and r.deadline is not None]


def owed_reports(recorded: Mapping[str, Collection[str]], requests: Mapping[tuple[str, str], Sequence[Request]],
                 sent: Mapping[str, Sequence[Sent]], today: date) -> Owing:
    """Every report owed, by province and period; a period whose reports cannot be computed is parked
    and the others go on."""
    keys = {(province, period) for province, ids in recorded.items() for period in periods_owed(province, ids, today)}
    out = Owing()
    for province, period in sorted(keys | set(requests)):
        try:
            out.owed.extend(owed_in(province, period, recorded.get(province, ()), requests.get((province, period), []),
                                    sent.get(province, []), today))
        except Exception as exc:  # parked like a cause: the other periods go on
            out.parked.append(Parked(f"{province}:report/{period}", TriggerKind.report_missing, province, exc))
    return out
