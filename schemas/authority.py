"""Who may say what, about what: the authority table of the plans, and the one function that
applies it (pure: no NATS, SQL or HTTP).

The plans give each step of the work to a named body (DOMAIN.md, "Who may say what"): an agency
speaks for itself, about what is its own or addressed to it; the focal agency (Sở Ngoại vụ) and
the UBND tỉnh speak where the plans give them the word; the escalation service alone speaks as the
system. HTTP ingest decides with `decide` at the door; the projections decide with it again for
every event of the stream (NATS included), in stream order, against the aggregate's state.

An aggregate is a `subject` within a province: its first event fixes its owner (the publishing
agency) and, for some kinds, the parties it is addressed to (`Aggregate.parties`). Another
province's event with the same subject names another aggregate and never reaches this one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from schemas.reference import in_group

FOCAL = "so-ngoai-vu"
"""The focal agency of every province: Sở Ngoại vụ."""
UBND = frozenset({"ubnd-tinh", "van-phong-ubnd-tinh"})
"""The UBND tỉnh and its office (Văn phòng UBND tỉnh), which speaks for it."""
SYSTEM = "doingoai"
"""The system identity: the escalation service publishes as `/provinces/<p>/agencies/doingoai`."""
NOT_AUTHORIZED = "not_authorized"
"""The one rejection kind of every authority refusal (HTTP 403 at the door)."""

MAX_AHEAD = timedelta(hours=24)
"""How far after its recording an event's `time` may lie."""
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""The earliest `time` an event may carry."""


class Speaker(StrEnum):
    """Who may publish an event type (the middle column of the table)."""

    agency = "any agency of the province; afterwards the agency that opened the aggregate"
    focal = "Sở Ngoại vụ"
    focal_or_ubnd = "Sở Ngoại vụ, or the UBND tỉnh / its office"
    ubnd = "the UBND tỉnh / its office"
    task_party = "a lead (chủ trì) or coordinating (phối hợp) agency of the task"
    recipient = "a recipient named by the shared information"
    raiser_or_focal = "the agency that raised the difficulty, or Sở Ngoại vụ"
    escalation_target = "the escalation's target agency"
    system = "the system alone (doingoai)"


@dataclass(frozen=True)
class Rule:
    """The row of one event type: who publishes it, whether it may open its aggregate, which
    field of `data` must name the publisher itself, and what it is about (for people)."""

    speaker: Speaker
    opens: bool
    """May be the first event of its aggregate (else the aggregate must exist in the province)."""
    about: str
    itself: str | None = None
    """A field of `data` that must be the publishing agency (it speaks for itself)."""
    parties: tuple[str, ...] = ()
    """Fields of `data` (slugs or lists of them) that name the aggregate's parties, when it opens it."""
    owner: str | None = None
    """A field of `data` that must name the agency that opened the aggregate (a report is returned to it)."""


_OWN = "its own aggregate: the agency that opened it (first event)"
RULES: Mapping[str, Rule] = {
    **{
        name: Rule(Speaker.agency, True, _OWN)
        for name in (
            "activity_planned", "activity_held", "activity_cancelled", "delegation_received", "delegation_sent",
            "conference_held", "agreement_signed", "aid_committed", "report_submitted", "difficulty_raised",
        )
    },
    "information_shared": Rule(Speaker.agency, True, _OWN, parties=("recipients",)),
    "partner_registered": Rule(Speaker.focal, True, "the province's partners"),
    "plan_issued": Rule(Speaker.focal_or_ubnd, True, "the province's plans"),
    "task_assigned": Rule(
        Speaker.focal_or_ubnd, True, "the province's plan tasks", parties=("lead_agencies", "coordinating_agencies")
    ),
    "report_requested": Rule(Speaker.focal_or_ubnd, True, "the province's report requests"),
    "task_progress_reported": Rule(Speaker.task_party, False, "for itself (`agency` = the publisher)", "agency"),
    "task_completed": Rule(Speaker.task_party, False, "for itself (`agency` = the publisher)", "agency"),
    "information_acknowledged": Rule(Speaker.recipient, False, "for itself (`agency` = the publisher)", "agency"),
    "report_accepted": Rule(Speaker.focal, False, "a report addressed to it", "accepted_by"),
    "report_returned": Rule(Speaker.focal, False, "a report addressed to it", owner="returned_to"),
    "difficulty_acknowledged": Rule(Speaker.focal, False, "difficulties of its province", "handler"),
    "guidance_issued": Rule(Speaker.focal, False, "difficulties of its province", "issued_by"),
    "difficulty_escalated": Rule(Speaker.focal, False, "difficulties of its province"),
    "decision_issued": Rule(Speaker.ubnd, False, "a difficulty Sở Ngoại vụ escalated"),
    "difficulty_resolved": Rule(Speaker.raiser_or_focal, False, "that difficulty", "resolved_by"),
    "escalation_acknowledged": Rule(Speaker.escalation_target, False, "for itself (`agency` = the publisher)",
                                    "agency"),
    "escalation_raised": Rule(Speaker.system, True, "—", parties=("target_agency",)),
    "escalation_reminded": Rule(Speaker.system, True, "—", parties=("target_agency",)),
    "escalation_closed": Rule(Speaker.system, False, "—"),
}
"""The authority table: event name -> its rule (DOMAIN.md, "Who may say what")."""


