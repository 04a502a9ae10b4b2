"""One bad row planted in the read model (a difficulty raised on 31/12/9999 at 20:00 UTC, already
year 10000 in Việt Nam; another at 0001-01-01 00:00+07, a moment Python cannot hold) does not stop
the escalations of the good causes in two provinces, nor the consolidated report of its province."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from structlog.testing import capture_logs

from schemas.codec import encode
from services.db import make_engine
from services.escalations.clock import MovableClock
from services.escalations.service import EscalationService
from tests.support import System, new_system, sample

pytestmark = pytest.mark.integration
VN = ZoneInfo("Asia/Ho_Chi_Minh")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PLANT = text("""
    INSERT INTO difficulties (difficulty_id, province, agency, topic, severity, beyond_authority, status, state,
                              raised_at, updated_at, last_seq)
    VALUES (:id, :province, 'so-noi-vu', :topic, 'high', :beyond, 'raised',
            CAST(:state AS jsonb), CAST(CAST(:at AS text) AS timestamptz), now(), 0)""")
BAD = {"ha-tinh": ("bad-9999", "9999-12-31T20:00:00+00:00", True),
       "kon-tum": ("bad-0001", "0001-01-01T00:00:00+07:00", False)}


def vn(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=VN)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """A system whose own escalation service is off: the test drives one with a movable clock."""
    system = new_system(tmp_path_factory.mktemp("bad-rows"), DOINGOAI_ESCALATIONS="false").start()
    yield system
    system.stop()


def post(system: System, creds: dict, event) -> int:
    r = httpx.post(f"{system.http}/events", content=encode(event), headers={
        "content-type": "application/cloudevents+json", "authorization": f"Bearer {creds['token']}"})
    assert r.status_code == 202, r.text
    return r.json()["sequence"]


def report(system: System, province: str, **params: str) -> httpx.Response:
    """The report's download, read as an auditor of the province."""
    return system.get("/api/reports/consolidated.docx", province=province, timeout=60, **params)


def difficulty_topics(body: bytes) -> list[str]:
    for table in docx.Document(io.BytesIO(body)).tables:
        rows = [[c.text for c in row.cells] for row in table.rows]
        if rows[0][:3] == ["TT", "Cơ quan, đơn vị", "Nội dung"]:
            return [r[2] for r in rows[1:]]
    raise AssertionError("no difficulty table")


async def test_a_planted_bad_row_is_parked_and_the_good_causes_of_two_provinces_still_escalate(stack: System):
    last = 0
    for province in ("ha-tinh", "kon-tum"):
        creds = stack.credentials(province, "so-noi-vu")
        event = sample("difficulty_raised", province=province, agency="so-noi-vu", aggregate_id=f"good-{province}",
                       data={"topic": f"Thủ tục cấp thị thực ({province})"})
        last = post(stack, creds, event.model_copy(update={"time": vn("2026-05-04T09:00:00")}))
    stack.wait_projected(last)

    engine = make_engine(stack.runtime()["database_url"], pool_size=2)
    nc = await stack.service_nats()
    try:
        async with engine.begin() as conn:
            for province, (difficulty_id, at, beyond) in BAD.items():
                state = {"status": "raised", "raised_at": at, "beyond_authority": beyond}
                await conn.execute(PLANT, {"id": difficulty_id, "province": province, "at": at, "beyond": beyond,
                                           "topic": f"Hàng bất thường {difficulty_id}", "state": json.dumps(state)})
        clock = MovableClock(vn("2026-05-07T08:00:00"))  # the good ones were due by the end of Wed 06/05
        service = EscalationService(nc, engine, clock)
        before = REGISTRY.get_sample_value("doingoai_escalation_causes_parked_total",
                                           {"trigger": "difficulty_unacknowledged"}) or 0.0
        with capture_logs() as logs:
            published = await service.tick()
        raised = sorted((e.source, e.data["cause_subject"], e.data["level"]) for e in published
                        if e.type.endswith("escalation_raised.v1"))
        assert raised == [("/provinces/ha-tinh/agencies/doingoai", "difficulty/good-ha-tinh", 1),
                          ("/provinces/kon-tum/agencies/doingoai", "difficulty/good-kon-tum", 1)]
        parked = {(e["key"], e["trigger"], e["province"]) for e in logs if e["event"] == "escalations.cause_parked"}
        # the raiser's beyond_authority flag of bad-9999 is its view only: no cause of it to park
        assert parked == {("ha-tinh:difficulty/bad-9999:ack", "difficulty_unacknowledged", "ha-tinh"),
                          ("kon-tum:difficulty/bad-0001:ack", "difficulty_unacknowledged", "kon-tum")}
        assert not any(e["event"] == "escalations.tick_failed" for e in logs)
        assert REGISTRY.get_sample_value("doingoai_escalation_causes_parked_total",
                                         {"trigger": "difficulty_unacknowledged"}) >= before + 2

        stack.wait_projected((await nc.jetstream().stream_info("DOINGOAI_EVENTS")).state.last_seq)
        for province in ("ha-tinh", "kon-tum"):
            open_now = stack.get("/api/escalations", province=province, status="open").json()["items"]
            assert f"difficulty/good-{province}" in {r["cause_subject"] for r in open_now}
        assert await service.tick() == []  # the next tick publishes nothing twice and still parks the bad ones
    finally:
        await nc.close()
        await engine.dispose()

    for province in ("ha-tinh", "kon-tum"):
        with capture_logs():
            r = report(stack, province=province, period="2026-H1", date="2026-05-07")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == DOCX
        topics = difficulty_topics(r.content)
        assert f"Thủ tục cấp thị thực ({province})" in topics
        assert not any(t.startswith("Hàng bất thường") for t in topics)


def test_the_command_line_report_of_the_province_with_the_bad_row_is_written(stack: System, tmp_path: Path):
    out = tmp_path / "ha-tinh.docx"
    done = stack.cli("report", "--province", "ha-tinh", "--period", "2026-H1", "--date", "2026-05-07",
                     "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "Thủ tục cấp thị thực (ha-tinh)" in difficulty_topics(out.read_bytes())
    assert "report.row_left_out" in done.stderr and "bad-9999" in done.stderr


def test_a_period_or_date_out_of_range_is_a_400_naming_the_parameter_and_exit_code_2(stack: System, tmp_path: Path):
    for params, path, says in (({"period": "9999-H1"}, "query.period", "between 1900 and 2100"),
                               ({"period": "0001"}, "query.period", "between 1900 and 2100"),
                               ({"period": "2021-H1", "date": "9999-12-31"}, "query.date", "between 1900-01-01"),
                               ({"period": "2021-H1", "date": "0001-01-01"}, "query.date", "between 1900-01-01")):
        r = report(stack, province="ha-tinh", **params)
        assert r.status_code == 400, r.text
        [problem] = r.json()["problems"]
        assert problem["path"] == path and says in problem["message"]
    for args in (("--period", "9999-H1"), ("--period", "2021-H1", "--date", "9999-12-31")):
        done = stack.cli("report", "--province", "ha-tinh", *args, "--out", str(tmp_path / "x.docx"))
        assert done.returncode == 2 and "between" in done.stderr and "Traceback" not in done.stderr
        assert not (tmp_path / "x.docx").exists()
