"""Reporting duties and annual task instances as the plans write them: who owes which report, by
when, in which years; each year's instance of an annual task and its due date."""

from __future__ import annotations

from datetime import date

import pytest

from schemas.common import ReportKind
from schemas.events.plans import Recurrence
from schemas.reference import plan, plans
from schemas.reference.duties import (
    annual_instances,
    completion_year,
    in_force,
    on_request,
    periodic_duties,
    task_years,
    years_in_force,
)

pytestmark = pytest.mark.unit


def owed(province: str, period: str, recorded: set[str] | None = None) -> dict[str, tuple[date | None, str | None]]:
    return {d.agency: (d.deadline, d.deadline_basis) for d in periodic_duties(province, period, recorded)}


def test_every_plan_names_its_reporting_duties_with_known_agencies() -> None:
    from schemas.reference import agencies

    for p in plans():
        known = {a.slug for a in agencies(p.province)}
        assert p.reporting, p.slug
        for duty in p.reporting:
            assert set(duty.agencies) | {duty.to} <= known, p.slug


def test_ha_tinh_365_units_report_only_on_request_and_sngv_yearly_without_a_date() -> None:
    """Plan 365 (2019): SNgV reports "hàng năm và đột xuất" to the UBND; units only "khi có yêu cầu"."""
    for period in ("2020", "2019", "2024"):
        assert owed("ha-tinh", period) == {"so-ngoai-vu": (None, None)}
    assert owed("ha-tinh", "2020-H1") == {}
    [units] = [d for d in on_request("ha-tinh", 2020) if d.to == "so-ngoai-vu"]
    assert "khi có yêu cầu" in units.text


def test_ha_tinh_53_covers_2021_only_with_25_5_and_10_10() -> None:
    assert in_force("ha-tinh", 2021).slug == "ha-tinh-53-2021"  # type: ignore[union-attr]
    assert in_force("ha-tinh", 2022).slug == "ha-tinh-365-2019"  # type: ignore[union-attr]
    h1 = owed("ha-tinh", "2021-H1")
    assert h1["so-tu-phap"] == (date(2021, 5, 25), "plan") and h1["ubnd-huyen-huong-son"] == (date(2021, 5, 25), "plan")
    assert h1["so-ngoai-vu"] == (None, None)  # SNgV reports to the UBND; the plan names no date
    assert owed("ha-tinh", "2021")["so-y-te"] == (date(2021, 10, 10), "plan")
    assert all(deadline != date(2024, 10, 10) for deadline, _ in owed("ha-tinh", "2024").values())
    assert owed("ha-tinh", "2021-H2") == {}  # the annual report covers the second half


def test_a_plan_not_recorded_sets_no_duty() -> None:
    """Plan 53 not issued in the system: 2021 falls back to plan 365; nothing recorded: no duty at all."""
    assert owed("ha-tinh", "2021-H1", {"ha-tinh-365-2019"}) == {}
    assert owed("ha-tinh", "2021", set()) == {}
    assert owed("ha-tinh", "2018") == {}  # before the first plan


def test_kon_tum_3291_binds_only_sngv_towards_the_ubnd() -> None:
    for period in ("2021-H1", "2021"):
        assert owed("kon-tum", period) == {"so-ngoai-vu": (None, None)}
    assert on_request("kon-tum", 2021) == []


def test_gia_lai_units_owe_reports_by_the_configured_default_and_sngv_is_the_channel() -> None:
    h1 = owed("gia-lai", "2020-H1")
    assert h1["so-noi-vu"] == (date(2020, 6, 20), "default")
    assert h1["uy-ban-mttq-tinh"] == (date(2020, 6, 20), "default")
    assert "so-ngoai-vu" not in h1 and "ubnd-tinh" not in h1
    assert owed("gia-lai", "2020")["so-noi-vu"] == (date(2020, 12, 20), "default")
    assert owed("gia-lai", "2019") == {}


