"""Names in place of codes (agencies, plans, countries, partner kinds) and the Vietnamese order of names."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from schemas.reference import agencies, plan
from services.escalations.causes import difficulty_causes, information_causes, task_causes
from services.escalations.lifecycle import StepLimits
from services.names import (
    agency_name,
    country_name,
    partner_kind_name,
    plan_name,
    plan_number_label,
    plan_scope,
    vi_key,
    vi_sorted,
)
from services.queries.latest import period_of

pytestmark = pytest.mark.unit


def test_vietnamese_collation_puts_d_stroke_after_d_and_u_hook_among_the_us():
    names = ["Văn phòng Tỉnh ủy", "Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh", "UBND huyện Vũ Quang", "Sở Y tế",
             "UBND huyện Đức Thọ", "UBND huyện Can Lộc", "Thanh tra tỉnh", "UBND huyện Cẩm Xuyên", "Đài Phát thanh",
             "Dân vận"]
    ordered = vi_sorted(names)
    assert ordered.index("UBND huyện Đức Thọ") < ordered.index("UBND huyện Vũ Quang")
    assert ordered.index("UBND huyện Can Lộc") < ordered.index("UBND huyện Cẩm Xuyên")  # a < ă < â
    assert ordered.index("Dân vận") < ordered.index("Đài Phát thanh") < ordered.index("Sở Y tế")  # d < đ < s
    u_names = [n for n in ordered if n[0] in "UỦ"]
    assert ordered[ordered.index(u_names[0]):ordered.index(u_names[-1]) + 1] == u_names  # the U's together
    assert ordered.index("Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh") < ordered.index("Văn phòng Tỉnh ủy")
    assert vi_key("Uy") < vi_key("Ưu")  # ư is a letter of its own, after u


def test_country_names_come_from_cldr_with_vietnamese_official_forms():
    assert [country_name(c) for c in ("LA", "KH", "JP", "DE", "KR")] == [
        "Lào", "Campuchia", "Nhật Bản", "Đức", "Hàn Quốc"]
    assert country_name("TW") == "Đài Loan (Trung Quốc)"
    assert (country_name("CA"), country_name("IL")) == ("Ca-na-đa", "I-xra-en")
    assert country_name("NL") == "Hà Lan"  # any CLDR territory, not a hand list
    assert country_name("ZZ9") == "ZZ9" and country_name(None) == ""


def test_partner_kinds_and_agencies_have_vietnamese_names():
    assert (partner_kind_name("locality"), partner_kind_name("organisation")) == ("Địa phương", "Tổ chức")
    assert agency_name("ha-tinh", "so-noi-vu") == "Sở Nội vụ"
    assert agency_name("ha-tinh", "cac-truong-dai-hoc-cao-dang") == "Các trường Đại học, Cao đẳng trên địa bàn tỉnh"
    assert agency_name("ha-tinh", "khong-co") == "khong-co"  # not in the reference data: shown as it is


def test_plans_are_named_by_number_and_title_and_carry_their_scope():
    assert plan_name("ha-tinh-53-2021") == "Kế hoạch số 53/KH-UBND “Hoạt động đối ngoại và hội nhập quốc tế năm 2021”"
    gia_lai = plan_name("gia-lai-1109-2020", limit=60)
    assert gia_lai.startswith("Kế hoạch năm 2020 “Triển khai Quyết định số 1109/QĐ-TTg") and gia_lai.endswith("…”")
    assert plan_number_label(None, None, 2020) == "Kế hoạch năm 2020"
    assert plan_scope("ha-tinh-53-2021") == "đối ngoại và hội nhập quốc tế"
    assert plan_scope("ha-tinh-365-2019") == plan_scope("gia-lai-1109-2020") == "đối ngoại nhân dân"
    assert plan("ha-tinh-53-2021").scope == "đối ngoại và hội nhập quốc tế"


def test_escalation_messages_name_agencies_and_plans_not_their_codes():
    info = SimpleNamespace(province="ha-tinh", info_id="i1", respond_by=date(2021, 4, 10), topic="Tình hình",
                           recipients=["so-noi-vu", "cong-an-tinh"], acknowledged=[])
    task = SimpleNamespace(task_id="gia-lai-1109-2020-2", province="gia-lai", due_date=date(2020, 6, 30),
                           lead_agencies=["so-ngoai-vu"], status="assigned", task_number="2",
                           plan_id="gia-lai-1109-2020", plan_number=None, title="Xây dựng Quy chế phối hợp")
    state = {"status": "raised", "raised_at": datetime(2021, 3, 1, 2, tzinfo=UTC).isoformat(),
             "beyond_authority": True}
    difficulty = SimpleNamespace(difficulty_id="d1", province="kon-tum", topic="Kinh phí",
                                 agency="bo-chi-huy-bien-phong", state=state)
    messages = [c.message for c in information_causes([info]).causes + task_causes([task]).causes
                + difficulty_causes([difficulty], StepLimits()).causes]
    assert messages[0].startswith("Sở Nội vụ chưa xác nhận") and messages[1].startswith("Công an tỉnh chưa xác nhận")
    assert messages[2].startswith("Nhiệm vụ 2 của Kế hoạch năm 2020 “Triển khai Quyết định số 1109/QĐ-TTg")
    assert all("của Bộ Chỉ huy Bộ đội Biên phòng tỉnh" in m for m in messages[3:]) and len(messages) > 3
    slugs = {a.slug for p in ("ha-tinh", "gia-lai", "kon-tum") for a in agencies(p)} | {"gia-lai-1109-2020"}
    assert not [(s, m) for m in messages for s in slugs if s in m]


def test_the_period_of_a_day_is_the_report_whose_data_window_holds_it():
    """Decree 09/2019: 15/12 of the year before to 14/6 is the 6-month report's, 15/6 to 14/12 the annual's."""
    assert [period_of(date(y, m, d)) for y, m, d in ((2021, 3, 23), (2020, 12, 15), (2021, 6, 14), (2021, 6, 15),
                                                      (2021, 12, 14))] == ["2021-H1", "2021-H1", "2021-H1", "2021",
                                                                           "2021"]
