"""What happens in each province of the demo, drawn from the seed plans."""

from __future__ import annotations

from datetime import date

from schemas.reference import plan
from services.demo.scenario import (
    SNGV,
    Builder,
    agencies_of,
    answer,
    at,
    bound,
    partner_ref,
    registry_and_plans,
    reports,
    request,
    returned_and_resent,
)


def exchange(
    b: Builder,
    title: str,
    day: date,
    partner: str,
    n: int,
    kind: str = "friendship_exchange",
    agency: str = SNGV,
    v1: bool = False,
) -> None:
    common = {
        "title": title,
        "kind": kind,
        "start_date": day.isoformat(),
        "end_date": day.isoformat(),
        "location": "Trung tâm tỉnh",
        "lead_agency": agency,
        "participants": n,
        "foreign_participants": n // 5,
    }
    if v1:  # an agency system still on version 1 of activity_held
        b.add(agency, "activity_held", {**common, "partner": partner_ref(partner)}, at(day), f"{partner}-{day}")
    else:
        b.add(
            agency,
            "activity_held",
            {**common, "partners": [partner_ref(partner)]},
            at(day),
            f"{partner}-{day}",
            version=2,
            via="nats",
        )


def delegation_in(b: Builder, partner: str, day: date, head: str, size: int, purpose: str) -> None:
    b.add(
        SNGV,
        "delegation_received",
        {
            "partner": partner_ref(partner),
            "head": {"name": head},
            "size": size,
            "arrival_date": day.isoformat(),
            "departure_date": date.fromordinal(day.toordinal() + 2).isoformat(),
            "purpose": purpose,
            "host_agency": SNGV,
        },
        at(day),
        f"in-{partner}-{day}",
    )


def delegation_out(b: Builder, partner: str, day: date, head: str, size: int, purpose: str) -> None:
    b.add(
        SNGV,
        "delegation_sent",
        {
            "destination": partner_ref(partner),
            "head": {"name": head},
            "size": size,
            "departure_date": day.isoformat(),
            "return_date": date.fromordinal(day.toordinal() + 3).isoformat(),
            "purpose": purpose,
            "sending_agency": SNGV,
        },
        at(day),
        f"out-{partner}-{day}",
    )


def difficulty(b: Builder, agency: str, key: str, day: date, topic: str, beyond: bool, steps: int) -> None:
    subject = f"{b.province}-{key}"
    b.add(
        agency,
        "difficulty_raised",
        {"topic": topic, "description": topic, "severity": "high" if beyond else "medium", "beyond_authority": beyond},
        at(day),
        subject,
    )
    if steps >= 1:
        b.add(
            SNGV,
            "difficulty_acknowledged",
            {"acknowledged_on": day.isoformat(), "handler": SNGV, "within_authority": not beyond},
            at(day, 15),
            subject,
        )
    if steps >= 2 and not beyond:
        b.add(
            SNGV,
            "guidance_issued",
            {
                "issued_by": SNGV,
                "issued_on": day.isoformat(),
                "guidance": "Hướng dẫn thực hiện theo quy định hiện hành",
            },
            at(day, 16),
            subject,
        )
    if steps >= 2 and beyond:
        b.add(
            SNGV,
            "difficulty_escalated",
            {
                "escalated_to": "ubnd-tinh",
                "escalated_on": day.isoformat(),
                "reason": "Vượt thẩm quyền của Sở Ngoại vụ",
                "proposal": "Đề nghị UBND tỉnh xem xét, quyết định",
            },
            at(day, 16),
            subject,
        )


def ha_tinh() -> Builder:
    b = Builder("ha-tinh")
    registry_and_plans(b)
    delegation_in(
        b, "bolykhamxay", date(2021, 3, 22), "Phó Tỉnh trưởng tỉnh Bolykhamxay", 15, "Hội đàm hợp tác năm 2021"
    )
    delegation_out(
        b,
        "khammouane",
        date(2021, 4, 12),
        "Phó Chủ tịch UBND tỉnh Hà Tĩnh",
        10,
        "Dự lễ kỷ niệm và ký kết biên bản hợp tác",
    )
    exchange(b, "Giao lưu hữu nghị nhân dân Hà Tĩnh - Bolykhamxay", date(2021, 3, 26), "bolykhamxay", 150, v1=True)
    exchange(
        b,
        "Hội nghị xúc tiến đầu tư với Mecklenburg-Vorpommern",
        date(2021, 5, 10),
        "mecklenburg-vorpommern",
        80,
        kind="investment_promotion",
    )
    b.add(
        SNGV,
        "agreement_signed",
        {
            "title": "Biên bản ghi nhớ hợp tác giai đoạn 2021-2025",
            "kind": "memorandum_of_understanding",
            "partner": partner_ref("bolykhamxay"),
            "signed_on": "2021-03-23",
            "signatory_agency": "ubnd-tinh",
            "signed_by": {"name": "Chủ tịch UBND tỉnh"},
        },
        at(date(2021, 3, 23)),
        "mou-bolykhamxay-2021",
    )
    b.add(
        "so-ke-hoach-dau-tu",
        "aid_committed",
        {
            "donor": partner_ref("ipm-nhat-ban"),
            "title": "Dự án hỗ trợ nông nghiệp bền vững",
            "aid_kind": "project",
            "sector": "agriculture",
            "amount": "250000",
            "currency": "USD",
            "recipient_agency": "so-nong-nghiep-phat-trien-nong-thon",
            "appraising_agency": "so-ke-hoach-dau-tu",
            "approval": {"number": "120/QĐ-UBND", "issued_on": "2021-04-20"},
            "start_date": "2021-05-01",
        },
        at(date(2021, 4, 20)),
        "aid-ipm-2021",
    )
    # plan 53/KH-UBND: the units' 6-month reports are due before 25/5; one sent in time is returned
    # for correction and sent again after the deadline, which makes it late
    reports(b, "2021-H1", on_time=6, late=4)
    returned_and_resent(b, bound("ha-tinh", "2021-H1")[0].agency, "2021-H1", date(2021, 5, 27), date(2021, 6, 2))
    difficulty(
        b,
        "so-van-hoa-the-thao-du-lich",
        "d1",
        date(2021, 4, 5),
        "Thủ tục đón đoàn nghệ thuật nước ngoài",
        beyond=False,
        steps=2,
    )
    difficulty(
        b, "ubnd-huyen-huong-son", "d2", date(2021, 5, 14), "Quản lý cư dân qua lại biên giới", beyond=True, steps=2
    )
    b.add(
        SNGV,
        "information_shared",
        {
            "topic": "Tình hình tỉnh Bolykhamxay quý I/2021",
            "kind": "partner",
            "content": "Thông tin về tình hình kinh tế - xã hội tỉnh bạn",
            "recipients": agencies_of("ha-tinh", 3),
            "acknowledgement_requested": True,
            "respond_by": "2021-04-10",
        },
        at(date(2021, 4, 1)),
        "info-bolykhamxay-q1",
    )
    b.add(
        agencies_of("ha-tinh", 1)[0],
        "information_acknowledged",
        {"agency": agencies_of("ha-tinh", 1)[0], "acknowledged_by": {"name": "Chánh Văn phòng"}},
        at(date(2021, 4, 2)),
        "info-bolykhamxay-q1",
    )
    return b