@dataclass(frozen=True)
class Aggregate:
    """What authority needs to know of an aggregate: where it belongs, who opened it, and to whom it
    is addressed (task lead and coordinating agencies, information recipients, escalation target)."""

    province: str
    subject: str
    owner: str
    parties: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Refusal:
    """Why an event is not this publisher's to say: where (a dotted path) and what."""

    path: str
    message: str

    @property
    def kind(self) -> str:
        return NOT_AUTHORIZED


def rule_of(event_name: str) -> Rule | None:
    return RULES.get(event_name)


def _get(data: Any, name: str) -> Any:
    """A field of `data`: a typed payload (defaults filled in) or the JSON object as sent."""
    return data.get(name) if isinstance(data, Mapping) else getattr(data, name, None)


def _slugs(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list | tuple | set | frozenset):
        return {v for v in value if isinstance(v, str)}
    return set()


def _party(aggregate: Aggregate, agency: str) -> bool:
    """Whether the aggregate is addressed to `agency`: by its name, or by a collective name that
    takes it in ("UBND cấp huyện", "các sở, ban, ngành", "các cơ quan có liên quan")."""
    return agency in aggregate.parties or any(in_group(aggregate.province, agency, p) for p in aggregate.parties)


def _speaks(rule: Rule, agency: str, aggregate: Aggregate | None, settled: bool) -> bool:
    """Whether `agency` is among who the rule names (the aggregate as it stands, if it exists)."""
    s = rule.speaker
    if s is Speaker.system:
        return agency == SYSTEM
    if agency == SYSTEM:
        return False
    if aggregate is None and not settled and s in _BY_AGGREGATE:
        return True  # who opened it, or to whom it is addressed, is not known yet
    if s is Speaker.agency:
        return aggregate is None or aggregate.owner == agency
    if s is Speaker.focal:
        return agency == FOCAL
    if s is Speaker.focal_or_ubnd:
        return agency == FOCAL or agency in UBND
    if s is Speaker.ubnd:
        return agency in UBND
    if s is Speaker.raiser_or_focal:
        return agency == FOCAL or (aggregate is not None and aggregate.owner == agency)
    if s is Speaker.escalation_target:
        return aggregate is not None and agency in aggregate.parties
    return aggregate is not None and _party(aggregate, agency)  # task_party, recipient


_BY_AGGREGATE = frozenset({Speaker.agency, Speaker.task_party, Speaker.recipient, Speaker.raiser_or_focal,
                           Speaker.escalation_target})
"""Speakers known only from the aggregate: who opened it, to whom it is addressed."""


