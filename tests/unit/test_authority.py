"""The authority table and `decide`, without a broker: for every event type the publisher the plans
name may say it, and another agency of the province, or the same agency of another province, may not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.authority import (
    FOCAL,
    RULES,
    SYSTEM,
    Aggregate,
    check_time,
    decide,
    foreign,
    opened,
)
from schemas.base import latest_versions
from services.credentials import issue

pytestmark = pytest.mark.unit
P, OTHER = "ha-tinh", "kon-tum"
OWNER, STRANGER = "so-noi-vu", "so-tu-phap"
S = "x/1"


def agg(owner: str = OWNER, parties: tuple[str, ...] = ()) -> Aggregate:
    return Aggregate(P, S, owner, frozenset(parties))


# event name -> (the allowed publisher, the aggregate it speaks of (None: it opens it), data, a wrong publisher)
CASES: dict[str, tuple[str, Aggregate | None, dict[str, Any], str]] = {
    **{name: (OWNER, None, {}, SYSTEM) for name in (
        "activity_planned", "activity_held", "delegation_received", "delegation_sent", "conference_held",
        "agreement_signed", "aid_committed", "information_shared", "report_submitted", "difficulty_raised")},
    "activity_cancelled": (OWNER, agg(), {}, STRANGER),
    "partner_registered": (FOCAL, None, {}, STRANGER),
    "plan_issued": ("van-phong-ubnd-tinh", None, {}, STRANGER),
    "task_assigned": (FOCAL, None, {}, STRANGER),
    "report_requested": ("ubnd-tinh", None, {}, STRANGER),
    "task_progress_reported": (OWNER, agg(FOCAL, (OWNER, "so-y-te")), {"agency": OWNER}, STRANGER),
    "task_completed": ("so-y-te", agg(FOCAL, (OWNER, "so-y-te")), {"agency": "so-y-te"}, STRANGER),
    "information_acknowledged": ("so-y-te", agg(STRANGER, ("so-y-te",)), {"agency": "so-y-te"}, OWNER),
    "report_accepted": (FOCAL, agg(), {"accepted_by": FOCAL}, OWNER),
    "report_returned": (FOCAL, agg(), {"returned_to": OWNER}, STRANGER),
    "difficulty_acknowledged": (FOCAL, agg(), {"handler": FOCAL}, STRANGER),
    "guidance_issued": (FOCAL, agg(), {"issued_by": FOCAL}, STRANGER),
    "difficulty_escalated": (FOCAL, agg(), {}, OWNER),
    "decision_issued": ("ubnd-tinh", agg(), {"decided_by": "ubnd-tinh"}, FOCAL),
    "difficulty_resolved": (OWNER, agg(), {"resolved_by": OWNER}, STRANGER),
    "escalation_acknowledged": (FOCAL, agg(SYSTEM, (FOCAL,)), {"agency": FOCAL}, STRANGER),
    "escalation_raised": (SYSTEM, None, {"target_agency": FOCAL}, FOCAL),
    "escalation_reminded": (SYSTEM, None, {"target_agency": OWNER}, OWNER),
    "escalation_closed": (SYSTEM, agg(SYSTEM, (FOCAL,)), {}, FOCAL),
}


def test_every_event_type_of_the_catalogue_has_a_rule_and_a_case_here():
    assert set(RULES) == set(latest_versions()) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_publisher_the_plans_name_may_say_it_and_another_agency_may_not(name: str):
    allowed, aggregate, data, wrong = CASES[name]
    assert decide(P, allowed, name, S, data, aggregate) is None
    refusal = decide(P, wrong, name, S, {**data}, aggregate)
    assert refusal is not None and refusal.kind == "not_authorized"


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_same_agency_of_another_province_never_reaches_the_aggregate(name: str):
    allowed, aggregate, data, _ = CASES[name]
    if aggregate is None:  # in its own province it opens an aggregate of its own
        assert decide(OTHER, allowed, name, S, data, None) is None
        return
    refusal = decide(OTHER, allowed, name, S, data, aggregate)
    assert refusal is not None and "belongs to ha-tinh" in refusal.message
    unknown = decide(OTHER, allowed, name, S, data, None)  # it has no such aggregate of its own
    assert (unknown is None) is RULES[name].opens  # one that opens makes one of its own
    assert unknown is None or unknown.path == "subject"


def test_after_the_first_event_only_the_owner_speaks_of_its_aggregate():
    first = opened(P, OWNER, "activity_planned", S, {}, None)
    assert first.owner == OWNER
    assert decide(P, OWNER, "activity_held", S, {}, first) is None
    refusal = decide(P, STRANGER, "activity_held", S, {}, first)
    assert refusal is not None and "so-noi-vu, which opened x/1" in refusal.message
    assert decide(P, FOCAL, "report_submitted", S, {}, first) is not None


def test_an_agency_speaks_for_itself_in_the_fields_that_name_it():
    task = agg(FOCAL, (OWNER, STRANGER))
    refusal = decide(P, OWNER, "task_completed", S, {"agency": STRANGER}, task)
    assert refusal is not None and refusal.path == "data.agency"
    refusal = decide(P, FOCAL, "difficulty_acknowledged", S, {"handler": STRANGER}, agg())
    assert refusal is not None and refusal.path == "data.handler"
    assert decide(P, FOCAL, "report_returned", S, {"returned_to": STRANGER}, agg()) is not None


def test_the_system_speaks_only_of_escalations_and_nobody_else_raises_them():
    assert decide(P, SYSTEM, "difficulty_raised", S, {}, None) is not None
    assert decide(P, SYSTEM, "escalation_acknowledged", S, {"agency": SYSTEM}, agg(SYSTEM, (FOCAL,))) is not None
    forged = decide(P, OWNER, "escalation_raised", S, {"target_agency": "ubnd-tinh", "level": 3}, None)
    assert forged is not None and "system alone" in forged.message
    with pytest.raises(ValueError, match="system's own identity"):  # no agency credentials speak as the system
        asyncio.run(issue(None, P, SYSTEM))  # type: ignore[arg-type]  (refused before any database access)


def test_opening_fixes_the_parties_and_a_reassignment_updates_them():
    task = opened(P, FOCAL, "task_assigned", S, {"lead_agencies": [OWNER], "coordinating_agencies": ["so-y-te"]}, None)
    assert task.parties == {OWNER, "so-y-te"} and task.owner == FOCAL
    again = opened(P, "ubnd-tinh", "task_assigned", S, {"lead_agencies": [STRANGER], "coordinating_agencies": []},
                   task)
    assert again.parties == {STRANGER} and again.owner == FOCAL
    assert opened(P, OWNER, "task_completed", S, {"agency": OWNER}, task) is task


def test_at_the_door_an_aggregate_not_yet_projected_is_left_to_the_projection():
    assert decide(P, STRANGER, "task_completed", S, {"agency": STRANGER}, None) is not None
    assert decide(P, STRANGER, "task_completed", S, {"agency": STRANGER}, None, settled=False) is None
    # what the event alone shows is decided all the same
    assert decide(P, STRANGER, "decision_issued", S, {}, None, settled=False) is not None
    assert decide(P, OWNER, "task_completed", S, {"agency": STRANGER}, None, settled=False) is not None


def test_a_subject_held_by_another_province_is_not_this_ones():
    assert foreign(OTHER, S, {P}) is not None
    assert foreign(P, S, {P}) is None
    assert foreign(P, S, {P, OTHER}) is None
    assert foreign(P, S, set()) is None


@pytest.mark.parametrize(("time", "refused"), [
    (datetime(9999, 12, 31, 20, tzinfo=UTC), True),
    (datetime(1899, 12, 31, 23, tzinfo=UTC), True),
    (datetime(1, 1, 1, tzinfo=UTC), True),
    (datetime(1900, 1, 1, tzinfo=UTC), False),
    (datetime(2021, 5, 20, tzinfo=UTC), False),
])
def test_a_time_more_than_a_day_ahead_of_its_recording_or_before_1900_is_refused(time: datetime, refused: bool):
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert (check_time(time, now) is not None) is refused
    assert check_time(now + timedelta(hours=23), now) is None
    assert check_time(now + timedelta(hours=25), now) is not None


def test_a_task_assigned_to_a_collective_name_takes_in_its_members():
    task = Aggregate("ha-tinh", S, FOCAL, frozenset({"ubnd-cap-huyen", "cac-so-ban-nganh"}))
    assert decide("ha-tinh", "ubnd-huyen-huong-son", "task_completed", S, {"agency": "ubnd-huyen-huong-son"},
                  task) is None
    assert decide("ha-tinh", "so-y-te", "task_progress_reported", S, {"agency": "so-y-te"}, task) is None
    refusal = decide("ha-tinh", "uy-ban-mttq-tinh", "task_completed", S, {"agency": "uy-ban-mttq-tinh"}, task)
    assert refusal is not None
    anyone = Aggregate("ha-tinh", S, FOCAL, frozenset({"co-quan-lien-quan"}))
    assert decide("ha-tinh", "uy-ban-mttq-tinh", "task_completed", S, {"agency": "uy-ban-mttq-tinh"}, anyone) is None
