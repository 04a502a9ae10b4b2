"""Who receives an escalation on NATS (services.escalations.delivery.deliveries, pure): its target,
and, after a missed deadline, the responsible agency on its own subject (đôn đốc), each once with a
message id of its own; the copy gives the responsible agency no say over the escalation."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from schemas.authority import decide, opened
from schemas.codec import decode, encode, new_event
from schemas.escalation_policy import DEFAULT_POLICY, TriggerKind, evaluate
from schemas.events.escalations import EscalationClosedV1
from services.escalations.causes import Cause, Owed, report_causes
from services.escalations.delivery import deliveries
from services.escalations.service import event_for, state_for
from services.store import msg_id

pytestmark = pytest.mark.unit
VN = ZoneInfo("Asia/Ho_Chi_Minh")
SOURCE = "/provinces/ha-tinh/agencies/doingoai"


def late_report() -> Cause:
    [cause] = report_causes([Owed("ha-tinh", "so-tu-phap", "Sở Tư pháp", "2026-H1", date(2026, 5, 25),
                                  done=False)]).causes
    return cause


def decided(cause: Cause, now: datetime):
    [decision] = evaluate(now, state_for(cause, {}), DEFAULT_POLICY)
    return decode(encode(event_for(cause, decision, DEFAULT_POLICY)))


def test_an_escalation_goes_to_its_target_and_to_the_late_unit_on_its_own_subject_each_with_its_own_id():
    event = decided(late_report(), datetime(2026, 5, 26, 8, tzinfo=VN))
    target, late = deliveries(event)
    assert (target.agency, target.subject) == ("so-ngoai-vu", "doingoai.escalations.ha-tinh.so-ngoai-vu")
    assert target.msg_id == msg_id(SOURCE, event.id)  # the event's own key, as on the events stream
    assert (late.agency, late.subject) == ("so-tu-phap", "doingoai.escalations.ha-tinh.so-tu-phap")
    assert late.msg_id == f"so-tu-phap {SOURCE} {event.id}" and late.msg_id != target.msg_id


def test_the_responsible_agency_that_is_the_target_gets_it_once():
    cause = Cause(TriggerKind.difficulty_unacknowledged, "ha-tinh", "difficulty/d1", "ha-tinh:difficulty/d1:ack",
                  datetime(2026, 5, 20, 23, 59, tzinfo=VN), "so-ngoai-vu", False, "Chưa tiếp nhận")
    [only] = deliveries(decided(cause, datetime(2026, 5, 21, 8, tzinfo=VN)))
    assert only.agency == "so-ngoai-vu"


def test_a_reminder_is_delivered_to_the_responsible_agency_it_names_once():
    event = decided(late_report(), datetime(2026, 5, 25, 8, tzinfo=VN))
    assert event.name == "escalation_reminded"
    assert [d.agency for d in deliveries(event)] == ["so-tu-phap"]


def test_closes_and_escalations_not_from_the_system_are_not_delivered():
    closed = new_event(EscalationClosedV1(reason="Đã gửi báo cáo", cause_subject="report/x-2026-H1"),
                       province="ha-tinh", agency="doingoai", aggregate_id="e1", time=datetime(2026, 6, 1, tzinfo=VN))
    assert deliveries(decode(encode(closed))) == []
    raised = decided(late_report(), datetime(2026, 5, 26, 8, tzinfo=VN))
    other = "/provinces/ha-tinh/agencies/so-y-te"
    forged = raised._replace(envelope=raised.envelope.model_copy(update={"source": other}))
    assert deliveries(forged) == []


def test_the_late_unit_told_of_its_escalation_cannot_acknowledge_it_only_the_target_can():
    event = decided(late_report(), datetime(2026, 5, 26, 8, tzinfo=VN))
    aggregate = opened("ha-tinh", "doingoai", event.name, event.envelope.subject, event.data, None)
    ack = {"agency": "so-tu-phap", "by": {"name": "Nguyễn Văn A"}}
    refusal = decide("ha-tinh", "so-tu-phap", "escalation_acknowledged", event.envelope.subject, ack, aggregate)
    assert refusal is not None and "so-ngoai-vu" in refusal.message
    assert decide("ha-tinh", "so-ngoai-vu", "escalation_acknowledged", event.envelope.subject,
                  {**ack, "agency": "so-ngoai-vu"}, aggregate) is None