def decide(
    province: str, agency: str, event_name: str, subject: str, data: Any, aggregate: Aggregate | None, *,
    settled: bool = True,
) -> Refusal | None:
    """None if `agency` of `province` may publish `event_name` on `subject` with `data`, given the
    aggregate as it stands in that province (None: no event has opened it there); else why not.

    `settled`: whether an aggregate not given does not exist (the stream, decided in order). At the
    door of HTTP ingest the read model may not have caught up with the stream: with `settled` False
    an aggregate not found is left to the projection, and only what the event alone shows is decided.
    """
    rule = RULES.get(event_name)
    if rule is None:
        return Refusal("type", f"{event_name} has no rule of who may publish it")
    if aggregate is not None and aggregate.province != province:
        return Refusal("subject", f"{subject} belongs to {aggregate.province}, not to {province}")
    if aggregate is None and settled and not rule.opens:
        return Refusal("subject", f"no {subject} in {province}: {event_name} needs an existing one")
    if not _speaks(rule, agency, aggregate, settled):
        whom = rule.speaker.value
        if rule.speaker is Speaker.agency and aggregate is not None:
            whom = f"{aggregate.owner}, which opened {subject}"
        elif rule.speaker is Speaker.raiser_or_focal and aggregate is not None:
            whom = f"{aggregate.owner}, which raised it, or {FOCAL}"
        elif aggregate is not None and rule.speaker in (Speaker.task_party, Speaker.recipient,
                                                         Speaker.escalation_target):
            whom = f"{rule.speaker.value}: {', '.join(sorted(aggregate.parties)) or '(none)'}"
        return Refusal("source", f"{event_name} on {subject} is for {whom}, not {agency}")
    if rule.itself is not None:
        named = _get(data, rule.itself)
        if named is not None and named != agency:
            return Refusal(f"data.{rule.itself}", f"{agency} speaks for itself: {rule.itself} must be {agency}, "
                                                  f"not {named}")
    if event_name == "decision_issued" and _get(data, "decided_by") not in (None, *UBND):
        return Refusal("data.decided_by", f"a decision is the UBND tỉnh's: decided_by must be one of "
                                          f"{', '.join(sorted(UBND))}")
    if rule.owner is not None and aggregate is not None and _get(data, rule.owner) != aggregate.owner:
        return Refusal(f"data.{rule.owner}", f"{subject} was submitted by {aggregate.owner}; it is returned to it")
    return None


def may_ever_publish(agency: str, event_name: str) -> bool:
    """Whether the rules give `agency` the word on `event_name` anywhere: on an aggregate it opens, owns or
    is addressed to, or as the body the plans name (the forms a person of that agency is offered)."""
    rule = RULES.get(event_name)
    return rule is not None and _speaks(rule, agency, None, settled=False)


def may_speak_on(province: str, agency: str, event_name: str, aggregate: Aggregate | None) -> bool:
    """Whether `agency` of `province` may publish `event_name` about `aggregate` as it stands (None: a new
    one), whatever the event then says (`decide` judges that)."""
    rule = RULES.get(event_name)
    if rule is None:
        return False
    if aggregate is None:
        return rule.opens and _speaks(rule, agency, None, settled=True)
    return aggregate.province == province and _speaks(rule, agency, aggregate, settled=True)


def foreign(province: str, subject: str, holders: Collection[str]) -> Refusal | None:
    """Why `subject` is not for `province` to speak of: other provinces hold it and this one does
    not (the door of HTTP ingest; in the stream each province's aggregates are its own)."""
    others = sorted(set(holders) - {province})
    if others and province not in holders:
        return Refusal("subject", f"{subject} belongs to {', '.join(others)}, not to {province}")
    return None


def opened(province: str, agency: str, event_name: str, subject: str, data: Any,
           aggregate: Aggregate | None) -> Aggregate:
    """The aggregate after an allowed event: the first one fixes its province, owner and parties; a
    later event that names parties again (a task re-assigned) updates them."""
    rule = RULES[event_name]
    parties: set[str] = set()
    for name in rule.parties:
        parties |= _slugs(_get(data, name))
    if aggregate is None:
        return Aggregate(province, subject, agency, frozenset(parties))
    if rule.parties:
        return Aggregate(aggregate.province, subject, aggregate.owner, frozenset(parties))
    return aggregate


def check_time(time: datetime, recorded_at: datetime) -> str | None:
    """Why an event's `time` cannot be taken (more than 24 h after it is recorded, or before 1900),
    or None."""
    try:
        if time < EARLIEST:
            return f"{time.isoformat()} is before {EARLIEST.date().isoformat()}"
        ahead = time - recorded_at > MAX_AHEAD
    except OverflowError:  # an offset that takes it past year 1 or 9999 in UTC
        ahead = time.year > 1900
        if not ahead:
            return f"{time.isoformat()} is before {EARLIEST.date().isoformat()}"
    if ahead:
        return f"{time.isoformat()} is more than 24 h after it was recorded ({recorded_at.isoformat()})"
    return None


def reads_whole_province(agency: str, role: str) -> bool:
    """Whether a credential reads everything of its province: Sở Ngoại vụ (which monitors and
    aggregates), the UBND tỉnh and its office, and auditors. Other agencies read the province's
    coordination views and what is their own or addressed to them (`services.http.scope`). A signed-in
    administrator (role `admin`), who manages the province's accounts, reads it whole too."""
    return role in ("auditor", "admin") or agency == FOCAL or agency in UBND
