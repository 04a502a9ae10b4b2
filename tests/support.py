"""Start `doingoai up` as a user would, on a private data directory, for integration tests."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.client import Client

from projections.engine.partitions import is_province, province_filter
from schemas.base import registry
from schemas.codec import new_event
from schemas.envelope import CloudEvent
from schemas.export import example_of
from services.embedded.nats import EmbeddedNats, nats_server_binary
from services.embedded.ports import free_port, is_listening, stop_pid, stop_process
from services.embedded.postgres import EmbeddedPostgres, postgres_secret
from services.natsauth import SERVICES_INBOX_PREFIX
from services.store import EVENTS_STREAM
from tests.launcher import Launcher

CLI = Launcher()
"""Where `System.cli` runs its commands (tests/launcher.py); tests/conftest.py stops it at the end."""
RUNNING: list[System] = []
"""Every System started and not yet stopped: the session's last finalizer stops what a failed
fixture or test left running (tests/conftest.py)."""


class PostgresTemplate:
    """A PostgreSQL cluster made by `initdb` and migrated to the newest revision once per test session
    (in `base`, which tests/conftest.py sets), copied into the data directory of each system
    `new_system` makes: `up` then finds a cluster of its own, with its password, and only starts it."""

    base: Path | None = None
    _lock = threading.Lock()

    @classmethod
    def seed(cls, data_dir: Path) -> None:
        """Copy the cluster and its password into `data_dir` (made once, on first use)."""
        if cls.base is None or (data_dir / "postgres").exists() or (data_dir / "secrets").exists():
            return
        with cls._lock:
            if not (cls.base / "postgres" / "PG_VERSION").exists():
                cls._make(cls.base)
        data_dir.mkdir(parents=True, exist_ok=True)
        # cp -a: the cluster keeps its owner (the server runs as another user when the tests run as root)
        subprocess.run(["cp", "-a", str(cls.base / "postgres"), str(data_dir / "postgres")], check=True)
        subprocess.run(["cp", "-a", str(cls.base / "secrets"), str(data_dir / "secrets")], check=True)

    @staticmethod
    def _make(base: Path) -> None:
        from services.db.migrate import migrate

        shutil.rmtree(base, ignore_errors=True)
        made = base.with_name(base.name + "-making")
        shutil.rmtree(made, ignore_errors=True)
        postgres = EmbeddedPostgres(made)
        url = postgres.start()
        try:  # in a thread of its own: an async fixture may be running this
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, migrate(url)).result()
        finally:
            postgres.stop()
        postgres_secret(made)
        (made / "ports.json").unlink(missing_ok=True)
        made.rename(base)


@dataclass(eq=False)
class System:
    data_dir: Path
    http_port: int
    env_extra: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    """An auditor's token per province, issued on first use (every read needs a credential)."""
    from_template: bool = False
    """Whether a first start copies the session's migrated PostgreSQL cluster (`PostgresTemplate`)
    in place of `up` making one with initdb."""

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOINGOAI_")}
        # one HTTP process, unless a test asks for more (the default is two on two cores or more)
        env.update({"DOINGOAI_DATA_DIR": str(self.data_dir), "DOINGOAI_HTTP": self.http, "DOINGOAI_HTTP_WORKERS": "1",
                    **self.env_extra})
        return env

    def start(self, timeout: float = 90) -> System:
        """Start `up` and wait until it is healthy; if it does not get there, whatever it started is
        stopped before the error is raised (a fixture that fails to start leaves nothing running)."""
        if self.from_template:
            PostgresTemplate.seed(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "up.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "up"], env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )
        RUNNING.append(self)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"doingoai up exited; see {self.data_dir / 'up.log'}")
                try:
                    if httpx.get(f"{self.http}/healthz", timeout=1).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
            raise RuntimeError("doingoai up did not become healthy")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop `up`, and its PostgreSQL even if `up` could not (killed, or failed to start)."""
        if self in RUNNING:
            RUNNING.remove(self)
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if (self.data_dir / "postgres" / "postmaster.pid").exists():  # left running: stop it here
            postgres = EmbeddedPostgres(self.data_dir)
            postgres.started_here = True
            postgres.stop()
        if (self.data_dir / "nats").exists() and (pid := EmbeddedNats(self.data_dir).running_pid()) is not None:
            stop_pid(pid)  # a nats-server left by an `up` that was killed

    def runtime(self) -> dict[str, Any]:
        return json.loads((self.data_dir / "runtime.json").read_text())

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """`doingoai ARGS...` against this system, `input` (a password, say) on its standard input."""
        return CLI.run(args, self.env(), input, timeout=180)

    def credentials(self, province: str, agency: str, role: str = "agency") -> dict[str, str]:
        done = self.cli("credentials", "issue", "--province", province, "--agency", agency, "--role", role)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    async def service_nats(self) -> Client:
        secret = json.loads((self.data_dir / "secrets" / "service.json").read_text())
        return await nats.connect(self.runtime()["nats_url"], user=secret["user"], password=secret["password"],
                                  inbox_prefix=SERVICES_INBOX_PREFIX)

    def reader(self, province: str = "ha-tinh") -> dict[str, str]:
        """Headers of a read with an auditor's credential of `province`."""
        if province not in self.tokens:
            self.tokens[province] = self.credentials(province, "thanh-tra-tinh", role="auditor")["token"]
        return {"authorization": f"Bearer {self.tokens[province]}"}

    def get(self, path: str, *, province: str | None = None, timeout: float = 30, **params: Any) -> httpx.Response:
        """GET `path` as an auditor of the province `province=` names (default ha-tinh), which is
        also sent as a query parameter; `params` (e.g. `from_` for `from`) as the query."""
        query = {k.rstrip("_"): v for k, v in params.items()}
        if province is not None:
            query["province"] = province
        return httpx.get(f"{self.http}{path}", params=query, headers=self.reader(province or "ha-tinh"),
                         timeout=timeout)

    def progress(self) -> dict[str, int]:
        """The last applied stream sequence of each projection consumer, from /healthz."""
        found = httpx.get(f"{self.http}/healthz", headers=self.reader(), timeout=5).json()["projections"]
        return {k: int(v) for k, v in found.items()}

    def checkpoint(self) -> int:
        """How far the read models are projected (one projection consumer; with partitions a province
        unit's checkpoint is the last message of its own province: see `partitions_caught_up`)."""
        progress = self.progress()
        if "projector_v1" not in progress and "audit_v1" in progress:
            raise AssertionError("partitioned projection: wait with partitions_caught_up")
        return progress.get("projector_v1", 0)

    def partitions_caught_up(self, last_seq: int, ends: dict[str, int]) -> bool:
        """With partitions: the audit unit has reached `last_seq` and each province's unit the last
        message of its province (`ends`, from `province_ends`)."""
        progress = self.progress()
        return progress.get("audit_v1", 0) >= last_seq and all(
            progress.get(f"projector_v1_{province}", 0) >= seq for province, seq in ends.items())

    def wait_projected(self, seq: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.checkpoint() < seq:
            if time.monotonic() > deadline:
                raise AssertionError(f"projection did not reach {seq} (at {self.checkpoint()})")
            time.sleep(0.05)


async def province_ends(nc: Client) -> dict[str, int]:
    """The stream sequence of each province's last message, read from DOINGOAI_EVENTS itself."""
    info = await nc.jetstream().stream_info(EVENTS_STREAM, subjects_filter="doingoai.events.*.>")
    provinces = {subject.split(".")[2] for subject in info.state.subjects or {}}
    ends = {}
    for province in sorted(p for p in provinces if is_province(p)):
        reply = await nc.request(f"$JS.API.STREAM.MSG.GET.{EVENTS_STREAM}",
                                 json.dumps({"last_by_subj": province_filter(province)}).encode(), timeout=5)
        ends[province] = int(json.loads(reply.data)["message"]["seq"])
    return ends


def nats_options(creds: dict[str, str]) -> dict[str, str]:
    """`nats.connect` keyword arguments for issued credentials: the user, its password and its own
    inbox prefix (the only one its NATS user may subscribe to)."""
    return {"user": creds["nats_user"], "password": creds["nats_password"], "inbox_prefix": creds["nats_inbox_prefix"]}


def new_system(tmp: Path, **env: str) -> System:
    return System(tmp / f"data-{uuid.uuid4().hex[:6]}", free_port(), env_extra=env, from_template=True)


@contextmanager
def demo_system(base: Path, **env: str) -> Iterator[tuple[System, dict[str, Any]]]:
    """A system of its own loaded by `doingoai demo`, every event projected, and the demo's summary; the
    system is stopped however the tests using it end."""
    system = new_system(base, **env).start()
    try:
        done = system.cli("demo")
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        system.wait_projected(summary["events"])
        yield system, summary
    finally:
        system.stop()


def sample(name: str, province: str = "ha-tinh", agency: str = "so-ngoai-vu", aggregate_id: str | None = None,
           data: dict[str, Any] | None = None, **overrides: Any) -> CloudEvent:
    """A valid event of type `name` built from its schema example, with `data`/`overrides` applied."""
    et = max((et for (n, _), et in registry().items() if n == name), key=lambda et: et.version)
    payload = et.model.model_validate({**example_of(et.model), **(data or {}), **overrides})
    return new_event(payload, province=province, agency=agency, aggregate_id=aggregate_id or uuid.uuid4().hex,
                     time=datetime.now(UTC))


@contextmanager
def bare_nats_server(base: Path) -> Iterator[str]:
    """A nats-server of its own with JetStream syncing every write, as the embedded one does; its URL."""
    port = free_port()
    conf = base / "nats.conf"
    conf.write_text(f'listen: 127.0.0.1:{port}\njetstream {{ store_dir: "{base / "js"}", sync_interval: always }}\n')
    proc = subprocess.Popen([nats_server_binary(), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if is_listening(port):
                break
            if proc.poll() is not None:
                raise RuntimeError("nats-server exited")
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        stop_process(proc)


OIDC_PROVIDER_DIR = Path(__file__).parent / "oidc"
OIDC_CLIENT_ID = "doingoai-ha-tinh"


@contextmanager
def oidc_provider(base: Path, client_id: str, client_secret: str, redirect_uri: str) -> Iterator[str]:
    """A real OpenID provider (tests/oidc/provider.js, panva's oidc-provider on Node.js) with one client;
    its issuer URL. Stopped on the way out, whatever happened."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node (Node.js 18 or later) is needed to run the OpenID provider of the tests: "
                           "install nodejs and npm, then ./scripts/bootstrap test")
    if not (OIDC_PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("tests/oidc/node_modules is missing: ./scripts/bootstrap test installs it (npm ci)")
    port = free_port()
    base.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PORT": str(port), "CLIENT_ID": client_id, "CLIENT_SECRET": client_secret,
           "REDIRECT_URI": redirect_uri}
    with (base / "oidc-provider.log").open("ab") as log:
        proc = subprocess.Popen([node, str(OIDC_PROVIDER_DIR / "provider.js")], cwd=OIDC_PROVIDER_DIR, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            if is_listening(port):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"the OpenID provider exited; see {base / 'oidc-provider.log'}")
            time.sleep(0.05)
        else:
            raise RuntimeError("the OpenID provider did not listen within 15 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)
