"""The README's "Try it" runs as written, as a newcomer types it, against a system of its own (started
here in place of its `./scripts/up &` line): the demo runs, the curl publish is answered 202 and the
difficulty is listed, the official it adds signs in, and the dashboard page is served."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import new_system

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[2] / "README.md"
STARTING = ("export DOINGOAI_DATA_DIR=", "./scripts/up &")
"""The lines that start the system: the test starts one of its own instead."""


def try_it_script(http_port: int) -> str:
    """The README's "Try it" block without its start-up lines, pointed at the test's system and venv."""
    section = README.read_text(encoding="utf-8").split("\n## Try it\n", 1)[1]
    block = re.search(r"^```bash\n(.*?)^```$", section, re.M | re.S)
    assert block is not None, "README.md: no bash block under Try it"
    lines = [line for line in block[1].splitlines() if not line.startswith(STARTING)]
    assert len(lines) < len(block[1].splitlines()), "the Try it block no longer starts the system as expected"
    script = "\n".join(lines) + "\n"
    venv_bin = f"{Path(sys.executable).parent}/"
    return script.replace("localhost:8080", f"127.0.0.1:{http_port}").replace(".venv/bin/", venv_bin)


def test_the_readme_try_it_runs_as_written(tmp_path_factory: pytest.TempPathFactory):
    system = new_system(tmp_path_factory.mktemp("try-it"), DOINGOAI_ESCALATIONS="false").start()
    try:
        workdir = tmp_path_factory.mktemp("newcomer")
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", try_it_script(system.http_port)], cwd=workdir,
                              env=system.env(), capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
        answer = re.search(r'^\{"id":"[^"]+","sequence":\d+,"duplicate":false\}$', done.stdout, re.M)
        assert answer is not None, done.stdout[-3000:]
        stored = json.loads(answer[0])
        # the difficulty the curl published is what the next curl of the block listed
        assert f'"difficulty_id":"{stored["id"]}"' in done.stdout
        assert system.get(f"/api/events/{stored['id']}").json()["sequence"] == stored["sequence"]
        # the official the block added signs in with the password it gave
        signed_in = httpx.post(f"{system.http}/login", json={"username": "tran.thi.binh",
                                                             "password": "mật khẩu đủ dài"}, timeout=30)
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json()["name"] == "Trần Thị Bình"
        page = httpx.get(f"{system.http}/", timeout=30)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    finally:
        system.stop()
