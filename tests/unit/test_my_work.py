"""The items of "Việc cần làm" built from read-model rows, without a database: their order, their
Vietnamese titles (names, never codes), their deadlines in Việt Nam's time, and whose they are."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from services.queries.compliance import Compliance
from services.queries.my_work import (
    Item,
    difficulty_items,
    escalation_items,
    information_items,
    ordered,
    report_item,
    review_items,
)

pytestmark = pytest.mark.unit
P, TODAY = "ha-tinh", date(2026, 3, 2)


def test_oldest_deadline_first_and_no_deadline_last():
    late = Item("task", "b", datetime(2021, 6, 30, 16, 59, tzinfo=UTC), "overdue", "task/1")
    early = Item("report", "a", datetime(2021, 3, 15, 16, 59, tzinfo=UTC), "missing", "report/1")
    none = Item("report", "c", None, "submitted", "report/2")
    same = Item("escalation", "z", datetime(2021, 3, 15, 16, 59, tzinfo=UTC), "open", "escalation/1")
    assert ordered([none, late, early, same]) == [same, early, late, none]  # a tie: escalations first
    shown = early.as_dict()
    assert shown["deadline"] == "2021-03-15T23:59:00+07:00" and shown["kind_name"] == "Báo cáo"
    assert shown["link"] == "#bao-cao" and shown["state_name"] == "Quá hạn, chưa gửi"


def compliance(**given: object) -> Compliance:
    fields: dict[str, object] = {"agency": "so-tu-phap", "agency_name": "Sở Tư pháp", "period": "2021-H1",
                                 "deadline": date(2021, 5, 25), "status": "missing", "submitted_on": None,
                                 "report_status": None, "days_late": None, "plan": "ha-tinh-53-2021",
                                 "basis": "Kế hoạch số 53/KH-UBND"}
    return Compliance(**{**fields, **given})  # type: ignore[arg-type]


def test_a_report_owed_is_named_by_its_plan_and_a_returned_one_is_to_be_sent_again():
    owed = report_item(compliance(), P, TODAY)
    assert owed is not None and owed.title.startswith("Báo cáo 6 tháng đầu năm 2021 theo Kế hoạch số 53/KH-UBND “")
    assert owed.as_dict()["deadline"] == "2021-05-25T23:59:59.999999+07:00"  # the end of the day, in Việt Nam
    assert owed.subject == "report/ha-tinh-so-tu-phap-2021-H1" and owed.state == "missing"
    returned = report_item(compliance(report_status="returned", note="Báo cáo bị trả lại ngày 27/05/2021"), P, TODAY)
    assert returned is not None and returned.state == "returned" and returned.title.startswith("Gửi lại báo cáo")
    asked = report_item(compliance(request_id="rq-1", basis="Báo cáo đột xuất về biên giới", plan=None), P, TODAY)
    assert asked is not None and asked.title == "Báo cáo theo yêu cầu “Báo cáo đột xuất về biên giới”"
    assert report_item(compliance(submitted_on=date(2021, 5, 20), status="on_time"), P, TODAY) is None
    assert report_item(compliance(deadline=None, status="pending"), P, TODAY) is None  # undated, of a past year
    assert report_item(compliance(deadline=None, status="pending", period="2026"), P, TODAY) is not None


def test_escalations_are_those_addressed_to_the_role_and_information_those_not_yet_acknowledged():
    rows = [{"escalation_id": str(n), "level": n, "target_agency": "so-ngoai-vu", "status": "open",
             "message": f"Cảnh báo {n}", "ack_by": datetime(2021, 5, 28, tzinfo=UTC), "target_role": None}
            for n in (1, 2)]
    assert [i.subject for i in escalation_items(rows, "so-ngoai-vu", "specialist")] == ["escalation/1"]
    assert [i.subject for i in escalation_items(rows, "so-ngoai-vu", "leader")] == ["escalation/2"]
    assert len(escalation_items(rows, "so-ngoai-vu", None)) == 2
    info = SimpleNamespace(info_id="i1", agency="so-ngoai-vu", topic="Tình hình Bolykhamxay",
                           recipients=["ubnd-cap-huyen"], acknowledged=["ubnd-huyen-nghi-xuan"], respond_by=None)
    (item,) = information_items([info], P, "ubnd-huyen-huong-son")  # a district: named through its group
    assert item.title == "Xác nhận đã nhận thông tin “Tình hình Bolykhamxay” của Sở Ngoại vụ" and item.deadline is None
    assert information_items([info], P, "ubnd-huyen-nghi-xuan") == []  # acknowledged
    assert information_items([info], P, "so-tu-phap") == []  # not a recipient


def test_a_difficulty_waits_on_its_raiser_on_sngv_for_its_steps_and_on_the_office_for_a_decision():
    at = datetime(2021, 4, 5, 2, tzinfo=UTC).isoformat()

    def difficulty(status: str, **state: object) -> SimpleNamespace:
        return SimpleNamespace(difficulty_id="d1", agency="ubnd-huyen-huong-son", topic="Cư dân biên giới",
                               state={"status": status, "raised_at": at, **state})

    new = [difficulty("raised")]
    assert [i.title for i in difficulty_items(new, P, "so-ngoai-vu", "van-phong-ubnd-tinh")] == [
        "Tiếp nhận khó khăn “Cư dân biên giới” của UBND huyện Hương Sơn"]
    assert [i.title for i in difficulty_items(new, P, "ubnd-huyen-huong-son", "van-phong-ubnd-tinh")] == [
        "Khó khăn “Cư dân biên giới” đã phản ánh"]
    proposed = [difficulty("escalated", acknowledged_at=at, escalated_at=at, proposal_document="45/TTr-SNgV")]
    (decide,) = difficulty_items(proposed, P, "van-phong-ubnd-tinh", "van-phong-ubnd-tinh")
    assert decide.title.endswith("(Tờ trình số 45/TTr-SNgV)") and decide.deadline is not None
    assert difficulty_items(proposed, P, "so-ngoai-vu", "van-phong-ubnd-tinh") == []  # no longer its step
    assert difficulty_items(new, P, "so-tu-phap", "van-phong-ubnd-tinh") == []


def test_the_units_reports_wait_on_sngv_to_accept_or_return_them():
    sent = SimpleNamespace(report_id="r1", agency="so-tu-phap", title="Báo cáo 6 tháng", period="2021-H1",
                           submitted_on=date(2021, 5, 20), status="submitted")
    (item,) = review_items([sent, SimpleNamespace(**{**vars(sent), "status": "accepted"})], P)
    assert item.title == "Tiếp nhận hoặc trả lại “Báo cáo 6 tháng” của Sở Tư pháp (gửi ngày 20/05/2021)"
    assert item.deadline is None and item.as_dict()["leaders_only"] is True