def test_dong_nai_units_report_annually_before_15_11_from_2022() -> None:
    year = owed("dong-nai", "2022")
    assert year["so-tai-chinh"] == (date(2022, 11, 15), "plan")
    assert year["so-ngoai-vu"] == (None, None)
    assert owed("dong-nai", "2022-H1") == {} and owed("dong-nai", "2021") == {}
    assert owed("dong-nai", "2025")["so-tai-chinh"] == (date(2025, 11, 15), "plan")


def test_each_duty_names_its_plan_and_kind() -> None:
    [duty] = [d for d in periodic_duties("ha-tinh", "2021-H1") if d.agency == "so-noi-vu"]
    assert (duty.plan, duty.plan_number, duty.report_kind, duty.to) == (
        "ha-tinh-53-2021", "53/KH-UBND", ReportKind.semiannual, "so-ngoai-vu")
    assert "25/5" in duty.text


def test_a_plan_is_in_force_in_its_years_until_a_later_plan_replaces_it() -> None:
    assert years_in_force(plan("ha-tinh-365-2019"), 2024) == [2019, 2020, 2022, 2023, 2024]
    assert years_in_force(plan("ha-tinh-53-2021"), 2024) == [2021]
    assert years_in_force(plan("ha-tinh-365-2019"), 2024, recorded={"ha-tinh-365-2019"}) == list(range(2019, 2025))


def test_the_monthly_broadcast_is_monthly_and_annual_tasks_fall_due_each_year() -> None:
    dong_nai = plan("dong-nai-175-2022")
    assert dong_nai.task("III.12").recurrence == Recurrence.monthly
    assert dong_nai.task("III.14").due_in(2023) == date(2023, 11, 15)  # "trước ngày 15/11 hằng năm"
    assert dong_nai.task("III.9").due_in(2023) == date(2023, 12, 31)


def test_annual_task_instances_one_a_year_each_with_its_due_date_and_completion() -> None:
    years = task_years("gia-lai", "gia-lai-1109-2020", 2022)
    assert years == [2020, 2021, 2022]
    found = annual_instances("gia-lai", "gia-lai-1109-2020", "8", years, {"2020": "2020-11-30"})
    assert [(i.year, i.due_date, i.completed_on) for i in found] == [
        (2020, date(2020, 12, 31), date(2020, 11, 30)), (2021, date(2021, 12, 31), None),
        (2022, date(2022, 12, 31), None)]
    assert [i.status(date(2022, 6, 1)) for i in found] == ["completed", "overdue", "open"]
    assert [i.status(date(2021, 12, 31)) for i in found[:2]] == ["completed", "open"]  # due on the day itself


def test_a_completion_counts_for_its_period_or_else_the_year_it_was_done() -> None:
    assert completion_year("2021", date(2022, 1, 10)) == "2021"
    assert completion_year("2021-H1", date(2021, 6, 1)) == "2021"
    assert completion_year(None, date(2022, 1, 10)) == "2022"


def test_a_task_of_a_plan_the_reference_does_not_hold_runs_from_its_first_year() -> None:
    assert task_years("gia-lai", "khac-2023", 2025, first_year=2023) == [2023, 2024, 2025]
    assert task_years("gia-lai", "khac-2023", 2025) == [2025]
    [instance] = annual_instances("gia-lai", "khac-2023", "1", [2025], None)
    assert instance.due_date == date(2025, 12, 31)


def test_a_plan_is_recorded_by_its_id_or_its_number() -> None:
    from schemas.reference.duties import recorded_plans

    assert recorded_plans("ha-tinh", [("ha-tinh-53-2021", None), ("khac", "365/KH-UBND")]) == {
        "ha-tinh-53-2021", "ha-tinh-365-2019"}
    assert recorded_plans("ha-tinh", [("khac", "999/KH-UBND")]) == set()
    assert recorded_plans("kon-tum", [("ha-tinh-53-2021", "53/KH-UBND")]) == set()  # another province's
