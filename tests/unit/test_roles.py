"""The role rules, without a broker: leaders-only steps, who acknowledges which level, and whose
inbox holds which escalation; the default escalation policy's role labels agree with them."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.authority import NOT_AUTHORIZED, RULES
from schemas.roles import LEADER, LEADERS_ONLY, LEVEL_ROLES, SPECIALIST, inbox, leaders_only, may_acknowledge
from services.escalations.policy import DEFAULT_POLICY

pytestmark = pytest.mark.unit
FOCAL, OFFICE, LATE = "so-ngoai-vu", "van-phong-ubnd-tinh", "so-tu-phap"


def row(level: int, target: str, cause: str = "report/a", late: str | None = LATE) -> dict[str, Any]:
    return {"escalation_id": f"{cause}:{level}:{target}", "province": "ha-tinh", "trigger": "report_missing",
            "cause_subject": cause, "level": level, "target_agency": target, "responsible_agency": late}


LADDER = [row(1, FOCAL), row(2, FOCAL), row(3, OFFICE)]


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["escalation_id"] for r in rows]


def test_leaders_only_steps_are_refused_to_a_specialist_and_never_to_a_token_or_a_leader():
    assert set(LEADERS_ONLY) == {"report_accepted", "report_returned", "difficulty_escalated", "decision_issued"}
    assert set(LEADERS_ONLY) <= set(RULES)  # every one is an event type the authority table knows
    for name in LEADERS_ONLY:
        refused = leaders_only(SPECIALIST, name)
        assert refused is not None and refused.kind == NOT_AUTHORIZED and "leader" in refused.message
        assert leaders_only(LEADER, name) is None and leaders_only(None, name) is None
    assert leaders_only(SPECIALIST, "guidance_issued") is None  # a specialist guides a unit
    assert leaders_only(SPECIALIST, "report_submitted") is None


def test_a_specialist_sees_level_1_a_leader_level_2_and_what_climbed_above_it():
    assert ids(inbox(SPECIALIST, FOCAL, LADDER)) == ids(LADDER[:1])
    assert ids(inbox(LEADER, FOCAL, LADDER)) == ids(LADDER[1:])
    assert ids(inbox(SPECIALIST, OFFICE, LADDER)) == ids(LADDER[2:])  # level 3: every official of the office
    assert ids(inbox(LEADER, OFFICE, LADDER)) == ids(LADDER[2:])
    assert ids(inbox(SPECIALIST, LATE, LADDER)) == ids(LADDER)  # its late step: it learns who has been told
    assert ids(inbox(None, FOCAL, LADDER)) == ids(LADDER[:2])  # an agency's token: every level addressed to it
    assert inbox("auditor", FOCAL, LADDER) == []


def test_what_climbed_above_is_judged_per_cause():
    other = [row(3, OFFICE, cause="report/b")]  # level 3 of a cause whose level 2 the leader never had
    assert ids(inbox(LEADER, FOCAL, LADDER[1:2] + other)) == ids(LADDER[1:2])
    own_step = [row(3, OFFICE, cause="difficulty/c", late=FOCAL)]  # Sở Ngoại vụ's own late step
    assert ids(inbox(SPECIALIST, FOCAL, own_step)) == ids(own_step)


def test_a_leader_acknowledges_any_level_a_specialist_only_the_levels_addressed_to_it():
    assert may_acknowledge(SPECIALIST, 1) and not may_acknowledge(SPECIALIST, 2)
    assert may_acknowledge(SPECIALIST, 3)  # the office's level: every official
    assert all(may_acknowledge(LEADER, n) for n in (1, 2, 3)) and may_acknowledge(None, 2)


def test_the_default_policy_addresses_its_levels_to_the_roles_the_rules_name():
    words = {SPECIALIST: "Chuyên viên", LEADER: "Giám đốc"}
    for level in DEFAULT_POLICY.levels:
        if level.level in LEVEL_ROLES:
            (role,) = LEVEL_ROLES[level.level]
            assert level.role.startswith(words[role]) and level.agency == FOCAL, level
        else:
            assert level.agency == OFFICE, level
