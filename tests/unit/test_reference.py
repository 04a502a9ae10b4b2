"""Reference data drawn from the seed plans loads into typed models and agrees with itself."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from schemas import reference
from schemas.authority import UBND
from schemas.codec import decode, encode, new_event
from schemas.common import ReportKind
from schemas.reference import AgencyKind, UnknownReference

pytestmark = pytest.mark.unit

PROVINCES = ["ha-tinh", "kon-tum", "gia-lai", "dong-nai"]
ISSUED_AT = datetime(2021, 1, 4, 8, 0, tzinfo=timezone(timedelta(hours=7)))


def test_the_four_seed_provinces_are_listed() -> None:
    assert [p.slug for p in reference.provinces()] == PROVINCES
    assert reference.province("kon-tum").border_countries == ["LA", "KH"]


@pytest.mark.parametrize("province", PROVINCES)
def test_every_province_has_its_ubnd_and_focal_agency(province: str) -> None:
    """The UBND is `ubnd-tinh` and SNgV is `so-ngoai-vu` (the focal agency) in every province."""
    assert reference.agency(province, "ubnd-tinh").kind == AgencyKind.ubnd
    assert reference.agency(province, "so-ngoai-vu").kind == AgencyKind.focal
    assert reference.province(province).focal_agency == "so-ngoai-vu"
    districts = [a for a in reference.agencies(province) if a.kind == AgencyKind.district]
    assert len(districts) >= 10


@pytest.mark.parametrize("province", PROVINCES)
def test_every_province_configures_the_office_that_receives_sngv_s_proposals(province: str) -> None:
    """The top level of escalations is the UBND tỉnh's office: it may speak for the UBND (decide)."""
    office = reference.ubnd_office(province)
    assert office == "van-phong-ubnd-tinh"
    assert office in UBND


def test_an_office_that_is_not_the_ubnd_or_its_office_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = reference.province("ha-tinh").model_copy(update={"ubnd_office": "so-tu-phap"})
    monkeypatch.setattr(reference, "province", lambda slug: wrong)
    with pytest.raises(ValueError, match="so-tu-phap"):
        reference.ubnd_office("ha-tinh")


@pytest.mark.parametrize("province", PROVINCES)
def test_reporting_agencies_exclude_ubnd_sngv_and_groups(province: str) -> None:
    slugs = {a.slug for a in reference.reporting_agencies(province)}
    assert {"ubnd-tinh", "so-ngoai-vu", "cac-so-ban-nganh", "ubnd-cap-huyen"}.isdisjoint(slugs)
    assert {"so-noi-vu", "so-tu-phap", "cong-an-tinh"} <= slugs


def test_gia_lai_plan_has_its_nine_tasks_with_lead_agencies() -> None:
    """Seed 004: nine tasks, each with lead agencies, coordinating agencies and a timeframe."""
    [plan] = reference.plans("gia-lai")
    assert plan.slug == "gia-lai-1109-2020"
    assert [t.number for t in plan.tasks] == [str(n) for n in range(1, 10)]
    assert all(t.lead_agencies and t.coordinating_agencies and t.timeframe for t in plan.tasks)
    assert plan.task("2").due_date == date(2020, 6, 30)
    assert plan.task("2").expected_result == "Quy chế phối hợp được ban hành"
    assert plan.task("6").lead_agencies == ["so-noi-vu", "ubnd-cap-huyen"]
    assert plan.task("7").recurrence == "periodic_or_ad_hoc"
    assert sum(t.expected_result is not None for t in plan.tasks) == 8


def test_ha_tinh_365_plan_is_loaded() -> None:
    plan = reference.plan("ha-tinh-365-2019")
    assert plan.number == "365/KH-UBND" and plan.issued_on == date(2019, 10, 25)
    assert any("1109/QĐ-TTg" in basis for basis in plan.legal_basis)
    assert {"II.1", "II.4", "III.1", "III.5"} <= {t.number for t in plan.tasks}


@pytest.mark.parametrize("plan", reference.plans(), ids=lambda p: p.slug)
def test_plan_tasks_name_only_known_agencies_and_become_valid_events(plan: reference.Plan) -> None:
    """Every slug a task names is an agency of the plan's province; every task is a valid task_assigned."""
    known = {a.slug for a in reference.agencies(plan.province)}
    for task in plan.tasks:
        assert set(task.lead_agencies) | set(task.coordinating_agencies) <= known, task.number
    events = plan.task_events()
    assert len(events) == len(plan.tasks)
    for aggregate_id, payload in events:
        envelope = new_event(
            payload,
            province=plan.province,
            agency="so-ngoai-vu",
            aggregate_id=aggregate_id,
            time=ISSUED_AT,
        )
        assert decode(encode(envelope)).data == payload


def test_only_gia_lai_configures_default_deadlines() -> None:
    """Where a plan names no date, only a province's configured default gives one (Gia Lai's)."""
    assert str(reference.default_deadline("gia-lai", ReportKind.semiannual).due) == "20/06"  # type: ignore[union-attr]
    assert str(reference.default_deadline("gia-lai", ReportKind.annual).due) == "20/12"  # type: ignore[union-attr]
    for province in ("ha-tinh", "kon-tum", "dong-nai"):
        assert reference.default_deadline(province, ReportKind.annual) is None


def test_decree_09_data_windows() -> None:
    """6-month: 15/12 of the previous year to 14/6; annual: 15/12 of the previous year to 14/12."""
    assert reference.data_window("2021-H1") == (date(2020, 12, 15), date(2021, 6, 14))
    assert reference.data_window("2021") == (date(2020, 12, 15), date(2021, 12, 14))
    with pytest.raises(ValueError):
        reference.data_window("2021-H2")


def test_partners_named_by_the_seeds() -> None:
    ha_tinh = {p.slug for p in reference.partners("ha-tinh")}
    assert {"bolykhamxay", "khammouane", "mecklenburg-vorpommern", "pocheon"} <= ha_tinh
    assert {"ratanakiri", "stung-treng"} <= {p.slug for p in reference.partners("kon-tum")}
    assert reference.partner("mecklenburg-vorpommern").country == "DE"
    assert reference.partner("pocheon").to_ref().partner_id == "pocheon"
    for p in reference.partners():
        assert p.registered_event().slug == p.slug
        assert set(p.provinces) <= set(PROVINCES)


def test_unknown_keys_raise_unknown_reference() -> None:
    with pytest.raises(UnknownReference):
        reference.province("ha-noi")
    with pytest.raises(UnknownReference):
        reference.agency("ha-tinh", "so-khong-co")
    with pytest.raises(UnknownReference):
        reference.plan("khong-co")


def test_loaded_models_are_frozen() -> None:
    province = reference.province("ha-tinh")
    with pytest.raises(ValueError):
        province.name_vi = "khác"  # type: ignore[misc]
