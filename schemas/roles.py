"""Who among an agency's officials does what: the roles of people, as data, and the functions that
apply them (pure: no NATS, SQL or HTTP).

The authority rules (`schemas.authority`) say which *agency* may record an event. Within an agency,
the plans give some steps to its leaders (lãnh đạo): Sở Ngoại vụ's leaders accept or return a unit's
report and sign its proposal (tờ trình) to the UBND tỉnh; the UBND tỉnh's leaders decide. A signed-in
specialist (chuyên viên) prepares these steps but does not record them. An agency's token speaks for
the agency's system, not for a person: the role rules do not apply to it.

Escalations climb through levels addressed to roles (`services.escalations.policy.DEFAULT_POLICY`):
level 1 to Sở Ngoại vụ's specialists, level 2 to its leaders, level 3 to the UBND tỉnh's office as a
whole. A person's inbox (`inbox`) holds:

1. what is addressed to their agency at a level addressed to their role (`LEVEL_ROLES`; a level not
   listed there is addressed to every official of its target agency);
2. what is addressed to another agency because their agency's step is late (their agency is the
   escalation's `responsible_agency`): every official of it learns who has been told;
3. for a leader (`ABOVE_ROLES`), what climbed above their agency: a higher level of the same cause,
   addressed to another agency (the UBND's office), after one addressed to their agency.

A leader does not see level 1 in their inbox: it reaches them when it climbs to level 2 (its level
was not acknowledged in time). A leader may still acknowledge any level addressed to their agency
(`may_acknowledge`); a specialist only the levels addressed to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from schemas.authority import Refusal

SPECIALIST = "specialist"
LEADER = "leader"
AUDITOR = "auditor"
ADMIN = "admin"
ROLES = (SPECIALIST, LEADER, AUDITOR, ADMIN)
"""The roles of a person's account (`doingoai users add --role`)."""
OFFICIALS = frozenset({SPECIALIST, LEADER})
"""The roles that act for their agency (record events, acknowledge escalations)."""
ROLE_NAMES: Mapping[str, str] = {SPECIALIST: "chuyên viên", LEADER: "lãnh đạo", AUDITOR: "thanh tra, kiểm tra",
                                 ADMIN: "quản trị"}
"""The Vietnamese name of each role."""

LEADERS_ONLY: Mapping[str, str] = {
    "report_accepted": "Tiếp nhận báo cáo của đơn vị là việc của lãnh đạo Sở Ngoại vụ",
    "report_returned": "Trả lại báo cáo của đơn vị là việc của lãnh đạo Sở Ngoại vụ",
    "difficulty_escalated": "Đề xuất UBND tỉnh (tờ trình) là việc của lãnh đạo Sở Ngoại vụ",
    "decision_issued": "Quyết định là việc của lãnh đạo UBND tỉnh",
}
"""The steps only a leader's session records (event name -> why, in Vietnamese); an agency's token
(its system) records them under the authority rules alone."""

LEVEL_ROLES: Mapping[int, frozenset[str]] = {1: frozenset({SPECIALIST}), 2: frozenset({LEADER})}
"""Escalation levels addressed to some roles of their target agency; any other level (the UBND's
office at level 3) is addressed to every official of it (`OFFICIALS`)."""
ABOVE_ROLES = frozenset({LEADER})
"""Who also sees in their inbox what climbed above their agency."""


def leaders_only(role: str | None, event_name: str) -> Refusal | None:
    """Why a person of `role` may not record `event_name` (a leaders-only step), or None; `role` None
    (an agency's token) is never refused here."""
    reason = LEADERS_ONLY.get(event_name)
    if role is None or reason is None or role == LEADER:
        return None
    return Refusal("type", f"{reason}: {event_name} is recorded by a leader's session (role leader), "
                           f"not by a {role}'s; an agency's token (its system) may record it")


def addressed_roles(level: int) -> frozenset[str]:
    """The roles of the target agency an escalation of `level` is addressed to."""
    return LEVEL_ROLES.get(level, OFFICIALS)


def may_acknowledge(role: str | None, level: int) -> bool:
    """Whether a person of `role` (None: an agency's token) acknowledges an escalation of `level`
    addressed to their agency: the roles it is addressed to, and a leader any level."""
    return role is None or role == LEADER or role in addressed_roles(level)


def addressed_to(role: str | None, agency: str, row: Mapping[str, Any]) -> bool:
    """Whether an escalation row (`target_agency`, `level`) is addressed to `agency` and, for a person
    (`role` not None), to their role."""
    return row["target_agency"] == agency and (role is None or role in addressed_roles(int(row["level"])))


def _cause(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return row["province"], row["trigger"], row["cause_subject"], row.get("responsible_agency")


R = TypeVar("R", bound=Mapping[str, Any])


def inbox(role: str | None, agency: str, rows: Iterable[R]) -> list[R]:
    """The escalation rows (`province`, `trigger`, `cause_subject`, `level`, `target_agency`,
    `responsible_agency`) of a person's inbox (rules 1-3 of this module), in their order; for an
    agency's token (`role` None), every level addressed to the agency and what its late steps caused."""
    rows = list(rows)
    reached: dict[tuple[Any, ...], int] = {}
    if role in ABOVE_ROLES:
        for row in rows:
            if addressed_to(role, agency, row):
                key = _cause(row)
                reached[key] = min(reached.get(key, int(row["level"])), int(row["level"]))
    out: list[R] = []
    for row in rows:
        if addressed_to(role, agency, row):
            out.append(row)
        elif row["target_agency"] != agency and row.get("responsible_agency") == agency:
            out.append(row)  # rule 2: its own step is late
        elif row["target_agency"] != agency and int(row["level"]) > reached.get(_cause(row), 10**6):
            out.append(row)  # rule 3: climbed above it
    return out


def role_name(role: str | None) -> str | None:
    return None if role is None else ROLE_NAMES.get(role, role)

