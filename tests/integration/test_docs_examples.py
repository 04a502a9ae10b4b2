"""The integration guide's examples (docs/examples) run as an agency developer runs them, against the
real stack, with what `doingoai credentials issue` prints: the event (built with the CloudEvents SDK, or
written out for curl) is accepted (HTTP 202, or a JetStream acknowledgement) and is readable afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import System

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
AGENCY = "ubnd-huyen-nghi-xuan"


def run_example(system: System, name: str, tmp_path: Path) -> dict[str, Any]:
    """Run docs/examples/`name` with a fresh agency credential file; its one line of JSON output."""
    creds = tmp_path / "cred.json"
    creds.write_text(json.dumps(system.credentials("ha-tinh", AGENCY)))
    done = subprocess.run([sys.executable, str(EXAMPLES / name), str(creds)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


def read_event(system: System, event_id: str, timeout: float = 60) -> dict[str, Any]:
    """GET /api/events/{id} as an auditor of the province, once the projection has indexed it."""
    deadline = time.monotonic() + timeout
    while (found := system.get(f"/api/events/{event_id}")).status_code == 404:
        assert time.monotonic() < deadline, f"event {event_id} never became readable"
        time.sleep(0.2)
    assert found.status_code == 200, found.text
    return found.json()  # type: ignore[no-any-return]


def test_the_http_example_posts_a_cloudevent_that_is_stored_and_read_back(system: System, tmp_path: Path):
    out = run_example(system, "publish_http.py", tmp_path)
    assert out["duplicate"] is False and out["sequence"] > 0
    # what the example read back with the agency's own token is the event it stored
    read_back = out["read_back"]
    assert read_back["sequence"] == out["sequence"]
    assert read_back["event"]["id"] == out["id"]
    assert read_back["event"]["source"] == f"/provinces/ha-tinh/agencies/{AGENCY}"
    assert read_back["event"]["type"] == "vn.gov.doingoai.difficulty_raised.v1"
    # and another reader of the province finds it, projected into the difficulties it raised
    stored = read_event(system, out["id"])
    assert stored["sequence"] == out["sequence"]
    subject = stored["event"]["subject"]
    system.wait_projected(out["sequence"])
    rows = system.get("/api/difficulties", province="ha-tinh").json()["items"]
    raised = [r for r in rows if f"difficulty/{r['difficulty_id']}" == subject]
    assert len(raised) == 1, rows
    assert raised[0]["agency"] == AGENCY and raised[0]["topic"] == "Thủ tục cấp phép hội thảo quốc tế"


def test_the_curl_example_posts_an_event_that_is_stored(system: System):
    creds = system.credentials("ha-tinh", AGENCY)
    env = {**os.environ, "DOINGOAI_URL": creds["http"], "DOINGOAI_TOKEN": creds["token"]}
    done = subprocess.run(["bash", str(EXAMPLES / "publish_curl.sh"), "ha-tinh", AGENCY], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    out = json.loads(done.stdout)
    assert out["duplicate"] is False
    stored = read_event(system, out["id"])
    assert stored["sequence"] == out["sequence"]
    assert stored["event"]["data"]["topic"] == "Thủ tục cấp phép hội thảo quốc tế"


def test_the_nats_example_publishes_a_cloudevent_that_is_stored_and_projected(system: System, tmp_path: Path):
    out = run_example(system, "publish_nats.py", tmp_path)
    assert out["source"] == f"/provinces/ha-tinh/agencies/{AGENCY}"
    stored = read_event(system, out["id"])
    assert stored["sequence"] == out["sequence"]
    assert stored["event"]["type"] == "vn.gov.doingoai.difficulty_raised.v1"
    assert stored["event"]["data"]["severity"] == "high"
    assert stored["event"]["time"].endswith("+07:00"), stored["event"]["time"]