def kon_tum() -> Builder:
    b = Builder("kon-tum")
    registry_and_plans(b)
    delegation_in(b, "attapeu", date(2021, 2, 26), "Phó Tỉnh trưởng tỉnh Attapeu", 12, "Trao đổi hợp tác biên giới")
    delegation_out(b, "ratanakiri", date(2021, 4, 5), "Phó Chủ tịch UBND tỉnh Kon Tum", 9, "Hội đàm định kỳ")
    exchange(b, "Kết nghĩa cụm dân cư hai bên biên giới", date(2021, 3, 12), "attapeu", 120, kind="border_twinning")
    # plan 3291/KH-UBND binds no unit to periodic reports: SNgV asks three of them for an ad hoc report,
    # and reports to the UBND itself ("định kỳ", no date)
    asked = ["bo-chi-huy-bien-phong", "cong-an-tinh", "ubnd-huyen-ngoc-hoi"]
    title = "Báo cáo đột xuất tình hình giao lưu, kết nghĩa cụm dân cư biên giới quý I/2021"
    request(b, "kon-tum-bien-gioi-2021-q1", title, "2021-H1", date(2021, 3, 29), date(2021, 4, 9), asked)
    for n, agency in enumerate(asked):
        answer(b, agency, "kon-tum-bien-gioi-2021-q1", title, "2021-H1", date(2021, 4, 5 + n))
    b.add(SNGV, "report_submitted", {"report_kind": "semiannual", "period": "2021-H1", "submitted_on": "2021-06-25",
                                     "title": "Báo cáo kết quả công tác đối ngoại nhân dân 6 tháng đầu năm 2021",
                                     "document_number": "95/BC-SNgV"}, at(date(2021, 6, 25), 14),
          "kon-tum-so-ngoai-vu-2021-H1")
    difficulty(b, "bo-chi-huy-bien-phong", "d1", date(2021, 3, 3), "Kinh phí tổ chức giao lưu biên giới", False, 1)
    return b


def gia_lai() -> Builder:
    b = Builder("gia-lai")
    registry_and_plans(b)
    for i, (task_id, _) in enumerate(plan("gia-lai-1109-2020").task_events()):
        if i < 3:
            b.add(
                SNGV,
                "task_progress_reported",
                {
                    "agency": SNGV,
                    "reported_on": "2020-06-15",
                    "status": "on_track",
                    "summary": "Đang triển khai theo kế hoạch",
                    "progress_percent": 40 + 10 * i,
                },
                at(date(2020, 6, 15)),
                task_id,
            )
    # the plan names no date: the province's configured default (20/06) applies
    reports(b, "2020-H1", on_time=4, late=3)
    # "Hàng năm": the training of 2020 is done; the propaganda of 2020 (task 5) is not
    task_id = plan("gia-lai-1109-2020").task_id("8")
    b.add(SNGV, "task_completed", {"agency": SNGV, "completed_on": "2020-11-20", "period": "2020",
                                   "result": "Tổ chức 02 lớp tập huấn kỹ năng đối ngoại nhân dân"},
          at(date(2020, 11, 20)), task_id)
    return b


def dong_nai() -> Builder:
    b = Builder("dong-nai")
    registry_and_plans(b)
    reports(b, "2022", on_time=5, late=2)  # "trước ngày 15/11 hằng năm"
    task_id = plan("dong-nai-175-2022").task_id("III.9")
    b.add("so-tai-chinh", "task_completed", {"agency": "so-tai-chinh", "completed_on": "2022-12-20", "period": "2022",
                                             "result": "Đã tham mưu cấp kinh phí đối ngoại nhân dân năm 2022"},
          at(date(2022, 12, 20)), task_id)
    return b


def scenario() -> list:  # type: ignore[type-arg]
    return [step for build in (ha_tinh, kon_tum, gia_lai, dong_nai) for step in build().steps]
